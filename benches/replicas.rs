//! Several gateways, measured: audit appends per second on PostgreSQL against SQLite (both
//! durable: `synchronous = FULL`, and `fsync = on`), and password sign-ins per second with two
//! release `sekimori serve` replicas on PostgreSQL + Redis against one.
//!
//! Run: `cargo bench --bench replicas` (as root or as a user that may run PostgreSQL;
//! needs postgresql-15 and redis-server). Runs alternate and the best of each counts.

// A benchmark program: it stops at the first thing that goes wrong, and reads the clock.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::io::{Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sekimori::audit::{AuditEvent, EventKind, Outcome, PendingRecord};
use sekimori::store::AuditStore;
use sekimori::store::sql::{OpenMode, SqlStore};

#[path = "../tests/it/postgres_server.rs"]
mod postgres_server;
#[path = "../tests/it/redis_server.rs"]
mod redis_server;

const SECONDS: u64 = 8;

fn pending(n: u64) -> PendingRecord {
    let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
        + chrono::Duration::milliseconds(n as i64);
    PendingRecord {
        event_id: sekimori::account::new_v7(at),
        at,
        at_text: sekimori::clock::to_jst_string(at),
        event: AuditEvent::new(
            sekimori::account::FacilityId("default".into()),
            EventKind::LoginAttempt,
            Outcome::Failure,
        )
        .subject(format!("bench{n}")),
    }
}

/// Rows appended per second by 16 writers for `SECONDS`.
async fn appends(store: Arc<SqlStore>) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(SECONDS);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, count) = (store.clone(), count.clone());
            tokio::spawn(async move {
                while Instant::now() < stop {
                    let n = count.fetch_add(1, Ordering::Relaxed);
                    store.append_audit(pending(n)).await.unwrap();
                }
            })
        })
        .collect();
    let start = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn post(port: u16, body: &str) -> u16 {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let req = format!(
        "POST /api/v1/login HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

struct Replica(Child, u16);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn replica(config: &std::path::Path) -> Replica {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_sekimori"))
        .args(["--config"])
        .arg(config)
        .arg("serve")
        .env("SEKIMORI__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "replica did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    Replica(child, port)
}

/// Successful password sign-ins per second, 16 clients spread over `ports`.
fn sign_ins(ports: &[u16], users: usize) -> f64 {
    let ok = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(SECONDS);
    let start = Instant::now();
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let (ok, ports) = (ok.clone(), ports.to_vec());
            std::thread::spawn(move || {
                let mut n = t;
                while Instant::now() < stop {
                    let port = ports[n % ports.len()];
                    let body = format!(
                        r#"{{"username": "user{}", "password": "ocean-walnut-7-lantern-x", "system": "bench"}}"#,
                        n % users
                    );
                    if post(port, &body) == 200 {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 16;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    ok.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pg = postgres_server::PostgresServer::start_with(true);
    let redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();

    // Audit appends.
    let (sqlite_rate, pg_rate) = rt.block_on(async {
        let sqlite = Arc::new(
            SqlStore::open(&dir.path().join("a/bench.db"), OpenMode::CreateAndMigrate)
                .await
                .unwrap(),
        );
        let url = pg.database("appends").await;
        let cfg = sekimori::config::Config::from_toml_str(&format!(
            "[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\n"
        ))
        .unwrap();
        let postgres = Arc::new(
            SqlStore::open_config(&cfg.store, OpenMode::CreateAndMigrate)
                .await
                .unwrap(),
        );
        let mut best = (0.0f64, 0.0f64);
        for _ in 0..2 {
            best.0 = best.0.max(appends(sqlite.clone()).await);
            best.1 = best.1.max(appends(postgres.clone()).await);
        }
        best
    });
    println!(
        "audit appends/s, 16 writers: SQLite {sqlite_rate:.0}, PostgreSQL {pg_rate:.0} = {:.2}× SQLite",
        pg_rate / sqlite_rate
    );

    // Sign-ins: one replica, then two, alternated.
    let url = rt.block_on(pg.database("replicas"));
    let config = dir.path().join("sekimori.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\nsqlite_path = \"{}/r/sekimori.db\"\n[state]\nbackend = \"redis\"\nredis_url = \"{}\"\n[log]\nlevel = \"error\"\n[systems.bench]\nkind = \"web\"\n[lockout]\nip_limit = 100000\n",
            dir.path().display(),
            redis.url()
        ),
    )
    .unwrap();
    let users = 64;
    {
        let first = replica(&config);
        for i in 0..users {
            let add = Command::new(env!("CARGO_BIN_EXE_sekimori"))
                .args(["--config"])
                .arg(&config)
                .args([
                    "user",
                    "add",
                    &format!("user{i}"),
                    "--display-name",
                    "bench",
                    "--password-stdin",
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .and_then(|mut c| {
                    c.stdin
                        .take()
                        .unwrap()
                        .write_all(b"maple-harbor-3-cinder-x\n")?;
                    c.wait()
                })
                .unwrap();
            assert!(add.success());
            let step = format!(
                r#"{{"username": "user{i}", "password": "maple-harbor-3-cinder-x", "system": "bench"}}"#
            );
            let _ = post(first.1, &step);
        }
        // Each account's own password, through the flow the first sign-in asks for.
        for i in 0..users {
            let flow = {
                let body = format!(
                    r#"{{"username": "user{i}", "password": "maple-harbor-3-cinder-x", "system": "bench"}}"#
                );
                let mut s = std::net::TcpStream::connect(("127.0.0.1", first.1)).unwrap();
                let req = format!(
                    "POST /api/v1/login HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(req.as_bytes()).unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                let json = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
                serde_json::from_str::<serde_json::Value>(&json)
                    .ok()
                    .and_then(|v| v["flow_id"].as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            let body =
                format!(r#"{{"flow_id": "{flow}", "new_password": "ocean-walnut-7-lantern-x"}}"#);
            assert_eq!(post(first.1, &body), 200, "user{i}");
        }
    }
    let mut best = (0.0f64, 0.0f64);
    for _ in 0..2 {
        {
            let a = replica(&config);
            best.0 = best.0.max(sign_ins(&[a.1], users));
        }
        {
            let a = replica(&config);
            let b = replica(&config);
            best.1 = best.1.max(sign_ins(&[a.1, b.1], users));
        }
    }
    println!(
        "password sign-ins/s, 16 clients: one replica {:.1}, two replicas {:.1} = {:.2}× one",
        best.0,
        best.1,
        best.1 / best.0
    );
}
