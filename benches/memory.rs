//! Resident memory of the release gateway process (`VmRSS` from `/proc`), for the closing
//! notes and the README:
//!
//! 1. idle, after the start;
//! 2. the peak while `SEKIMORI_BENCH_USERS` (default 1,000) people sign in, 50 at a time, each
//!    with a password and a fresh TOTP code (argon2id on every hashing worker);
//! 3. idle again, 3 s after the last sign-in;
//! 4. the peak while 256 connections ask forward-auth at once (`wrk -c256`), and idle after.
//!
//! Goals: at most 32 MB idle after any number of sign-ins, at most 64 MB under 256
//! connections. The accounts are made in this process first (their hashes are not the
//! server's); the server is `target/release/sekimori serve` on the same SQLite file.
//!
//! Run: `cargo bench --bench memory` (needs `wrk`). `SEKIMORI_BENCH_BIN=path` measures
//! another build of the gateway instead (a before/after); `SEKIMORI_BENCH_USERS` sets the
//! number of people (default 1,000).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;

mod common;
use common::server::{Server, free_port, post, server_toml};
use common::{PASSWORD, enrolled_with, gateway};

const MB: f64 = 1_048_576.0;

fn users() -> usize {
    std::env::var("SEKIMORI_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// One figure of `/proc/PID/status`, in bytes.
fn status(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// Resident bytes of `pid`.
fn rss(pid: u32) -> u64 {
    status(pid, "VmRSS:")
}

/// Resident memory as `total (heap + mapped binary)`.
fn split(pid: u32) -> String {
    format!(
        "{:.1} MB ({:.1} anonymous + {:.1} file)",
        mb(rss(pid)),
        mb(status(pid, "RssAnon:")),
        mb(status(pid, "RssFile:"))
    )
}

/// Samples `pid`'s resident memory every 20 ms until stopped; the peak.
struct Peak {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Peak {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self { stop, peak, thread }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        self.peak.load(Ordering::Relaxed)
    }
}

/// Password, then a fresh TOTP code: the session cookie.
fn sign_in(addr: SocketAddr, name: &str, secret: &sekimori::totp::TotpSecret) -> String {
    let first = post(
        addr,
        "/api/v1/login",
        &[],
        &serde_json::json!({"username": name, "password": PASSWORD, "system": "emr"}),
    );
    assert_eq!(first.status, 200, "{}", first.body);
    let flow = first.body["flow_id"].as_str().unwrap().to_owned();
    let code = secret.code_at(Utc::now().timestamp() as u64).unwrap();
    let second = post(
        addr,
        "/api/v1/login",
        &[],
        &serde_json::json!({"flow_id": flow, "code": code}),
    );
    assert_eq!(second.status, 200, "{}", second.body);
    second.cookie().expect("a session cookie")
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / MB
}

#[tokio::main]
async fn main() {
    let n = users();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let extra = format!(
        "{}[systems.emr]\nkind = \"web\"\nhosts = [\"emr.localhost\"]\n",
        server_toml(port)
    );
    // The accounts, with their own password and a TOTP factor confirmed two steps ago (the
    // sign-ins below then spend a step of their own).
    let state = gateway(dir.path(), &extra).await;
    let t0 = Utc::now() - chrono::Duration::seconds(90);
    let made: Vec<(String, sekimori::totp::TotpSecret)> =
        enrolled_with(&state, "user", n, t0, true)
            .await
            .into_iter()
            .map(|(name, _, secret)| (name, secret))
            .collect();
    drop(state);
    eprintln!("{n} accounts with TOTP made");

    let server = Server::start(dir.path(), port, &extra);
    let (pid, addr) = (server.child.id(), server.addr);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = split(pid);

    // Sign-ins, 50 at a time.
    let peak = Peak::start(pid);
    let started = std::time::Instant::now();
    let made = Arc::new(made);
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (made, next) = (made.clone(), next.clone());
        workers.spawn(async move {
            let mut cookie = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some((name, secret)) = made.get(i) else {
                    return cookie;
                };
                let (name, secret) = (name.clone(), secret.clone());
                cookie = Some(
                    tokio::task::spawn_blocking(move || sign_in(addr, &name, &secret))
                        .await
                        .unwrap(),
                );
            }
        });
    }
    let mut cookie = None;
    while let Some(c) = workers.join_next().await {
        cookie = cookie.or(c.unwrap());
    }
    let took = started.elapsed();
    let signing_in = peak.finish();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = split(pid);

    // 256 connections asking forward-auth at once.
    let peak = Peak::start(pid);
    let url = format!("http://{addr}/api/v1/authz/auth-request");
    let cookie = format!("Cookie: {}", cookie.unwrap());
    let check = Command::new("curl")
        .args([
            "-s",
            "-i",
            "-H",
            &cookie,
            "-H",
            "X-Original-URL: http://emr.localhost/chart/1",
        ])
        .args(["-H", "X-Original-Method: GET", &url])
        .output()
        .unwrap();
    let check = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        check.starts_with("HTTP/1.1 200"),
        "forward-auth refused the session: {check}"
    );
    let wrk = tokio::task::spawn_blocking(move || {
        Command::new("wrk")
            .args(["-t2", "-c256", "-d5s", "-H", &cookie])
            .args(["-H", "X-Original-URL: http://emr.localhost/chart/1"])
            .args(["-H", "X-Original-Method: GET", &url])
            .output()
            .expect("wrk must be installed (apt-get install wrk)")
    })
    .await
    .unwrap();
    let connections = peak.finish();
    let wrk = String::from_utf8_lossy(&wrk.stdout).into_owned();
    assert!(!wrk.contains("Non-2xx"), "forward-auth refused: {wrk}");
    let rps = wrk
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = split(pid);
    drop(server);

    println!(
        "memory: idle after start {idle}\n  peak while {n} people signed in with TOTP (50 at once, {:.1} sign-ins/s): {:.1} MB\n  idle 3 s after: {after} (goal <= 32 MB)\n  peak under 256 connections ({rps} req/s): {:.1} MB (goal <= 64 MB)\n  idle 3 s after: {settled}",
        n as f64 / took.as_secs_f64(),
        mb(signing_in),
        mb(connections),
    );
}
