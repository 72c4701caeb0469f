//! Administrative commands reaching a running gateway's in-process state through its control
//! socket: unlock, session list and revoke, and disable ending live sessions.

use serde_json::json;

use crate::gateway::PASSWORD;
use crate::process::{Gateway, stop};
use crate::support::{Env, text};

fn login(gw: &Gateway, user: &str, password: &str) -> crate::process::Http {
    gw.post(
        "/api/v1/login",
        &[],
        &json!({ "username": user, "password": password }),
    )
}

#[test]
fn cli_commands_act_on_the_running_gateway() {
    let env = Env::new();
    let mut gw = Gateway::start(&env, &[]);
    let done = gw.enrol(&env, "hayashi", &[], "portal");
    let cookie = done.cookie();
    let sid = done.json()["session"]["sid"].as_str().unwrap().to_owned();

    let list = env.run(&["session", "list", "hayashi"], None);
    assert!(list.status.success(), "{}", text(&list));
    assert!(text(&list).contains(&sid), "{}", text(&list));

    // Lock the account at the gateway, unlock it from the command line.
    for _ in 0..5 {
        assert_eq!(login(&gw, "hayashi", "wrong-wrong-wrong").status, 401);
    }
    assert_eq!(login(&gw, "hayashi", PASSWORD).status, 429);
    let no_reason = env.run(&["user", "unlock", "hayashi", "--reason", " "], None);
    assert_eq!(no_reason.status.code(), Some(2));
    let unlock = env.run(
        &[
            "--lang",
            "en",
            "user",
            "unlock",
            "hayashi",
            "--reason",
            "called the ward, identity checked",
        ],
        None,
    );
    assert!(unlock.status.success(), "{}", text(&unlock));
    assert!(
        text(&unlock).contains("1 zone(s) were locked"),
        "{}",
        text(&unlock)
    );
    assert_eq!(login(&gw, "hayashi", PASSWORD).status, 200);

    // Revoke every session from the command line.
    let revoke = env.run(
        &[
            "session",
            "revoke",
            "hayashi",
            "--all",
            "--reason",
            "badge lost",
        ],
        None,
    );
    assert!(revoke.status.success(), "{}", text(&revoke));
    assert_eq!(
        gw.get("/api/v1/session", &[("Cookie", &cookie)]).status,
        401
    );

    // Disabling ends the sessions that are left.
    let again = login(&gw, "hayashi", PASSWORD).cookie();
    assert_eq!(gw.get("/api/v1/session", &[("Cookie", &again)]).status, 200);
    let disable = env.run(
        &["user", "disable", "hayashi", "--reason", "left the clinic"],
        None,
    );
    assert!(disable.status.success(), "{}", text(&disable));
    assert_eq!(gw.get("/api/v1/session", &[("Cookie", &again)]).status, 401);

    let audit = env.run(&["--lang", "en", "audit", "tail", "-n", "50"], None);
    let audit = text(&audit);
    assert!(
        audit.contains("account_unlocked") && audit.contains("called the ward"),
        "{audit}"
    );
    assert!(audit.contains("session_revoked"));

    // Without a running gateway, the command says there is nothing live.
    assert_eq!(stop(&mut gw.child), 0);
    let detached = env.run(&["--lang", "en", "session", "list", "hayashi"], None);
    assert!(
        text(&detached).contains("no running gateway answers"),
        "{}",
        text(&detached)
    );
}
