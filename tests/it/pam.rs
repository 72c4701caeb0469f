//! `pam_sekimori.so` through the real libpam: Debian's `pamtester` loads the built module
//! from a service file in /etc/pam.d, the module reaches a real gateway process on
//! 127.0.0.1, and the codes come from `oathtool`. Needs root (the service file, and the
//! credential file must be owned by root); `tests/run.sh` builds the module first.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::process::Gateway;
use crate::support::{Env, text};
use crate::totp::oathtool;

/// The module built by `cargo build -p pam_sekimori`, beside the test binary's directory;
/// or, with `SEKIMORI_PAM_INSTALLED=1` (tests/deb.sh), the bare name `pam_sekimori.so`, which
/// libpam finds only where the Debian package installed it.
pub fn module_path() -> PathBuf {
    if std::env::var_os("SEKIMORI_PAM_INSTALLED").is_some_and(|v| v == "1") {
        return PathBuf::from("pam_sekimori.so");
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let so = dir.join("libpam_sekimori.so");
    assert!(
        so.exists(),
        "{} is missing: build the PAM module first (`cargo build -p pam_sekimori`; tests/run.sh does)",
        so.display()
    );
    so
}

pub fn require_root() {
    let id = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&id.stdout).trim(),
        "0",
        "the PAM tests install a service file in /etc/pam.d and need root (CI runs as root)"
    );
}

/// A PAM service in /etc/pam.d that loads the module with its own pam.toml; removed on drop.
pub struct PamService {
    pub name: String,
    pub dir: tempfile::TempDir,
}

impl PamService {
    /// `stack` is the auth lines; `{module}` and `{conf}` are filled in.
    pub fn new(label: &str, gateway_url: &str, device: &str, credential: &str, mode: &str) -> Self {
        Self::with_stack(
            label,
            gateway_url,
            device,
            credential,
            mode,
            "auth required {module} config={conf}\naccount required pam_permit.so\n",
        )
    }

