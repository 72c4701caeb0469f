//! Moving up: `sekimori store copy` from a SQLite gateway's store into a real PostgreSQL, and
//! a gateway on it; the copy refused onto a non-empty target, resumed onto its own, refused
//! onto another chain. And the least-privilege role: migrations run once by the owner, the
//! gateway on a role that may not change the audit log.

use sekimori::account::AccountType;

use crate::gateway::{Gw, PASSWORD};
use crate::postgres_server::PostgresServer;
use crate::process::Gateway;
use crate::support::{Env, text};

/// A SQLite store with accounts, a TOTP factor, a device, a window and some audit rows.
async fn seeded() -> Env {
    let env = Env::new();
    let gw = Gw::new(env.state_with("[systems.emr]\nkind = \"web\"\n").await);
    gw.user("yamada", AccountType::Staff, &["doctor"]).await;
    gw.user("hoshu", AccountType::Vendor, &["vendor"]).await;
    let cookie = gw.session("yamada").await;
    let e = crate::factors::enrol_totp(&gw, &cookie, None, "phone", gw.state.clock.now()).await;
    assert_eq!(e.status, 200, "{}", e.body);
    gw.state
        .devices
        .add(
            sekimori::device::service::NewDevice {
                name: "karte-sv".into(),
                kind: sekimori::device::DeviceKind::Server,
                location: "サーバー室".into(),
                owner: "情報システム課".into(),
            },
            "cli:it",
        )
        .await
        .unwrap();
    for i in 0..30 {
        gw.login(&format!("nobody{i}"), "wrong-password-42x", "192.0.2.9")
            .await;
    }
    gw.state.close().await;
    env
}

fn postgres_config(env: &Env, url: &str, extra: &str) {
    let base = env.config_toml("").replace(
        &format!("[store]\nsqlite_path = \"{}\"\n", env.db_path().display()),
        "",
    );
    std::fs::write(
        env.config_path(),
        format!(
            "{base}[systems.emr]\nkind = \"web\"\n[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\nsqlite_path = \"{}\"\n{extra}",
            env.db_path().display()
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_store_moves_to_postgres_whole() {
    let env = seeded().await;
    let pg = PostgresServer::start();
    let url = pg.database("moved").await;
    let from = format!("sqlite:{}", env.db_path().display());
    let out = env.run(&["store", "copy", "--from", &from, "--to", &url], None);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("audit_log") && said.contains("copy complete"),
        "{said}"
    );

    // Copying again onto the full target is refused, and changes nothing.
    let again = env.run(&["store", "copy", "--from", &from, "--to", &url], None);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        text(&again).contains("the target is not empty"),
        "{}",
        text(&again)
    );

    // More rows at the source (the clinic kept working while the copy ran): --resume adds
    // them and skips what is there.
    {
        let gw = Gw::new(env.state().await);
        for i in 0..7 {
            gw.login(&format!("late{i}"), "wrong-password-42x", "192.0.2.9")
                .await;
        }
        gw.state.close().await;
    }
    let resumed = env.run(
        &["store", "copy", "--from", &from, "--to", &url, "--resume"],
        None,
    );
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(
        text(&resumed).contains("(7 inserted)"),
        "only the new audit rows: {}",
        text(&resumed)
    );

    // The gateway now runs on PostgreSQL with everything it had.
    postgres_config(&env, &url, "");
    let verify = env.run(&["audit", "verify"], None);
    assert!(verify.status.success(), "{}", text(&verify));
    let users = env.run(&["user", "list", "--json"], None);
    let list: serde_json::Value = serde_json::from_slice(&users.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hoshu", "yamada"]);
    let devices = env.run(&["device", "list", "--json"], None);
    assert!(String::from_utf8_lossy(&devices.stdout).contains("karte-sv"));
    let gw = Gateway::start(&env, &[]);
    // The password and the sealed TOTP secret came along: the sign-in asks for the code.
    let r = gw.post(
        "/api/v1/login",
        &[],
        &serde_json::json!({"username": "yamada", "password": PASSWORD, "system": "emr"}),
    );
    assert_eq!(r.json()["outcome"], "second_factor_required", "{}", r.body);
    drop(gw);

    // A target with another chain is never resumed onto.
    let other = Env::new();
    {
        let gw = Gw::new(other.state().await);
        gw.login("someone", "wrong-password-42x", "192.0.2.9").await;
        gw.state.close().await;
    }
    let other_from = format!("sqlite:{}", other.db_path().display());
    let refused = env.run(
        &[
            "store",
            "copy",
            "--from",
            &other_from,
            "--to",
            &url,
            "--resume",
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("another audit chain"),
        "{}",
        text(&refused)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_runs_on_a_role_that_cannot_change_the_audit_log() {
    let pg = PostgresServer::start();
    let owner_url = pg.database("lean").await;
    let env = Env::new();
    // The owner runs the migrations once.
    let migrate = env.run(&["store", "migrate", "--url", &owner_url], None);
    assert!(migrate.status.success(), "{}", text(&migrate));
    pg.sql(
        "lean",
        "CREATE ROLE sekimori_app LOGIN; \
         GRANT CONNECT ON DATABASE lean TO sekimori_app; \
         GRANT USAGE ON SCHEMA public TO sekimori_app; \
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO sekimori_app; \
         REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_checkpoints FROM sekimori_app; \
         REVOKE INSERT, UPDATE, DELETE ON _sqlx_migrations FROM sekimori_app; \
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO sekimori_app;",
    )
    .await;
    let app_url = pg.url_as("sekimori_app", "lean");
    postgres_config(&env, &app_url, "migrate = false\n");
    let gw = Gateway::start(&env, &[]);
    for i in 0..5 {
        let r = gw.post(
            "/api/v1/login",
            &[],
            &serde_json::json!({"username": format!("n{i}"), "password": "wrong-password-42x"}),
        );
        assert_eq!(r.status, 401, "{}", r.body);
    }
    drop(gw);
    let verify = env.run(&["audit", "verify"], None);
    assert!(verify.status.success(), "{}", text(&verify));
    // Not even with the triggers gone could this role rewrite the log.
    pg.sql("lean", "DROP TRIGGER audit_log_append_only ON audit_log")
        .await;
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&app_url)
        .await
        .unwrap();
    let err = sqlx::query("UPDATE audit_log SET outcome = 'success'")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    // A newer gateway on an old schema says what to do instead of failing later.
    pg.sql("lean", "DELETE FROM _sqlx_migrations").await;
    let serve = env.run(&["user", "list"], None);
    assert!(!serve.status.success());
    assert!(
        text(&serve).contains("run `sekimori store migrate`"),
        "{}",
        text(&serve)
    );
}
