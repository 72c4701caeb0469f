//! Real OpenSSH: `sshd` on 127.0.0.1 with a test host key, `UsePAM yes` and
//! `AuthenticationMethods publickey,keyboard-interactive`, the documented PAM stack
//! (`pam_unix` then `pam_sekimori.so`), and Python `paramiko` as the client answering the
//! keyboard-interactive prompts with the local password and an `oathtool` code, or, in the
//! device flow, with Enter once the code it was shown is approved with a security key.

use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};

use crate::pam::{PamService, local_user, register, require_root, totp_account};
use crate::process::{Gateway, free_port};
use crate::support::Env;
use crate::totp::oathtool;

const USER: &str = "ssh-nurse";
const LOCAL_PASSWORD: &str = "local-Pa55-for-ssh";

const CLIENT: &str = r#"
import re, sys, paramiko
port, user, keyfile, password, code = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
t = paramiko.Transport(("127.0.0.1", int(port)))
t.start_client(timeout=10)
key = paramiko.Ed25519Key.from_private_key_file(keyfile)
rest = t.auth_publickey(user, key)
print("after publickey:", rest)
seen = []
def answer(title, instructions, prompts):
    out = []
    for text, echo in prompts:
        seen.append(text)
        shown = re.search(r"Code: ([A-Z]{4}-[A-Z]{4})", text)
        if shown:
            print("CODE", shown.group(1), flush=True)
            out.append("")
        else:
            out.append(code if "Verification code" in text else password)
    return out
try:
    t.auth_interactive(user, answer)
    print("prompts:", seen)
    print("AUTH OK" if t.is_authenticated() else "AUTH FAILED")
except paramiko.AuthenticationException as e:
    print("prompts:", seen)
    print("AUTH FAILED:", e)
t.close()
"#;

struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        crate::support::text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// sshd whose PAM service is `service` (sshd names its PAM service after the name it was
/// started as, so it runs through a link of that name).
fn sshd(service: &str) -> Sshd {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f).display().to_string();
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f", &p("host_key")]));
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f", &p("client_key")]));
    std::fs::copy(p("client_key.pub"), p("authorized_keys")).unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let port = free_port();
    std::fs::write(
        p("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nStrictModes no\nUsePAM yes\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication yes\nAuthenticationMethods publickey,keyboard-interactive\nPermitRootLogin no\nLogLevel VERBOSE\n",
            p("host_key"),
            p("sshd.pid"),
            p("authorized_keys"),
        ),
    )
    .unwrap();
    let link = dir.path().join(service);
    std::os::unix::fs::symlink("/usr/sbin/sshd", &link).unwrap();
    let child = Command::new(&link)
        .args(["-D", "-e", "-f", &p("sshd_config")])
        .stdout(Stdio::null())
        // A file, not a pipe nobody reads: sshd must never block on its own log.
        .stderr(std::fs::File::create(p("sshd.log")).unwrap())
        .spawn()
        .expect("sshd must be installed (tests/run.sh installs openssh-server)");
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not start");
        std::thread::sleep(StdDuration::from_millis(50));
    }
    Sshd { child, dir, port }
}

fn paramiko(sshd: &Sshd, password: &str, code: &str) -> String {
    let out = client(sshd, USER, password, code)
        .output()
        .expect("python3 with paramiko (tests/run.sh installs python3-paramiko)");
    crate::support::text(&out)
}

