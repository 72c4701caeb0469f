//! Several gateways: two real `sekimori serve` processes on one PostgreSQL 15 and one Redis
//! (both real, started by the test), sharing the key directory as replicas on one host share
//! a mounted volume, behind a real nginx that balances between them.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::gateway::{FIRST, PASSWORD};
use crate::postgres_server::PostgresServer;
use crate::process::{Gateway, Http, free_port, request};
use crate::redis_server::RedisServer;
use crate::support::{Env, text};

const SYSTEMS: &str = "[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n";

/// The shared pieces and a configuration every replica and CLI process reads.
pub struct Cluster {
    pub env: Env,
    pub pg: PostgresServer,
    pub redis: RedisServer,
}

impl Cluster {
    pub async fn new(extra: &str) -> Self {
        let pg = PostgresServer::start();
        let url = pg.database("sekimori").await;
        let redis = RedisServer::start();
        let env = Env::new();
        let toml = format!(
            "{SYSTEMS}{extra}\n[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\nconnect_timeout_seconds = 5\nsqlite_path = \"{}\"\n[state]\nbackend = \"redis\"\nredis_url = \"{}\"\n[keys]\nreload_seconds = 1\nactivation_seconds = 3\n",
            env.db_path().display(),
            redis.url()
        );
        // The test configuration's own [store] section is replaced by this one.
        let base = env.config_toml("").replace(
            &format!("[store]\nsqlite_path = \"{}\"\n", env.db_path().display()),
            "",
        );
        std::fs::write(env.config_path(), format!("{base}{toml}")).unwrap();
        Self { env, pg, redis }
    }

    /// A replica; the first one creates the bootstrap administrator and the keys.
    pub fn replica(&self) -> Gateway {
        Gateway::start(&self.env, &[])
    }
}

/// `user add NAME` with the one-time password, then its first sign-in on `gw` (the change of
/// password): the session cookie.
fn enrol(c: &Cluster, gw: &Gateway, name: &str) -> String {
    gw.enrol(&c.env, name, &[], "emr").cookie()
}

fn gate(gw: &Gateway, cookie: &str) -> Http {
    gw.get(
        "/api/v1/authz/forward-auth",
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "emr.clinic.example"),
            ("X-Forwarded-Uri", "/chart"),
            ("Cookie", cookie),
        ],
    )
}

fn login(gw: &Gateway, user: &str, password: &str, from: &str) -> Http {
    gw.post(
        "/api/v1/login",
        &[("X-Forwarded-For", from)],
        &json!({"username": user, "password": password, "system": "emr"}),
    )
}

