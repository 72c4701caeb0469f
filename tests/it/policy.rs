//! Policies through the real binary: check, explain, and a broken deployment file that stops
//! `config check`, `policy check` and `serve` with its file, line and policy id.

use crate::support::{Env, one_time_password, text};

const SYSTEMS: &str = r#"
[systems.srv]
kind = "server"
[systems.pc1]
kind = "terminal"
exemption_until = "2028-03-31"
exemption_reason = "renewal in FY2027"
exemption_approved_by = "security officer"
"#;

fn env_with(extra: &str) -> Env {
    let env = Env::new();
    std::fs::write(env.config_path(), env.config_toml(extra)).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { env.state_with(extra).await.close().await });
    env
}

#[test]
fn explain_names_the_deciding_policy() {
    let env = env_with(SYSTEMS);
    let o = env.run(
        &["user", "add", "yamada", "--display-name", "山田 太郎"],
        None,
    );
    let otp = one_time_password(&o);
    let o = env.run(
        &["user", "passwd", "yamada"],
        Some(format!("{otp}\nocean-walnut-7-lantern\n").as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let explain = |args: &[&str]| {
        let mut a = vec!["policy", "explain", "--user", "yamada", "--json"];
        a.extend_from_slice(args);
        let o = env.run(&a, None);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let d = explain(&["--system", "srv", "--at", "2027-03-31"]);
    assert_eq!(d["verdict"], "issue");
    let d = explain(&["--system", "srv", "--at", "2027-04-01"]);
    assert_eq!(d["verdict"], "need_factor");
    assert_eq!(
        d["policy_ids"],
        serde_json::json!(["mhlw-7.0-two-factor-terminals-and-servers"])
    );
    assert_eq!(d["kinds"], serde_json::json!(["possession", "inherence"]));
    let d = explain(&[
        "--system",
        "srv",
        "--at",
        "2027-04-01",
        "--factors",
        "pwd,otp",
    ]);
    assert_eq!(d["verdict"], "issue");
    let d = explain(&["--system", "pc1", "--at", "2028-03-31T23:59:59+09:00"]);
    assert_eq!(
        d["verdict"], "issue",
        "exemption runs to the end of its day"
    );
    let d = explain(&["--system", "pc1", "--at", "2028-04-01"]);
    assert_eq!(d["verdict"], "need_factor");

    let o = env.run(
        &[
            "policy",
            "explain",
            "--user",
            "yamada",
            "--system",
            "srv",
            "--factors",
            "password",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("not a factor method"), "{}", text(&o));
    let o = env.run(&["policy", "check"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("exemption pc1: until 2028-03-31"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_broken_policy_file_stops_everything_with_its_location() {
    let env = Env::new();
    let dir = env.dir.path().join("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("local.cedar"),
        "// clinic rules\n@id(\"vendors-in-hours\")\nforbid (principal, action == Sekimori::Action::\"issue_session\", resource)\nwhen { principal.acount_type == \"vendor\" };\n",
    )
    .unwrap();
    std::fs::write(
        env.config_path(),
        env.config_toml(&format!("[policy]\ndir = \"{}\"\n", dir.display())),
    )
    .unwrap();
    for args in [
        vec!["config", "check"],
        vec!["policy", "check"],
        vec!["serve"],
    ] {
        let o = env.run(&args, None);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", text(&o));
        let t = text(&o);
        assert!(
            t.contains("local.cedar:4 [vendors-in-hours]"),
            "{args:?}: {t}"
        );
        assert!(t.contains("acount_type"), "{args:?}: {t}");
    }
}
