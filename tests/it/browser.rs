//! The real browser: Debian `chromium` driven by `playwright-core` (tests/e2e) with Chrome's
//! virtual authenticators, against a real gateway process. An administrator enrols a roaming
//! security key before the first session and signs in with it; a nurse registers a passkey on
//! a platform authenticator and signs in with it alone. The gateway's audit log must show it.

use std::process::Command;

use crate::process::Gateway;
use crate::support::{Env, text};

pub fn node_modules_ready() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci --prefix tests/e2e` first (tests/run.sh does)"
    );
    dir
}

/// Run a browser script with `vars`; its JSON summary. A failed run panics with the summary,
/// the script's stderr and the newest audit rows.
pub fn browser_run(
    env: &Env,
    e2e: &std::path::Path,
    script: &str,
    vars: &[(&str, &str)],
) -> serde_json::Value {
    let mut cmd = Command::new("node");
    cmd.arg(e2e.join(script)).current_dir(e2e);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .expect("node must be installed (tests/run.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no summary from the browser run:\n{}", text(&out)));
    if summary["ok"] != true || !out.status.success() {
        let export = env.run(&["audit", "export", "--format", "jsonl"], None);
        let log = String::from_utf8_lossy(&export.stdout);
        let tail: Vec<&str> = log.lines().rev().take(8).collect();
        panic!(
            "{summary:#}\n{}\naudit tail: {tail:#?}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    summary
}

/// A gateway whose public URL is `http://localhost:PORT` (a secure context for WebAuthn
/// without TLS), plus `vars`; and that URL.
pub fn on_localhost(env: &Env, vars: &[(&str, &str)]) -> (Gateway, String) {
    let port = crate::process::free_port();
    let url = format!("http://localhost:{port}");
    let mut all = vec![("SEKIMORI__SERVER__PUBLIC_URL", url.as_str())];
    all.extend_from_slice(vars);
    (Gateway::start_on(env, port, &all), url)
}