    pub fn with_stack(
        label: &str,
        gateway_url: &str,
        device: &str,
        credential: &str,
        mode: &str,
        stack: &str,
    ) -> Self {
        require_root();
        let dir = tempfile::tempdir().unwrap();
        let cred = dir.path().join("device.credential");
        std::fs::write(&cred, format!("{credential}\n")).unwrap();
        std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o600)).unwrap();
        let conf = dir.path().join("pam.toml");
        std::fs::write(
            &conf,
            format!(
                "gateway_url = \"{gateway_url}\"\ndevice_id = \"{device}\"\ncredential_file = \"{}\"\nmode = \"{mode}\"\nconnect_timeout_ms = 500\ntimeout_ms = 3000\n",
                cred.display()
            ),
        )
        .unwrap();
        let name = format!("sekimori-it-{label}-{}", std::process::id());
        let body = stack
            .replace("{module}", &module_path().display().to_string())
            .replace("{conf}", &conf.display().to_string());
        std::fs::write(Path::new("/etc/pam.d").join(&name), body).unwrap();
        Self { name, dir }
    }

    /// `pamtester SERVICE USER authenticate` with `answers` on standard input: success, and
    /// what it printed.
    pub fn authenticate(&self, user: &str, answers: &[&str]) -> (bool, String) {
        let mut child = Command::new("pamtester")
            .args(["-v", &self.name, user, "authenticate"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pamtester must be installed (tests/run.sh installs it)");
        {
            let mut pipe = child.stdin.take().unwrap();
            for a in answers {
                writeln!(pipe, "{a}").unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        let said = text(&out);
        (said.contains("successfully authenticated"), said)
    }
}

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(Path::new("/etc/pam.d").join(&self.name));
    }
}

/// A staff account with a confirmed TOTP factor, enrolled through the real gateway; its
/// secret, and the time whose step the confirmation spent.
pub fn totp_account(gw: &Gateway, env: &Env, name: &str) -> (String, DateTime<Utc>) {
    let done = gw.enrol(env, name, &[], "portal");
    let cookie = done.cookie();
    let begin = gw.post("/api/v1/factors/totp", &[("cookie", &cookie)], &json!({}));
    assert_eq!(begin.status, 200, "{}", begin.body);
    let secret = begin.json()["secret"].as_str().unwrap().to_owned();
    let at = Utc::now();
    let confirm = gw.post(
        "/api/v1/factors/totp/confirm",
        &[("cookie", &cookie)],
        &json!({
            "enrolment_id": begin.json()["enrolment_id"],
            "code": oathtool(&secret, at),
            "label": "phone",
        }),
    );
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    (secret, at)
}

/// A local account (for sshd, pam_unix and pam_succeed_if), with `password`.
pub fn local_user(user: &str, password: &str) {
    let exists = Command::new("id")
        .arg(user)
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        let out = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", user])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let mut c = Command::new("chpasswd")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(c.stdin.take().unwrap(), "{user}:{password}").unwrap();
    assert!(c.wait().unwrap().success());
}

/// A registered device and its credential, through the real CLI.
pub fn register(env: &Env, name: &str, kind: &str) -> String {
    let out = env.run(&["device", "add", name, "--kind", kind], None);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned()
}

/// A code of none of the steps around `at`.
fn wrong_code(secret: &str, at: DateTime<Utc>) -> String {
    let near: Vec<String> = (-2..=2)
        .map(|k| oathtool(secret, at + Duration::seconds(30 * k)))
        .collect();
    (0..)
        .map(|i| format!("{:06}", 111_111 * (i % 9 + 1)))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// Collects what the module writes to syslog, while /dev/log is otherwise free (a container
/// without a syslog daemon).
struct Syslog {
    lines: Arc<Mutex<Vec<String>>>,
    bound: bool,
}

impl Syslog {
    fn listen() -> Self {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let Ok(sock) = UnixDatagram::bind("/dev/log") else {
            return Self {
                lines,
                bound: false,
            };
        };
        let sink = lines.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        Self { lines, bound: true }
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

impl Drop for Syslog {
    fn drop(&mut self) {
        if self.bound {
            let _ = std::fs::remove_file("/dev/log");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pamtester_codes_replays_lockout_and_a_stopped_gateway() {
    require_root();
    let log = Syslog::listen();
    let env = Env::new();
    let mut gw = Gateway::start(&env, &[]);
    let url = format!("http://127.0.0.1:{}", gw.port);
    let (secret_a, enrolled_a) = totp_account(&gw, &env, "pam-nurse");
    let (secret_b, _) = totp_account(&gw, &env, "pam-clerk");
    let credential = register(&env, "srv-emr-1", "server");
    let pam = PamService::new("code", &url, "srv-emr-1", &credential, "second_factor");

    // The step after the enrolment's own: a fresh code from oathtool is accepted.
    let code = oathtool(&secret_a, enrolled_a + Duration::seconds(30));
    let (ok, said) = pam.authenticate("pam-nurse", &[&code]);
    assert!(ok, "{said}");
    assert!(said.contains("確認コード / Verification code:"), "{said}");

    // The same code again: refused by the replay guard, with the answer a wrong code gets (it
    // must not confirm that the code was valid); the audit log tells them apart.
    let (ok, replayed) = pam.authenticate("pam-nurse", &[&code]);
    assert!(!ok, "{replayed}");
    assert!(
        replayed.contains("確認コードが正しくないか、使用済みです"),
        "{replayed}"
    );

    // A wrong code: the same words.
    let wrong = wrong_code(&secret_a, Utc::now());
    let (ok, said) = pam.authenticate("pam-nurse", &[&wrong]);
    assert!(!ok, "{said}");
    assert_eq!(said, replayed);

    // Six wrong codes: the fifth locks the second factor, the sixth is refused as locked.
    let wrong = wrong_code(&secret_b, Utc::now());
    for i in 1..=6 {
        let (ok, said) = pam.authenticate("pam-clerk", &[&wrong]);
        assert!(!ok, "attempt {i}: {said}");
        if i >= 5 {
            assert!(said.contains("temporarily locked"), "attempt {i}: {said}");
        }
    }
    // Locked: even the right code is refused now.
    let right = oathtool(&secret_b, Utc::now() + Duration::seconds(30));
    let (ok, said) = pam.authenticate("pam-clerk", &[&right]);
    assert!(!ok, "{said}");

    // A wrong device credential: refused before any code is looked at.
    let forged = PamService::new(
        "forged",
        &url,
        "srv-emr-1",
        &"A".repeat(43),
        "second_factor",
    );
    let (ok, said) = forged.authenticate("pam-nurse", &["123456"]);
    assert!(!ok, "{said}");
    assert!(said.contains("unavailable"), "{said}");

    // Everything is in the audit log, attributed to the device.
    let state = env.state().await;
    let rows = |subject: &str| {
        let state = state.clone();
        let subject = subject.to_owned();
        async move {
            state
                .stores
                .audit
                .query_audit(&sekimori::store::AuditQuery {
                    subject: Some(subject),
                    ..Default::default()
                })
                .await
                .unwrap()
        }
    };
    let nurse = rows("pam-nurse").await;
    let success = nurse
        .iter()
        .find(|r| {
            r.event.kind.as_str() == "login_attempt"
                && r.event.outcome.as_str() == "success"
                && r.event.detail["channel"] == "pam"
        })
        .expect("the PAM sign-in is audited");
    let d = &success.event.detail;
    assert_eq!(success.event.device.as_deref(), Some("srv-emr-1"));
    assert_eq!(d["channel"], "pam", "{d}");
    assert_eq!(d["system"], "device:srv-emr-1", "{d}");
    assert!(d["amr"].as_array().unwrap().contains(&json!("otp")), "{d}");
    assert!(
        nurse
            .iter()
            .any(|r| r.event.detail["reason"] == "code_already_used"),
        "the replay is audited"
    );
    let clerk = rows("pam-clerk").await;
    let locked = clerk
        .iter()
        .find(|r| r.event.kind.as_str() == "account_locked")
        .expect("the lock is audited");
    assert_eq!(locked.event.detail["scope"], "second_factor");
    assert_eq!(locked.event.device.as_deref(), Some("srv-emr-1"));
    assert!(
        clerk
            .iter()
            .any(|r| r.event.kind.as_str() == "login_blocked"),
        "the attempts after the lock are audited as blocked"
    );
    let device_rows = rows("device:srv-emr-1").await;
    assert!(
        device_rows
            .iter()
            .any(|r| r.event.kind.as_str() == "device_auth_failed"
                && r.event.detail["reason"] == "wrong_credential"),
        "the forged credential is audited"
    );
    let seen = state.devices.find("srv-emr-1").await.unwrap();
    assert!(seen.last_seen_at.is_some(), "last contact recorded");

    // The gateway stopped: refused (fail closed), and syslog says why.
    crate::process::stop(&mut gw.child);
    let code = oathtool(&secret_a, Utc::now() + Duration::seconds(30));
    let (ok, said) = pam.authenticate("pam-nurse", &[&code]);
    assert!(!ok, "{said}");
    assert!(said.contains("Cannot reach the sign-in service"), "{said}");
    if log.bound {
        let logged = log.text();
        assert!(
            logged.contains("sekimori: allowed (user=pam-nurse"),
            "{logged}"
        );
        assert!(logged.contains("denied: invalid_code"), "{logged}");
        assert!(
            logged.contains("refused this device's credential"),
            "{logged}"
        );
        assert!(
            logged.contains("gateway unreachable at http://127.0.0.1"),
            "{logged}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn password_and_code_mode_checks_the_gateway_password_first() {
    require_root();
    let env = Env::new();
    let gw = Gateway::start(&env, &[]);
    let url = format!("http://127.0.0.1:{}", gw.port);
    let (secret, enrolled) = totp_account(&gw, &env, "pam-doctor");
    let credential = register(&env, "term-ward-3", "terminal");
    let pam = PamService::new("pwd", &url, "term-ward-3", &credential, "password_and_code");
    let code = oathtool(&secret, enrolled + Duration::seconds(30));

    let (ok, said) = pam.authenticate("pam-doctor", &["not-the-password", &code]);
    assert!(!ok, "{said}");
    assert!(said.contains("パスワード / Password:"), "{said}");
    let (ok, said) = pam.authenticate("pam-doctor", &[crate::gateway::PASSWORD, &code]);
    assert!(ok, "{said}");

    // A credential file others can read: the module refuses to run.
    std::fs::set_permissions(
        pam.dir.path().join("device.credential"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let code = oathtool(&secret, Utc::now() + Duration::seconds(30));
    let (ok, said) = pam.authenticate("pam-doctor", &[crate::gateway::PASSWORD, &code]);
    assert!(!ok, "{said}");
    assert!(said.contains("misconfigured"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_break_glass_account_skips_the_code_and_its_use_is_recorded() {
    require_root();
    let user = "sekimori-emergency";
    local_user(user, "emergency-Pa55-sealed");
    let env = Env::new();
    let mut gw = Gateway::start(&env, &[]);
    let credential = register(&env, "srv-bg-1", "server");
    // The documented pattern: the local password (pam_unix there, pam_permit here), then
    // pam_succeed_if skips the code for the emergency account, and a session line reports
    // its use.
    let stack = format!(
        "auth requisite pam_permit.so\n\
         auth [success=1 default=ignore] pam_succeed_if.so user = {user} quiet\n\
         auth required {{module}} config={{conf}}\n\
         account required pam_permit.so\n\
         session [success=ignore default=1] pam_succeed_if.so user = {user} quiet\n\
         session optional {{module}} config={{conf}} break_glass\n"
    );
    let pam = PamService::with_stack(
        "breakglass",
        &format!("http://127.0.0.1:{}", gw.port),
        "srv-bg-1",
        &credential,
        "second_factor",
        &stack,
    );
    let session = |pam: &PamService| {
        let out = Command::new("pamtester")
            .args(["-v", &pam.name, user, "authenticate", "open_session"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.success(), text(&out))
    };
    let (ok, said) = session(&pam);
    assert!(ok, "{said}");
    assert!(!said.contains("Verification code"), "no code asked: {said}");
    let state = env.state().await;
    let rows = state
        .stores
        .audit
        .query_audit(&sekimori::store::AuditQuery {
            kind: Some("break_glass_used".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].event.subject.as_deref(), Some(user));
    assert_eq!(rows[0].event.device.as_deref(), Some("srv-bg-1"));
    assert_eq!(rows[0].event.detail["severity"], "critical");
    // The same open use as a web break-glass sign-in: the consoles' banner shows it.
    let open = state.emergency.uses(true).await.unwrap();
    assert_eq!(
        (
            open[0].username.as_str(),
            open[0].channel.as_str(),
            open[0].device.as_deref()
        ),
        (user, "pam", Some("srv-bg-1"))
    );

    // Anyone else still needs the code; a name the gateway cannot hold is a plain refusal.
    let (ok, said) = pam.authenticate("pam-nobody", &["123456"]);
    assert!(!ok && said.contains("Verification code"), "{said}");
    let (ok, said) = pam.authenticate("no body", &["123456"]);
    assert!(!ok && said.contains("Authentication failed"), "{said}");

    // The gateway down: the emergency account still gets in.
    crate::process::stop(&mut gw.child);
    let (ok, said) = session(&pam);
    assert!(ok, "{said}");
}