/// Every audit row as the CLI exports it (from PostgreSQL).
fn audit_rows(env: &Env) -> Vec<serde_json::Value> {
    let out = env.run(&["audit", "export", "--format", "jsonl"], None);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn parallel<T: Send + 'static>(n: usize, f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let f = f.clone();
            std::thread::spawn(move || f(i))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// A CLI-like writer in a process of its own: the test binary run again for
/// `audit_appender_process` with the configuration and a row count.
fn appender(env: &Env, rows: u32, tag: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "replicas::audit_appender_process",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("SEKIMORI_APPENDER_CONFIG", env.config_path())
        .env("SEKIMORI_APPENDER_ROWS", rows.to_string())
        .env("SEKIMORI_APPENDER_TAG", tag)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
#[ignore = "a child process of the replica test, not a test of its own"]
fn audit_appender_process() {
    let (Ok(config), Ok(rows)) = (
        std::env::var("SEKIMORI_APPENDER_CONFIG"),
        std::env::var("SEKIMORI_APPENDER_ROWS"),
    ) else {
        return;
    };
    let tag = std::env::var("SEKIMORI_APPENDER_TAG").unwrap_or_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let config = sekimori::config::Config::load(&sekimori::config::Sources {
            file: Some(config.into()),
            env: false,
        })
        .unwrap();
        let state = sekimori::app::AppState::build(
            config,
            Arc::new(sekimori::clock::SystemClock),
            sekimori::store::sql::OpenMode::MustExist,
        )
        .await
        .unwrap();
        for n in 0..rows.parse::<u32>().unwrap() {
            state
                .auditor
                .record(
                    sekimori::audit::AuditEvent::new(
                        state.config.facility.id.clone(),
                        sekimori::audit::EventKind::AdminAction,
                        sekimori::audit::Outcome::Info,
                    )
                    .actor(format!("cli:{tag}"))
                    .detail("n", n),
                )
                .await
                .unwrap();
        }
        state.close().await;
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_share_sessions_locks_keys_and_one_audit_chain() {
    let c = Cluster::new("").await;
    let a = c.replica();
    let b = c.replica();

    // Signed in through one, through the gate of the other; ended on one: refused by the
    // one at once, by the other within a second (b trusts what Redis told it for 500 ms, so
    // the gate mostly answers without a round trip).
    let cookie = enrol(&c, &a, "tanaka");
    let r = gate(&b, &cookie);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("remote-user").as_deref(), Some("tanaka"));
    let out = a.post("/api/v1/logout", &[("Cookie", cookie.as_str())], &json!({}));
    assert!(out.status < 300, "{}", out.body);
    let ended = Instant::now();
    assert_eq!(
        gate(&a, &cookie).status,
        302,
        "refused at once where it ended"
    );
    let refused = loop {
        let r = gate(&b, &cookie);
        if r.status != 200 || ended.elapsed() > Duration::from_secs(2) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        ended.elapsed() < Duration::from_secs(1),
        "the other replica refused after {:?}",
        ended.elapsed()
    );
    assert_eq!(
        refused.status, 302,
        "revoked on a, refused on b (sent to sign in)"
    );
    assert!(
        refused
            .header("location")
            .is_some_and(|l| l.contains("/login"))
    );

    // 200 wrong passwords at once for one account, spread over both: the shared lock lets
    // exactly the threshold through to the password check.
    let add = c.env.run(
        &[
            "user",
            "add",
            "sato",
            "--display-name",
            "佐藤",
            "--role",
            "nurse",
            "--password-stdin",
        ],
        Some(format!("{FIRST}\n").as_bytes()),
    );
    assert!(add.status.success(), "{}", text(&add));
    let (pa, pb) = (a.port, b.port);
    let answers = parallel(200, move |i| {
        let port = if i % 2 == 0 { pa } else { pb };
        let from = format!("198.51.100.{}", i % 200 + 1);
        request(
            port,
            "POST",
            "/api/v1/login",
            &[("X-Forwarded-For", from.as_str())],
            Some(
                &json!({"username": "sato", "password": "wrong-password-42x", "system": "emr"})
                    .to_string(),
            ),
        )
        .unwrap()
        .status
    });
    let wrong = answers.iter().filter(|s| **s == 401).count();
    let locked = answers.iter().filter(|s| **s == 429).count();
    assert_eq!((wrong, locked), (5, 195), "{answers:?}");
    let checked = audit_rows(&c.env)
        .iter()
        .filter(|r| {
            r["kind"] == "login_attempt" && r["subject"] == "sato" && r["outcome"] == "failure"
        })
        .count();
    assert_eq!(checked, 5, "exactly five passwords were checked (hashed)");

    // Two replicas and two CLI processes append 2,000 rows at once: one chain, no gap.
    let before = audit_rows(&c.env).len();
    let mut cli = [appender(&c.env, 500, "one"), appender(&c.env, 500, "two")];
    // 50 clients, 20 sign-ins each, half on each replica.
    let sign_ins: Vec<u16> = parallel(50, move |t| {
        (0..20)
            .map(|k| {
                let i = t * 20 + k;
                let port = if i % 2 == 0 { pa } else { pb };
                let from = format!("203.0.113.{}", i % 250 + 1);
                request(
                    port,
                    "POST",
                    "/api/v1/login",
                    &[("X-Forwarded-For", from.as_str())],
                    Some(&json!({"username": format!("nobody{i}"), "password": "wrong-password-42x"}).to_string()),
                )
                .map_or(0, |r| r.status)
            })
            .collect::<Vec<u16>>()
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(sign_ins.iter().all(|s| *s == 401), "{sign_ins:?}");
    for child in cli.iter_mut() {
        let status = child.wait().unwrap();
        assert!(status.success());
    }
    let rows = audit_rows(&c.env);
    assert_eq!(rows.len(), before + 2000);
    let seqs: Vec<i64> = rows.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=rows.len() as i64).collect::<Vec<_>>(), "no gap");
    let verify = c.env.run(&["audit", "verify"], None);
    assert!(verify.status.success(), "{}", text(&verify));

    // A new signing key made through the shared directory: both publish it at once and sign
    // with it once it is active, without a restart.
    let rotate = c.env.run(&["keys", "rotate"], None);
    assert!(rotate.status.success(), "{}", text(&rotate));
    let kid = String::from_utf8_lossy(&rotate.stdout)
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let cookie = login(&a, "tanaka", PASSWORD, "192.0.2.7").cookie();
    loop {
        let published = [&a, &b]
            .iter()
            .all(|g| g.get("/.well-known/jwks.json", &[]).body.contains(&kid));
        let token = |g: &Gateway| {
            gate(g, &cookie)
                .header("sekimori-assertion")
                .unwrap_or_default()
        };
        let kid_of = |t: String| {
            let head = t.split('.').next().unwrap_or_default().to_owned();
            String::from_utf8(
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, head)
                    .unwrap_or_default(),
            )
            .unwrap_or_default()
        };
        if published && kid_of(token(&a)).contains(&kid) && kid_of(token(&b)).contains(&kid) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new key was not taken up by both"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A new sealing key: one replica seals a new factor with it, the other opens it.
    let rotate = c.env.run(&["keys", "rotate-seal"], None);
    assert!(rotate.status.success(), "{}", text(&rotate));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let start = a.post(
        "/api/v1/factors/totp",
        &[("Cookie", cookie.as_str())],
        &json!({}),
    );
    assert_eq!(start.status, 200, "{}", start.body);
    let secret = start.json()["secret"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now();
    let confirm = a.post(
        "/api/v1/factors/totp/confirm",
        &[("Cookie", cookie.as_str())],
        &json!({"enrolment_id": start.json()["enrolment_id"], "code": crate::totp::oathtool(&secret, now), "label": "phone"}),
    );
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(
        &c.pg.url_as(crate::postgres_server::SUPERUSER, "sekimori"),
    )
    .await
    .unwrap();
    let stored: String = sqlx::query_scalar("SELECT secret FROM credentials WHERE kind = 'totp'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, stored).unwrap();
    assert!(raw.starts_with(b"SKS2"), "sealed with the rotated key");
    let step = login(&b, "tanaka", PASSWORD, "192.0.2.7");
    assert_eq!(
        step.json()["outcome"],
        "second_factor_required",
        "{}",
        step.body
    );
    let code = crate::totp::oathtool(&secret, now + chrono::Duration::seconds(30));
    let done = b.post(
        "/api/v1/login",
        &[],
        &json!({"flow_id": step.json()["flow_id"], "code": code}),
    );
    assert_eq!(
        done.json()["outcome"],
        "authenticated",
        "b opened a's new seal: {}",
        done.body
    );
}

/// nginx balancing between the replicas, as docker/compose.yaml's `replicas` profile does.
fn balancer(dir: &std::path::Path, port: u16, replicas: &[u16]) -> crate::process::Killed {
    let d = dir.display();
    let servers: String = replicas
        .iter()
        .map(|p| format!("    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n"))
        .collect();
    let conf = format!(
        r#"daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}/client; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  upstream sekimori {{
{servers}  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://sekimori;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout;
    }}
  }}
}}
"#
    );
    crate::nginx::start(dir, port, &conf)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_mid_burst_leaves_every_answer_audited() {
    let c = Cluster::new("").await;
    let mut a = c.replica();
    let b = c.replica();
    let dir = tempfile::tempdir().unwrap();
    let lb = free_port();
    let _nginx = balancer(dir.path(), lb, &[a.port, b.port]);
    // Sign in and pass the gate through the balancer: either replica may answer each.
    let cookie = {
        let add = c.env.run(
            &[
                "user",
                "add",
                "ito",
                "--display-name",
                "伊藤",
                "--role",
                "nurse",
                "--password-stdin",
            ],
            Some(format!("{FIRST}\n").as_bytes()),
        );
        assert!(add.status.success(), "{}", text(&add));
        let body = json!({"username": "ito", "password": FIRST, "system": "emr"}).to_string();
        let step = request(lb, "POST", "/api/v1/login", &[], Some(&body)).unwrap();
        let body = json!({"flow_id": step.json()["flow_id"], "new_password": PASSWORD}).to_string();
        request(lb, "POST", "/api/v1/login", &[], Some(&body))
            .unwrap()
            .cookie()
    };
    for _ in 0..4 {
        let r = request(
            lb,
            "GET",
            "/api/v1/authz/forward-auth",
            &[
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "emr.clinic.example"),
                ("X-Forwarded-Uri", "/chart"),
                ("Cookie", cookie.as_str()),
            ],
            None,
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }

    // A burst through the balancer; one replica is killed in the middle of it.
    let burst = std::thread::spawn(move || {
        parallel(40, move |t| {
            (0..10)
                .map(|k| {
                    let i = t * 10 + k;
                    std::thread::sleep(Duration::from_millis(30));
                    let from = format!("203.0.113.{}", i % 250 + 1);
                    let body =
                        json!({"username": format!("burst{i}"), "password": "wrong-password-42x"});
                    request(
                        lb,
                        "POST",
                        "/api/v1/login",
                        &[("X-Forwarded-For", from.as_str())],
                        Some(&body.to_string()),
                    )
                    .map_or((i, 0), |r| (i, r.status))
                })
                .collect::<Vec<(usize, u16)>>()
        })
    });
    std::thread::sleep(Duration::from_millis(120));
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let answers: Vec<(usize, u16)> = burst.join().unwrap().into_iter().flatten().collect();
    let answered: Vec<usize> = answers
        .iter()
        .filter(|(_, s)| *s == 401)
        .map(|(i, _)| *i)
        .collect();
    // Only requests in flight at a when it died can fail; the balancer sends the rest to b.
    let failed = answers.iter().filter(|(_, s)| *s != 401).count();
    assert!(failed < 40, "{failed} failed: {answers:?}");
    let late: Vec<u16> = answers
        .iter()
        .filter(|(i, _)| i % 10 >= 5)
        .map(|(_, s)| *s)
        .collect();
    assert!(
        late.iter().all(|s| *s == 401),
        "after the kill b answers everything: {late:?}"
    );
    // a again, on the same database: nothing lost of what any client was told.
    let _a = c.replica();
    let audited: BTreeSet<String> = audit_rows(&c.env)
        .into_iter()
        .filter(|r| r["kind"] == "login_attempt")
        .filter_map(|r| r["subject"].as_str().map(str::to_owned))
        .collect();
    for i in &answered {
        assert!(
            audited.contains(&format!("burst{i}")),
            "burst{i} was answered but not audited"
        );
    }
    let verify = c.env.run(&["audit", "verify"], None);
    assert!(verify.status.success(), "{}", text(&verify));
}