/// The names of the steps a run reported.
pub fn steps(summary: &serde_json::Value) -> Vec<String> {
    summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn webauthn_in_chromium() {
    let e2e = node_modules_ready();
    let env = Env::new();
    let (gw, url) = on_localhost(&env, &[]);
    let first = crate::gateway::FIRST;
    let add = env.run(
        &[
            "user",
            "add",
            "browser-admin",
            "--display-name",
            "情報 太郎",
            "--type",
            "admin",
            "--role",
            "it_admin",
            "--password-stdin",
        ],
        Some(format!("{first}\n").as_bytes()),
    );
    assert!(add.status.success(), "{}", text(&add));
    gw.enrol(&env, "browser-nurse", &[], "portal");

    let summary = browser_run(
        &env,
        &e2e,
        "webauthn.mjs",
        &[
            ("GATEWAY", url.as_str()),
            ("ADMIN", "browser-admin"),
            ("NURSE", "browser-nurse"),
            ("PASSWORD", crate::gateway::PASSWORD),
            ("FIRST", first),
        ],
    );
    let steps = steps(&summary);
    assert_eq!(
        steps,
        [
            "admin_enrolled",
            "admin_signed_in_with_key",
            "nurse_registered_passkey",
            "nurse_passwordless"
        ]
    );

    // The gateway recorded the enrolments and the sign-ins.
    let export = env.run(&["audit", "export", "--format", "jsonl"], None);
    let log = String::from_utf8_lossy(&export.stdout);
    let enrolled = log
        .lines()
        .filter(|l| l.contains("\"factor_enrolled\"") && l.contains("\"success\""))
        .count();
    assert_eq!(enrolled, 2, "{log}");
    assert!(log.contains("\"passwordless\":true"), "{log}");
    drop(gw);
}

/// A deployment policy that asks every session for two factor kinds (a clinic that wants
/// two-factor sign-in everywhere, not only at terminals and servers).
const TWO_FACTORS_EVERYWHERE: &str = r#"
@id("clinic-two-factor-everywhere")
@outcome("second_factor_required")
@satisfy("possession,inherence")
forbid (principal, action == Sekimori::Action::"issue_session", resource)
when { context.factor_kind_count < 2 };
"#;

#[test]
fn portal_in_chromium() {
    let e2e = node_modules_ready();
    let env = Env::new();
    let policies = env.dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(policies.join("clinic.cedar"), TWO_FACTORS_EVERYWHERE).unwrap();
    let (gw, url) = on_localhost(
        &env,
        &[("SEKIMORI__POLICY__DIR", policies.to_str().unwrap())],
    );
    let first = crate::gateway::FIRST;
    for (name, role) in [
        ("portal-nurse", "nurse"),
        ("portal-key", "nurse"),
        ("portal-locked", "nurse"),
        ("portal-auditor", "auditor"),
        ("portal-admin", "it_admin"),
        ("portal-english", "nurse"),
    ] {
        let add = env.run(
            &[
                "user",
                "add",
                name,
                "--display-name",
                "看護 花子",
                "--role",
                role,
                "--password-stdin",
            ],
            Some(format!("{first}\n").as_bytes()),
        );
        assert!(add.status.success(), "{}", text(&add));
    }

    // The key user has chosen a password already; the enrolment is left to the browser.
    let step = gw.post(
        "/api/v1/login",
        &[],
        &serde_json::json!({"username": "portal-key", "password": first}),
    );
    let done = gw.post(
        "/api/v1/login",
        &[],
        &serde_json::json!({"flow_id": step.json()["flow_id"], "new_password": crate::gateway::PASSWORD}),
    );
    assert_eq!(
        done.json()["outcome"],
        "enrolment_required",
        "{}",
        done.body
    );

    let summary = browser_run(
        &env,
        &e2e,
        "portal.mjs",
        &[
            ("GATEWAY", url.as_str()),
            ("NURSE", "portal-nurse"),
            ("KEYUSER", "portal-key"),
            ("LOCKED", "portal-locked"),
            ("AUDITOR", "portal-auditor"),
            ("ADMIN", "portal-admin"),
            ("ENGLISH_USER", "portal-english"),
            ("PASSWORD", crate::gateway::PASSWORD),
            ("FIRST", first),
        ],
    );
    let steps = steps(&summary);
    assert_eq!(
        steps,
        [
            "strength_meter",
            "nurse_enrolled_totp",
            "nurse_signed_in_with_totp",
            "key_enrolled",
            "key_signed_in",
            "locked_page",
            "locked_page",
            "auditor_filtered_and_exported",
            "admin_unlocked"
        ]
    );
    let export = env.run(&["audit", "export", "--format", "jsonl"], None);
    let log = String::from_utf8_lossy(&export.stdout);
    assert!(log.contains("\"account_locked\""), "the lock is audited");
    // Who unlocked, and why.
    let unlocked = log
        .lines()
        .find(|l| l.contains("\"account_unlocked\""))
        .expect("the unlock is audited");
    assert!(unlocked.contains("account:portal-admin"), "{unlocked}");
    assert!(unlocked.contains("本人確認のうえ解除"), "{unlocked}");
    drop(gw);
}

/// The PAM device flow: pamtester with pam_sekimori.so in device-flow mode, approved (and
/// once refused) on the portal's /device page with a virtual security key. Needs root for
/// the PAM service file, like the other PAM tests.
#[test]
fn device_flow_in_chromium() {
    let e2e = node_modules_ready();
    crate::pam::require_root();
    let env = Env::new();
    let (gw, url) = on_localhost(&env, &[]);
    gw.enrol(&env, "key-nurse", &[], "portal");
    let credential = crate::pam::register(&env, "srv-no-key", "server");
    let _ = crate::pam::register(&env, "ward-pc-3", "terminal");
    let out = env.run(&["device", "enrolment-link", "ward-pc-3"], None);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let link = said
        .lines()
        .find_map(|l| l.find("/terminal/enrol?").map(|i| l[i..].trim().to_owned()))
        .expect("an enrolment link");
    let pam = crate::pam::PamService::new(
        "device",
        &format!("http://127.0.0.1:{}", gw.port),
        "srv-no-key",
        &credential,
        "device_flow",
    );
    let summary = browser_run(
        &env,
        &e2e,
        "device.mjs",
        &[
            ("GATEWAY", url.as_str()),
            ("USERNAME", "key-nurse"),
            ("PASSWORD", crate::gateway::PASSWORD),
            ("SERVICE", pam.name.as_str()),
            ("TERMINAL_LINK", link.as_str()),
        ],
    );
    assert_eq!(
        steps(&summary),
        [
            "terminal_registered",
            "key_registered",
            "approved",
            "refused",
            "unknown_code"
        ]
    );
    let export = env.run(&["audit", "export", "--format", "jsonl"], None);
    let log = String::from_utf8_lossy(&export.stdout);
    let approved = log
        .lines()
        .find(|l| l.contains("\"device_flow\"") && l.contains("\"approved\""))
        .expect("the approval is audited");
    assert!(approved.contains("srv-no-key"), "{approved}");
    assert!(approved.contains("approver_ip"), "{approved}");
    assert!(
        log.lines().any(|l| l.contains("\"channel\":\"pam\"")
            && l.contains("\"hwk\"")
            && l.contains("\"success\"")),
        "the sign-in at the server carries the key's methods: {log}"
    );
    assert!(log.contains("denied_by_user"), "the refusal is audited");
    // The browser's sign-in (the latest session; the first was the set-up's) came from the
    // registered terminal: its device, the trusted zone.
    let at_terminal = log
        .lines()
        .rev()
        .find(|l| {
            l.contains("\"login_attempt\"") && l.contains("\"sid\"") && l.contains("key-nurse")
        })
        .expect("the sign-in is audited");
    assert!(
        at_terminal.contains("\"device\":\"ward-pc-3\""),
        "{at_terminal}"
    );
    assert!(
        at_terminal.contains("\"zone\":\"trusted\""),
        "{at_terminal}"
    );
    assert!(log.contains("\"terminal_bound\""));
    drop(gw);
}

/// Step-up at the gate: a real nginx on one origin in front of the gateway's pages and an
/// echoing upstream; a one-factor session reaches /admin/, is asked for its TOTP code, and
/// returns with an upgraded session.
#[test]
fn step_up_in_chromium() {
    let e2e = node_modules_ready();
    let env = Env::new();
    let (gw_port, nginx_port) = (crate::process::free_port(), crate::process::free_port());
    let origin = format!("http://localhost:{nginx_port}");
    std::fs::write(
        env.config_path(),
        env.config_toml(
            "[systems.emr]\nkind = \"web\"\nhosts = [\"localhost\"]\n\
             [[access.rules]]\npaths = [\"/admin\"]\nroles = [\"it_admin\"]\npolicy = \"two_factor\"\n\
             [[access.rules]]\npaths = [\"/admin\"]\npolicy = \"deny\"\n\
             [[access.rules]]\npolicy = \"one_factor\"\n",
        ),
    )
    .unwrap();
    let gw = Gateway::start_on(
        &env,
        gw_port,
        &[("SEKIMORI__SERVER__PUBLIC_URL", origin.as_str())],
    );
    gw.enrol(&env, "step-it", &["--role", "it_admin"], "portal");
    let upstream = crate::process::echo_upstream();
    let dir = tempfile::tempdir().unwrap();
    let _nginx = crate::nginx::start(
        dir.path(),
        nginx_port,
        &crate::nginx::one_origin(dir.path(), nginx_port, gw_port, upstream),
    );
    let summary = browser_run(
        &env,
        &e2e,
        "stepup.mjs",
        &[
            ("ORIGIN", origin.as_str()),
            ("USERNAME", "step-it"),
            ("PASSWORD", crate::gateway::PASSWORD),
        ],
    );
    assert_eq!(
        steps(&summary),
        [
            "signed_in_with_one_factor",
            "asked_for_the_code",
            "upgraded_and_returned"
        ]
    );
    let export = env.run(&["audit", "export", "--format", "jsonl"], None);
    let log = String::from_utf8_lossy(&export.stdout);
    let upgraded = log
        .lines()
        .find(|l| l.contains("\"session_upgraded\""))
        .expect("the upgrade is audited");
    let previous = summary["steps"][2]["previous"].as_str().unwrap();
    assert!(upgraded.contains(previous), "{upgraded}");
    assert!(log.contains("\"step_up_required\""), "{log}");
    drop(gw);
}

#[test]
fn cross_site_in_chromium() {
    let e2e = node_modules_ready();
    let env = Env::new();
    let (gw, url) = on_localhost(&env, &[]);
    gw.enrol(&env, "kanri", &["--role", "it_admin"], "portal");
    gw.enrol(&env, "higaisha", &[], "portal");
    let summary = browser_run(
        &env,
        &e2e,
        "crosssite.mjs",
        &[
            ("ORIGIN", url.as_str()),
            ("USERNAME", "kanri"),
            ("PASSWORD", crate::gateway::PASSWORD),
            ("VICTIM", "higaisha"),
        ],
    );
    assert_eq!(
        steps(&summary),
        [
            "signed_in",
            "refused /disable",
            "refused /logout",
            "refused /fetch",
            "session_survived"
        ]
    );
    let shown = env.run(&["user", "show", "higaisha", "--json"], None);
    let victim: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(victim["status"], "active", "{victim}");
    let export = env.run(&["audit", "export", "--format", "jsonl"], None);
    let log = String::from_utf8_lossy(&export.stdout);
    assert!(
        !log.lines()
            .any(|l| l.contains("account_disabled") || l.contains("logout")),
        "{log}"
    );
}
