//! Second-factor figures for the closing notes:
//!
//! 1. TOTP verifications per second through `TotpService::check` (sealed secret read from
//!    SQLite, opened, checked ±1 step, the replay guard advanced atomically, last use
//!    recorded), with the replay guard on Redis and, as the baseline, in-process;
//! 2. the server side of a WebAuthn authentication ceremony (`begin_second_factor` +
//!    `finish_assertion`: challenge, signature check, counter update), median and p99, with a
//!    software security key answering outside the timed part.
//!
//! Run: `cargo bench --bench factors` (the Redis figure needs `redis-server`).
//! `SEKIMORI_BENCH_ACCOUNTS` (default 200) and `SEKIMORI_BENCH_STEPS` (default 20) size the
//! TOTP run; `SEKIMORI_BENCH_CEREMONIES` (default 500) the WebAuthn one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use sekimori::admin::InitialPassword;
use sekimori::app::AppState;
use sekimori::totp::service::Check;
use sekimori::webauthn::CredentialKind;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

mod common;
use common::{account, enrolled, gateway, redis};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every account answers one fresh code per step, 32 at a time: verifications per second.
async fn totp_rate(state: &AppState, accounts: usize, steps: usize) -> f64 {
    let t0 = Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap();
    let people: Vec<_> = enrolled(state, "totp", accounts, t0)
        .await
        .into_iter()
        .map(|(_, id, secret)| (id, secret))
        .collect();
    let people = Arc::new(people);
    let totp = state.totp.clone().unwrap();
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    let started = Instant::now();
    for s in 1..=steps {
        let now = t0 + chrono::Duration::seconds(30 * s as i64);
        let mut tasks = Vec::with_capacity(accounts);
        for i in 0..accounts {
            let (people, totp, sem) = (people.clone(), totp.clone(), sem.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = sem.acquire().await.unwrap();
                let (id, secret) = &people[i];
                let code = secret.code_at(now.timestamp() as u64).unwrap();
                let first = totp.check(*id, &code, now).await.unwrap();
                assert!(matches!(first, Check::Accepted(_)), "{first:?}");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
    (accounts * steps) as f64 / started.elapsed().as_secs_f64()
}

fn origin() -> Url {
    Url::parse("http://localhost:8080").unwrap()
}

/// Server-side time of `n` assertion ceremonies (challenge + verification), sorted.
async fn ceremonies(state: &AppState, n: usize) -> Vec<Duration> {
    let wa = state.webauthn.clone().unwrap();
    let (a, _) = state
        .admin
        .create(
            account("webauthn-bench"),
            InitialPassword::Given("ocean-walnut-7-lantern".into()),
            "bench",
        )
        .await
        .unwrap();
    let (mut token, _) = SoftToken::new(false).unwrap();
    let start = wa
        .begin_registration(&a, CredentialKind::SecurityKey, Utc::now())
        .await
        .unwrap();
    let ccr: CreationChallengeResponse = serde_json::from_value(start.options).unwrap();
    let reg = token.do_registration(origin(), ccr).unwrap();
    wa.finish_registration(&a, start.id.expose(), &reg, "bench", Utc::now())
        .await
        .unwrap()
        .unwrap();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let (options, ceremony) = wa.begin_second_factor(a.id).await.unwrap().unwrap();
        let server_begin = t.elapsed();
        let rcr: RequestChallengeResponse = serde_json::from_value(options).unwrap();
        let assertion = token.do_authentication(origin(), rcr).unwrap();
        let t = Instant::now();
        let v = wa
            .finish_assertion(&ceremony, Some(a.id), &assertion)
            .await
            .unwrap();
        assert!(v.is_ok(), "{v:?}");
        times.push(server_begin + t.elapsed());
    }
    times.sort();
    times
}

#[tokio::main]
async fn main() {
    let accounts = env_or("SEKIMORI_BENCH_ACCOUNTS", 200);
    let steps = env_or("SEKIMORI_BENCH_STEPS", 20);

    let dir = tempfile::tempdir().unwrap();
    let local = gateway(dir.path(), "").await;
    let base = totp_rate(&local, accounts, steps).await;
    println!(
        "TOTP verifications, in-process replay guard: {base:.0}/s ({} checks)",
        accounts * steps
    );
    match redis() {
        Some(server) => {
            let dir = tempfile::tempdir().unwrap();
            let extra = format!(
                "[state]\nbackend = \"redis\"\nredis_url = \"{}\"\n",
                server.url()
            );
            let remote = gateway(dir.path(), &extra).await;
            let rate = totp_rate(&remote, accounts, steps).await;
            println!(
                "TOTP verifications, replay guard on Redis: {rate:.0}/s = {:.2} of in-process",
                rate / base
            );
        }
        None => println!("TOTP on Redis: skipped, redis-server is not installed"),
    }

    let n = env_or("SEKIMORI_BENCH_CEREMONIES", 500);
    let times = ceremonies(&local, n).await;
    let pick = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "WebAuthn assertion, server side ({n} ceremonies, ES256): median {:.2} ms, p99 {:.2} ms",
        pick(0.5).as_secs_f64() * 1000.0,
        pick(0.99).as_secs_f64() * 1000.0
    );
}