/// The paramiko client for `user`. A device-flow prompt is answered with an empty line after
/// the code it shows is printed (`CODE XXXX-XXXX`), for the test to approve.
fn client(sshd: &Sshd, user: &str, password: &str, code: &str) -> Command {
    let key = sshd.dir.path().join("client_key").display().to_string();
    let mut c = Command::new("/usr/bin/python3");
    c.args([
        "-c",
        CLIENT,
        &sshd.port.to_string(),
        user,
        &key,
        password,
        code,
    ]);
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn openssh_with_publickey_then_password_and_code() {
    require_root();
    local_user(USER, LOCAL_PASSWORD);
    let env = Env::new();
    let gw = Gateway::start(&env, &[]);
    let url = format!("http://127.0.0.1:{}", gw.port);
    let (secret, enrolled) = totp_account(&gw, &env, USER);
    let credential = register(&env, "srv-ssh-1", "server");
    let pam = PamService::with_stack(
        "ssh",
        &url,
        "srv-ssh-1",
        &credential,
        "second_factor",
        "auth requisite pam_unix.so\nauth required {module} config={conf}\naccount required pam_permit.so\nsession required pam_permit.so\n",
    );
    let server = sshd(&pam.name);

    let wrong = if oathtool(&secret, Utc::now()) == "000000" {
        "999999"
    } else {
        "000000"
    };
    let said = paramiko(&server, LOCAL_PASSWORD, wrong);
    assert!(said.contains("AUTH FAILED"), "{said}");
    assert!(said.contains("確認コード / Verification code:"), "{said}");

    let code = oathtool(&secret, enrolled + Duration::seconds(30));
    let said = paramiko(&server, LOCAL_PASSWORD, &code);
    assert!(
        said.contains("after publickey: ['keyboard-interactive']"),
        "{said}"
    );
    assert!(
        said.contains("AUTH OK"),
        "{said}\nsshd: {}",
        std::fs::read_to_string(server.dir.path().join("sshd.log")).unwrap_or_default()
    );

    // A wrong local password stops at pam_unix: the code is never asked for.
    let said = paramiko(&server, "not-the-password", &code);
    assert!(said.contains("AUTH FAILED"), "{said}");
    assert!(!said.contains("Verification code"), "{said}");

    let state = env.state().await;
    let rows = state
        .stores
        .audit
        .query_audit(&sekimori::store::AuditQuery {
            subject: Some(USER.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let ok = rows
        .iter()
        .find(|r| r.event.detail["channel"] == "pam" && r.event.outcome.as_str() == "success")
        .expect("the SSH sign-in is audited");
    assert_eq!(ok.event.ip.as_deref(), Some("127.0.0.1"), "PAM_RHOST");
    assert_eq!(ok.event.detail["zone"], "external");
}

/// The device flow over SSH: after the local password, the module's prompt carries a code;
/// the test approves it with a software security key through the gateway's approval API
/// (as `/device` does), and paramiko's session is let in.
#[tokio::test(flavor = "multi_thread")]
async fn openssh_device_flow_approved_with_a_security_key() {
    use std::io::BufRead as _;
    use webauthn_authenticator_rs::WebauthnAuthenticator as _;
    use webauthn_authenticator_rs::softtoken::SoftToken;

    require_root();
    let user = "ssh-keyholder";
    local_user(user, LOCAL_PASSWORD);
    let env = Env::new();
    let gw = Gateway::start(&env, &[]);
    let cookie = gw.enrol(&env, user, &[], "portal").cookie();
    let (mut key, _) = SoftToken::new(false).unwrap();
    let begin = gw.post(
        "/api/v1/factors/webauthn",
        &[("cookie", &cookie)],
        &serde_json::json!({"kind": "security_key"}),
    );
    assert_eq!(begin.status, 200, "{}", begin.body);
    let ccr = serde_json::from_value(begin.json()["options"].clone()).unwrap();
    let cred = key.do_registration(crate::webauthn::origin(), ccr).unwrap();
    let done = gw.post(
        "/api/v1/factors/webauthn/confirm",
        &[("cookie", &cookie)],
        &serde_json::json!({"registration_id": begin.json()["registration_id"], "credential": cred}),
    );
    assert_eq!(done.status, 200, "{}", done.body);

    let credential = register(&env, "srv-ssh-flow", "server");
    let pam = PamService::with_stack(
        "sshflow",
        &format!("http://127.0.0.1:{}", gw.port),
        "srv-ssh-flow",
        &credential,
        "device_flow",
        "auth requisite pam_unix.so\nauth required {module} config={conf}\naccount required pam_permit.so\nsession required pam_permit.so\n",
    );
    let server = sshd(&pam.name);
    let mut child = client(&server, user, LOCAL_PASSWORD, "-")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let code = loop {
        let line = lines
            .next()
            .expect("paramiko ended before a code was shown")
            .unwrap();
        seen.push(line.clone());
        if let Some(c) = line.strip_prefix("CODE ") {
            break c.to_owned();
        }
    };
    let c = gw.post(
        "/api/v1/device/challenge",
        &[],
        &serde_json::json!({"user_code": code}),
    );
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.json()["pending"]["username"], user);
    assert_eq!(c.json()["pending"]["device"], "srv-ssh-flow");
    assert_eq!(
        c.json()["pending"]["from"],
        "127.0.0.1",
        "the SSH client's address"
    );
    let options = serde_json::from_value(c.json()["options"].clone()).unwrap();
    let assertion = key
        .do_authentication(crate::webauthn::origin(), options)
        .unwrap();
    let a = gw.post(
        "/api/v1/device/approve",
        &[],
        &serde_json::json!({"user_code": code, "webauthn": assertion}),
    );
    assert_eq!(a.json()["result"], "allow", "{}", a.body);
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let _ = child.wait();
    let said = format!("{}\n{}", seen.join("\n"), rest.join("\n"));
    assert!(said.contains("AUTH OK"), "{said}");
    assert!(
        said.contains("/device"),
        "the prompt names the portal: {said}"
    );
}