#[tokio::test(flavor = "multi_thread")]
async fn store_and_state_outages_fail_closed_and_recover_without_a_restart() {
    let mut c = Cluster::new("").await;
    let a = c.replica();
    let b = c.replica();
    let cookie = enrol(&c, &a, "kimura");
    assert_eq!(gate(&b, &cookie).status, 200);

    // PostgreSQL goes away.
    c.pg.stop();
    for g in [&a, &b] {
        let r = login(g, "kimura", PASSWORD, "192.0.2.8");
        assert_eq!(r.status, 503, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], "store_unavailable", "{}", r.body);
        let ready = g.get("/readyz", &[]);
        assert_eq!(ready.status, 503);
        assert_eq!(
            ready.json()["checks"]["store"],
            "store_unavailable",
            "{}",
            ready.body
        );
        // The gate never lets a request through on an error: a live session still passes
        // only when nothing the decision needs is missing, a new one is never made.
        let g2 = gate(g, "sekimori_session=none");
        assert!(matches!(g2.status, 302 | 503), "{}", g2.status);
    }
    c.pg.run();
    let deadline = Instant::now() + Duration::from_secs(30);
    while [&a, &b].iter().any(|g| g.get("/readyz", &[]).status != 200) {
        assert!(
            Instant::now() < deadline,
            "did not recover from the store outage"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for g in [&a, &b] {
        assert_eq!(login(g, "kimura", PASSWORD, "192.0.2.8").status, 200);
    }

    // Redis goes away: sessions cannot be read, so the gate refuses; readiness says why.
    c.redis.stop();
    for g in [&a, &b] {
        let r = gate(g, &cookie);
        assert_eq!(r.status, 503, "fail closed: {}", r.body);
        assert_eq!(
            g.get("/readyz", &[]).json()["checks"]["state"],
            "state_unavailable"
        );
        let r = login(g, "kimura", PASSWORD, "192.0.2.8");
        assert_eq!(r.status, 503, "{}", r.body);
    }
    c.redis.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    while [&a, &b].iter().any(|g| g.get("/readyz", &[]).status != 200) {
        assert!(
            Instant::now() < deadline,
            "did not recover from the Redis outage"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Redis kept nothing (no persistence): the old session is gone, a new sign-in works.
    let fresh = login(&b, "kimura", PASSWORD, "192.0.2.8");
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    assert_eq!(gate(&a, &fresh.cookie()).status, 200);
}
