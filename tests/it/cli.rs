//! The real `sekimori` binary: configuration checks, account administration, breach filter,
//! audit export, and bad input. Exit codes are part of the contract.

use std::process::Command;

use crate::support::{Env, one_time_password, run_cmd, text};

fn init(env: &Env) {
    // `user` commands need an existing store; `serve` would create it, so does this.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async { env.state().await.close().await });
}

fn check(env: &Env, toml: &str) -> (i32, String) {
    std::fs::write(env.config_path(), env.config_toml(toml)).unwrap();
    let o = env.run(&["config", "check"], None);
    (o.status.code().unwrap(), text(&o))
}

#[test]
fn config_check_reports_each_problem_with_key_and_fix() {
    let env = Env::new();
    let (code, out) = check(&env, "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("configuration OK"), "{out}");

    let (code, out) = check(
        &env,
        "[password]\nmax_password_age = 90\nmin_lenght_with_second_factor = 8\nhistory_depth = \"x\"\n",
    );
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("password.max_password_age: periodic password rotation was removed by the MHLW guideline 7.0"), "{out}");
    assert!(
        out.contains("password.min_lenght_with_second_factor"),
        "{out}"
    );
    assert!(
        out.contains("did you mean `min_length_with_second_factor`"),
        "{out}"
    );
    assert!(
        out.contains("password.history_depth: invalid type"),
        "{out}"
    );
    assert!(out.contains("fix:"), "{out}");

    let (code, out) = check(&env, "[server\nlisten=");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("problem"), "{out}");

    let (code, out) = check(&env, "[password]\npassword_expiry_days = 30\n");
    assert_eq!(code, 3);
    assert!(
        out.contains("定期的なパスワード変更は第7.0版で削除されました"),
        "{out}"
    );

    let o = env.run(
        &["config", "check", "--config", "/nonexistent/sekimori.toml"],
        None,
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("does not exist"));
}

