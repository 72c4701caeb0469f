//! Forward-auth figures for the closing notes, measured with `wrk` against real listeners:
//!
//! 1. requests/s of `GET /api/v1/authz/auth-request` with a valid session, as a ratio to a
//!    bare axum handler returning 200 measured in the same run (in-process state, then Redis);
//! 2. forward-auth p99 latency while 50 logins run concurrently, against the idle p99;
//! 3. hashes computed for 200 parallel wrong attempts on one account.
//!
//! Run: `cargo bench --bench forward_auth` (needs `wrk`; the Redis figure needs
//! `redis-server`). `SEKIMORI_BENCH_SECONDS` sets each wrk run's length (default 10); the
//! ratios alternate baseline and gateway twice and compare each one's best run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use sekimori::admin::InitialPassword;
use sekimori::app::AppState;
use sekimori::auth::LoginOutcome;

mod common;
use common::{FIRST, account, gateway, origin, redis, serve, session_cookie, user};

/// No address limit (wrk is one address) and a protected web system.
const GATEWAY_EXTRA: &str =
    "[lockout]\nip_limit = 100000\n[systems.emr]\nkind = \"web\"\nhosts = [\"emr.localhost\"]\n";

struct Wrk {
    rps: f64,
    p99_ms: f64,
}

fn seconds() -> u64 {
    std::env::var("SEKIMORI_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

fn parse_ms(v: &str) -> f64 {
    let v = v.trim();
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

/// wrk -t2 -c64 with latency distribution; blocking, so run it off the runtime.
fn wrk(url: &str, headers: &[String]) -> Wrk {
    let mut c = Command::new("wrk");
    c.args(["-t2", "-c64", &format!("-d{}s", seconds()), "--latency"]);
    for h in headers {
        c.args(["-H", h]);
    }
    let out = c
        .arg(url)
        .output()
        .expect("wrk must be installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(parse_ms)
        .unwrap_or(f64::NAN);
    let non2xx = text.lines().find(|l| l.contains("Non-2xx"));
    assert!(non2xx.is_none(), "forward-auth answered non-2xx: {text}");
    Wrk { rps, p99_ms }
}

async fn cookie(state: &AppState, name: &str) -> String {
    format!("Cookie: {}", session_cookie(state, name, "emr").await)
}

async fn forward_auth_ratio(
    label: &str,
    state: &AppState,
    bare: SocketAddr,
) -> (Wrk, Wrk, Vec<String>, SocketAddr) {
    user(state, "bench", &["nurse"]).await;
    let headers = vec![
        cookie(state, "bench").await,
        "X-Original-URL: http://emr.localhost/chart/1".to_owned(),
        "X-Original-Method: GET".to_owned(),
    ];
    let addr = serve(sekimori::build_router(state.clone())).await;
    let url = format!("http://{addr}/api/v1/authz/auth-request");
    let bare_url = format!("http://{bare}/");
    // Alternate the two, twice, and keep each one's best run: the baseline moves with
    // whatever else the machine does, and alternating exposes both to the same.
    let mut best: Option<(Wrk, Wrk)> = None;
    for _ in 0..2 {
        let (u, bu, h) = (url.clone(), bare_url.clone(), headers.clone());
        let b = tokio::task::spawn_blocking(move || wrk(&bu, &[]))
            .await
            .unwrap();
        let g = tokio::task::spawn_blocking(move || wrk(&u, &h))
            .await
            .unwrap();
        best = Some(match best {
            None => (b, g),
            Some((pb, pg)) => (
                if b.rps > pb.rps { b } else { pb },
                if g.rps > pg.rps { g } else { pg },
            ),
        });
    }
    let (b, g) = best.unwrap();
    println!(
        "forward-auth ({label}): {:.0} req/s vs bare axum {:.0} req/s -> ratio {:.2} (p99 {:.2} ms vs {:.2} ms)",
        g.rps,
        b.rps,
        g.rps / b.rps,
        g.p99_ms,
        b.p99_ms
    );
    (b, g, headers, addr)
}

#[tokio::main]
async fn main() {
    let bare = serve(axum::Router::new().route("/", axum::routing::get(|| async { "" }))).await;

    // 1. In-process state.
    let dir = tempfile::tempdir().unwrap();
    let state = gateway(dir.path(), GATEWAY_EXTRA).await;
    let (_, idle, headers, addr) = forward_auth_ratio("in-process state", &state, bare).await;

    // 2. p99 while 50 logins run at once (argon2id busy on the hashing pool). One account
    // each: concurrent attempts on one account hold lockout slots, as they should.
    for i in 0..50 {
        state
            .admin
            .create(
                account(&format!("load{i}")),
                InitialPassword::Given(FIRST.into()),
                "bench",
            )
            .await
            .unwrap();
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let logins = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (state, stop, logins) = (state.clone(), stop.clone(), logins.clone());
        tasks.push(tokio::spawn(async move {
            let name = format!("load{i}");
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // A correct password each time (the flow then asks for the first change).
                let o = state
                    .login
                    .login(&name, &FIRST.into(), "emr", &origin())
                    .await;
                assert!(
                    matches!(o, Ok(LoginOutcome::PasswordChangeRequired { .. })),
                    "{o:?}"
                );
                logins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    let url = format!("http://{addr}/api/v1/authz/auth-request");
    let busy = tokio::task::spawn_blocking(move || wrk(&url, &headers))
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "forward-auth p99 under 50 concurrent logins: {:.2} ms vs idle {:.2} ms -> {:.2}x ({} logins completed, {:.0} req/s)",
        busy.p99_ms,
        idle.p99_ms,
        busy.p99_ms / idle.p99_ms,
        logins.load(std::sync::atomic::Ordering::Relaxed),
        busy.rps
    );

    // 3. Lockout race on the same gateway.
    user(&state, "race", &["nurse"]).await;
    let before = state.passwords.hasher().computed();
    let mut race = Vec::new();
    for _ in 0..200 {
        let state = state.clone();
        race.push(tokio::spawn(async move {
            state
                .login
                .login("race", &"wrong-wrong-wrong".into(), "emr", &origin())
                .await
                .unwrap()
        }));
    }
    for r in race {
        r.await.unwrap();
    }
    println!(
        "lockout race: 200 parallel wrong attempts computed {} hashes (threshold {})",
        state.passwords.hasher().computed() - before,
        state.config.lockout.policy.threshold
    );

    // 4. Redis state.
    match redis() {
        Some(server) => {
            let dir = tempfile::tempdir().unwrap();
            let extra = format!(
                "{GATEWAY_EXTRA}[state]\nbackend = \"redis\"\nredis_url = \"{}\"\n",
                server.url()
            );
            let state = gateway(dir.path(), &extra).await;
            forward_auth_ratio("Redis state", &state, bare).await;
        }
        None => println!("forward-auth (Redis state): skipped, redis-server is not installed"),
    }
}
