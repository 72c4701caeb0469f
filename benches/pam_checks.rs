//! One-time-code checks per second through the PAM module's endpoint, for the closing notes:
//! `POST /api/v1/pam/authenticate` with a code only (the `second_factor` mode, after
//! `pam_unix`), a fresh valid code for a different account each time, from 16 clients at
//! once, each request on a new connection as the module makes it, against the release
//! gateway in a process of its own. Reports checks per second, the median and p99, and the
//! SQLite commits the gateway made per check (the audit metric's commit count).
//!
//! Run: `cargo bench --bench pam_checks`. `SEKIMORI_BENCH_CHECKS` sets the number of checks
//! (default 4,000; one account each, since a code is accepted once).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use sekimori::totp::TotpSecret;

mod common;
use common::server::{Server, free_port, post, server_toml};
use common::{enrolled, gateway, server_device};

/// Clients at once (`SEKIMORI_BENCH_CLIENTS`, default 16).
fn client_count() -> usize {
    std::env::var("SEKIMORI_BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

fn checks() -> usize {
    std::env::var("SEKIMORI_BENCH_CHECKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000)
}

/// The sum and count of a histogram in the gateway's `/metrics`.
fn histogram(addr: std::net::SocketAddr, name: &str) -> (f64, f64) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let read = |suffix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}_{suffix} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (read("sum"), read("count"))
}

#[tokio::main]
async fn main() {
    let n = checks();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let extra = server_toml(port);
    let state = gateway(dir.path(), &extra).await;
    let credential = server_device(&state).await;
    // Accounts with a TOTP factor confirmed two steps ago; the checks spend a later step.
    let t0 = Utc::now() - chrono::Duration::seconds(90);
    let people: Vec<(String, TotpSecret)> = enrolled(&state, "pam", n, t0)
        .await
        .into_iter()
        .map(|(name, _, secret)| (name, secret))
        .collect();
    drop(state);
    eprintln!("{n} accounts with TOTP made");

    let server = Server::start(dir.path(), port, &extra);
    let addr = server.addr;
    let (_, commits_before) = histogram(addr, "sekimori_audit_batch_rows");
    let people = Arc::new(people);
    let next = Arc::new(AtomicUsize::new(0));
    let bearer = format!("Bearer {credential}");
    let started = Instant::now();
    let clients: Vec<_> = (0..client_count())
        .map(|_| {
            let (people, next, bearer) = (people.clone(), next.clone(), bearer.clone());
            std::thread::spawn(move || {
                let mut times = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((user, secret)) = people.get(i) else {
                        return times;
                    };
                    let code = secret.code_at(Utc::now().timestamp() as u64).unwrap();
                    let t = Instant::now();
                    let answer = post(
                        addr,
                        "/api/v1/pam/authenticate",
                        &[("Authorization", &bearer)],
                        &serde_json::json!({"device": "bench-server", "user": user, "code": code, "service": "sshd"}),
                    );
                    times.push(t.elapsed());
                    assert_eq!(answer.status, 200, "{}", answer.body);
                    assert_eq!(answer.body["result"], "allow", "{}", answer.body);
                }
            })
        })
        .collect();
    let mut times: Vec<Duration> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let took = started.elapsed();
    let (_, commits_after) = histogram(addr, "sekimori_audit_batch_rows");
    times.sort();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!(
        "PAM code checks ({} clients, a new connection each, n={n}): {:.0}/s, median {:.1} ms, p99 {:.1} ms; {:.2} audit commits per check",
        client_count(),
        n as f64 / took.as_secs_f64(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        (commits_after - commits_before) / n as f64,
    );
}