#[test]
fn environment_overrides_the_file_and_is_validated_too() {
    let env = Env::new();
    let mut c = env.cmd();
    c.env("SEKIMORI__PASSWORD__MIN_LENGTH_WITHOUT_SECOND_FACTOR", "10");
    let o = run_cmd(c, &["config", "check"], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("password.min_length_without_second_factor"),
        "{}",
        text(&o)
    );
    let mut c = env.cmd();
    c.env("SEKIMORI__PASSWORD__HISTORY_DEPTH", "8");
    let o = run_cmd(c, &["config", "check"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("history 8"), "{}", text(&o));
    let mut c = env.cmd();
    c.env("SEKIMORI__PASSWORD__MAX_PASSWORD_AGE", "90");
    let o = run_cmd(c, &["config", "check"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("rotation was removed"), "{}", text(&o));
}

#[test]
fn account_administration_end_to_end() {
    let env = Env::new();
    init(&env);
    let o = env.run(
        &[
            "user",
            "add",
            "ＹＡＭＡＤＡ",
            "--display-name",
            "山田 太郎",
            "--kana",
            "ヤマダ タロウ",
            "--role",
            "doctor",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let otp = one_time_password(&o);
    assert_eq!(otp.len(), 20);
    // Full-width and case fold to the same account.
    let o = env.run(&["user", "add", "yamada", "--display-name", "x"], None);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("account_exists"));
    let o = env.run(
        &[
            "user",
            "add",
            "ｙａｍａｄａ-admin",
            "--display-name",
            "山田",
            "--type",
            "admin",
            "--role",
            "it_admin",
            "--same-person-as",
            "Yamada",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = env.run(&["--lang", "ja", "user", "list"], None);
    let out = text(&o);
    assert!(
        out.contains("利用者ID")
            && out.contains("yamada-admin")
            && out.contains("パスワード変更必須"),
        "{out}"
    );
    let o = env.run(&["user", "show", "YAMADA", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "must_change_password");
    assert_eq!(v["login_name"], "ＹＡＭＡＤＡ");

    // The owner changes the one-time password; then the status is active.
    let o = env.run(
        &["user", "passwd", "yamada"],
        Some(format!("{otp}\nocean-walnut-7-lantern\n").as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The linked admin account may not take the same password.
    let o = env.run(
        &[
            "user",
            "reset-password",
            "yamada-admin",
            "--reason",
            "helpdesk",
            "--password-stdin",
        ],
        Some(b"ocean-walnut-7-lantern\n"),
    );
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("reused_other_account"), "{}", text(&o));

    for (args, want) in [
        (
            vec![
                "user", "set-role", "yamada", "--role", "doctor", "--role", "clerk", "--reason",
                "兼務",
            ],
            "active",
        ),
        (
            vec![
                "user",
                "mark-compromised",
                "yamada",
                "--reason",
                "phishing report #12",
            ],
            "compromised",
        ),
        (
            vec!["user", "disable", "yamada", "--reason", "退職"],
            "disabled",
        ),
        (
            vec!["user", "enable", "yamada", "--reason", "復職"],
            "must_change_password",
        ),
    ] {
        let o = env.run(&args, None);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        let o = env.run(&["user", "show", "yamada", "--json"], None);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["status"], want, "{args:?}");
    }
    let o = env.run(&["user", "show", "yamada", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["roles"], serde_json::json!(["clerk", "doctor"]));

    // A reason is mandatory; an unknown account is exit 4.
    let o = env.run(&["user", "disable", "yamada", "--reason", "  "], None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = env.run(&["user", "disable", "nobody", "--reason", "x"], None);
    assert_eq!(o.status.code(), Some(4));

    // Every action is in the audit log, with the operator and the reason; the chain holds.
    let o = env.run(&["audit", "export", "--format", "jsonl"], None);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = rows.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    for k in [
        "account_created",
        "password_changed",
        "password_rejected",
        "role_changed",
        "account_compromised",
        "account_disabled",
        "account_enabled",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let disabled = rows
        .iter()
        .find(|r| r["kind"] == "account_disabled")
        .unwrap();
    assert_eq!(disabled["actor"], "cli:it-operator");
    assert_eq!(disabled["detail"]["reason"], "退職");
    assert!(disabled["at"].as_str().unwrap().ends_with("+09:00"));
    let o = env.run(&["audit", "verify"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn audit_export_in_japanese_and_by_time_range() {
    let env = Env::new();
    init(&env);
    env.run(
        &["user", "add", "sato", "--display-name", "佐藤 花子"],
        None,
    );
    let o = env.run(
        &["audit", "export", "--format", "csv", "--csv-lang", "ja"],
        None,
    );
    let csv = String::from_utf8(o.stdout).unwrap();
    assert!(csv.starts_with("\u{feff}連番,日時,施設,種別,結果,実行者,対象,IPアドレス,端末,詳細,直前ハッシュ,ハッシュ"), "{csv}");
    assert!(csv.contains("アカウント作成,成功"), "{csv}");
    let o = env.run(&["audit", "export", "--format", "csv"], None);
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .starts_with("seq,time,facility,event")
    );
    let o = env.run(
        &[
            "audit",
            "export",
            "--from",
            "2000-01-01",
            "--to",
            "2000-01-02",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8(o.stdout).unwrap().lines().count(),
        1,
        "header only"
    );
    let o = env.run(&["audit", "export", "--from", "yesterday"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("is not a date"));
    let out = env.dir.path().join("audit.csv");
    let o = env.run(&["audit", "export", "-o", out.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("account_created")
    );
    let o = env.run(&["audit", "tail", "-n", "1"], None);
    assert!(text(&o).contains("account_created"), "{}", text(&o));
}

#[test]
fn breach_filter_built_by_the_cli_refuses_breached_passwords() {
    let env = Env::new();
    init(&env);
    let list = env.dir.path().join("breached.txt");
    std::fs::write(&list, "ocean-walnut-7-lantern\nmaple-harbor-3-cinder\n").unwrap();
    let filter = env.dir.path().join("breach.bfuse");
    let o = env.run(
        &[
            "breach",
            "build",
            "-i",
            list.to_str().unwrap(),
            "-o",
            filter.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("entries: 2"), "{}", text(&o));
    std::fs::write(
        env.config_path(),
        env.config_toml(&format!(
            "[password]\nbreach_filter_file = \"{}\"\n",
            filter.display()
        )),
    )
    .unwrap();
    env.run(&["user", "add", "kato", "--display-name", "加藤"], None);
    let o = env.run(
        &[
            "user",
            "reset-password",
            "kato",
            "--reason",
            "t",
            "--password-stdin",
        ],
        Some(b"ocean-walnut-7-lantern\n"),
    );
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("[breached]"), "{}", text(&o));
    let o = env.run(
        &[
            "user",
            "reset-password",
            "kato",
            "--reason",
            "t",
            "--password-stdin",
        ],
        Some(b"violet-canyon-8-pebble\n"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A corrupt filter file stops the gateway from starting rather than silently checking nothing.
    std::fs::write(&filter, b"SKMBRF01 truncated").unwrap();
    let o = env.run(&["user", "list"], None);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o).contains("truncated or corrupt"), "{}", text(&o));
}

#[test]
fn bad_input_is_refused_precisely_and_nothing_is_damaged() {
    let env = Env::new();
    init(&env);
    let long = "a".repeat(10_000);
    let o = env.run(&["user", "add", &long, "--display-name", "x"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("username_too_long"), "{}", text(&o));
    let o = env.run(&["user", "add", "a\u{200b}b", "--display-name", "x"], None);
    assert!(
        text(&o).contains("username_forbidden_character"),
        "{}",
        text(&o)
    );
    env.run(&["user", "add", "mori", "--display-name", "森"], None);
    let o = env.run(
        &[
            "user",
            "reset-password",
            "mori",
            "--reason",
            "t",
            "--password-stdin",
        ],
        Some(b"abc\0defghijklmnop9q\n"),
    );
    assert_eq!(o.status.code(), Some(5));
    assert!(text(&o).contains("control_character"), "{}", text(&o));
    let p129 = "Zq8#tW1!".repeat(16) + "x\n";
    let o = env.run(
        &[
            "user",
            "reset-password",
            "mori",
            "--reason",
            "t",
            "--password-stdin",
        ],
        Some(p129.as_bytes()),
    );
    assert!(text(&o).contains("[too_long]"), "{}", text(&o));
    let o = env.run(
        &[
            "user",
            "add",
            "x",
            "--display-name",
            "x",
            "--type",
            "superuser",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("expected one of: staff, admin"),
        "{}",
        text(&o)
    );
    let o = env.run(
        &["user", "add", "y", "--display-name", "x", "--role", "医師"],
        None,
    );
    assert!(text(&o).contains("not a valid role"), "{}", text(&o));
    let o = env.run(&["audit", "verify"], None);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn corrupt_database_file_is_exit_6_and_left_untouched() {
    let env = Env::new();
    std::fs::create_dir_all(env.db_path().parent().unwrap()).unwrap();
    std::fs::write(
        env.db_path(),
        b"this is not a sqlite database, but a page of text. ".repeat(200),
    )
    .unwrap();
    let before = std::fs::read(env.db_path()).unwrap();
    let o = env.run(&["user", "list"], None);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(text(&o).contains("store_corrupt"), "{}", text(&o));
    assert_eq!(std::fs::read(env.db_path()).unwrap(), before);
}

#[test]
fn read_only_database_is_exit_6_and_left_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    init(&env);
    env.run(&["user", "add", "abe", "--display-name", "阿部"], None);
    let data = env.db_path().parent().unwrap().to_owned();
    for f in std::fs::read_dir(&data).unwrap() {
        std::fs::set_permissions(f.unwrap().path(), std::fs::Permissions::from_mode(0o444))
            .unwrap();
    }
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = std::fs::read(env.db_path()).unwrap();
    // Root ignores file modes, so run the command as an unprivileged user when we are root.
    let is_root = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout)
        .unwrap()
        .trim()
        == "0";
    let mut c = if is_root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_sekimori"),
        ]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_sekimori"))
    };
    c.arg("--config")
        .arg(env.config_path())
        .env("USER", "it-operator");
    let o = run_cmd(c, &["user", "disable", "abe", "--reason", "x"], None);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("store_read_only") || t.contains("store_unavailable"),
        "{t}"
    );
    assert!(!t.contains("panicked"), "{t}");
    assert_eq!(
        std::fs::read(env.db_path()).unwrap(),
        before,
        "nothing written"
    );
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in std::fs::read_dir(&data).unwrap() {
        std::fs::set_permissions(f.unwrap().path(), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
    let o = env.run(&["user", "show", "abe", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "must_change_password", "unchanged");
}
