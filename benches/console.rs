//! Auditor console figures with a large audit log: 500,000 chained rows written straight into
//! the SQLite file (the same hash chain as the gateway writes), then the real router:
//!
//! - the first page on a fresh gateway (includes verifying the whole chain once),
//! - the first page again (the chain is then checked incrementally),
//! - a filter by user and event type, a zone filter (a detail field), and a deep page.
//!
//! Run: `cargo bench --bench console`. `SEKIMORI_BENCH_AUDIT_ROWS` changes the row count.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt as _;
use sekimori::account::FacilityId;
use sekimori::audit::chain::{GENESIS, row_hash};
use sekimori::audit::{AuditEvent, EventKind, Outcome, PendingRecord};
use sekimori::clock::to_jst_string;
use tower::ServiceExt as _;

mod common;
use common::{gateway, session_cookie, user};

/// Write `n` chained rows after the ones already there.
async fn fill(db: &std::path::Path, n: usize) {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    // Test data only: the gateway itself writes with synchronous=FULL.
    sqlx::query("PRAGMA synchronous = OFF")
        .execute(&pool)
        .await
        .unwrap();
    let (mut seq, mut prev): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&pool)
            .await
            .unwrap()
            .unwrap_or((0, GENESIS.to_owned()));
    let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    let kinds = [
        (EventKind::LoginAttempt, Outcome::Success),
        (EventKind::LoginAttempt, Outcome::Failure),
        (EventKind::AccountLocked, Outcome::Info),
        (EventKind::LoginBlocked, Outcome::Denied),
    ];
    for chunk in 0..n.div_ceil(10_000) {
        let mut tx = pool.begin().await.unwrap();
        for i in chunk * 10_000..((chunk + 1) * 10_000).min(n) {
            let (kind, outcome) = kinds[i % 7 % 4];
            let at = t0 + chrono::Duration::seconds(i as i64 * 20);
            let mut event = AuditEvent::new(FacilityId("default".into()), kind, outcome)
                .subject(format!("user{}", i % 500))
                .detail("zone", if i % 3 == 0 { "trusted" } else { "external" })
                .detail("failures_in_window", (i % 5) as u64);
            event.ip = Some(format!("192.0.2.{}", i % 250));
            let p = PendingRecord {
                event_id: uuid::Uuid::now_v7(),
                at,
                at_text: to_jst_string(at),
                event,
            };
            let hash = row_hash(&prev, &p);
            seq += 1;
            let e = &p.event;
            sqlx::query(
                "INSERT INTO audit_log (seq, event_id, facility_id, at, at_ms, kind, outcome, actor, \
                 subject, ip, device, detail, prev_hash, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .bind(seq)
            .bind(p.event_id.to_string())
            .bind(&e.facility_id.0)
            .bind(&p.at_text)
            .bind(at.timestamp_millis())
            .bind(e.kind.as_str())
            .bind(e.outcome.as_str())
            .bind(&e.actor)
            .bind(&e.subject)
            .bind(&e.ip)
            .bind(&e.device)
            .bind(serde_json::to_string(&e.detail).unwrap())
            .bind(&prev)
            .bind(&hash)
            .execute(&mut *tx)
            .await
            .unwrap();
            prev = hash;
        }
        tx.commit().await.unwrap();
    }
    pool.close().await;
}

async fn time(app: &axum::Router, cookie: &str, path: &str) -> (Duration, usize) {
    let req = Request::get(path)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let t = Instant::now();
    let res = app.clone().oneshot(req).await.unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let elapsed = t.elapsed();
    let rows = String::from_utf8_lossy(&body).matches("<tr><td>").count();
    (elapsed, rows)
}

/// The median of `n` runs, in milliseconds, and the rows of the page.
async fn median(app: &axum::Router, cookie: &str, path: &str, n: usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..n {
        let (d, r) = time(app, cookie, path).await;
        times.push(d);
        rows = r;
    }
    times.sort();
    (times[n / 2].as_secs_f64() * 1000.0, rows)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("SEKIMORI_BENCH_AUDIT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    let dir = tempfile::tempdir().unwrap();
    {
        let state = gateway(dir.path(), "").await;
        user(&state, "kansa", &["auditor"]).await;
        state.close().await;
    }
    let t = Instant::now();
    fill(&dir.path().join("data/sekimori.db"), n).await;
    println!(
        "wrote {n} chained audit rows in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // A fresh gateway: its first console page verifies the whole chain.
    let state = gateway(dir.path(), "").await;
    let cookie = session_cookie(&state, "kansa", "portal").await;
    let app = sekimori::build_router(state.clone());
    let (first, rows) = time(&app, &cookie, "/audit").await;
    assert_eq!(rows, 50);
    println!(
        "first page, fresh gateway (the chain's {n} rows are verified in the background): {:.1} ms",
        first.as_secs_f64() * 1000.0
    );
    let t = Instant::now();
    loop {
        let v = state.chain.view(state.stores.audit.clone()).await.unwrap();
        if v.complete {
            println!(
                "chain verified up to row {} after {:.1} s in the background",
                v.report.verified_up_to,
                t.elapsed().as_secs_f64() + first.as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (label, path) in [
        ("first page, chain already verified", "/audit".to_owned()),
        (
            "filter: one user's lockouts",
            "/audit?user=user123&kind=account_locked".to_owned(),
        ),
        (
            "filter: zone (a detail field) + event type",
            "/audit?zone=trusted&kind=login_blocked".to_owned(),
        ),
        ("filter: one address", "/audit?ip=192.0.2.77".to_owned()),
        (
            "deep page (before the middle row)",
            format!("/audit?before={}", n / 2),
        ),
    ] {
        let (ms, rows) = median(&app, &cookie, &path, 7).await;
        println!("{label}: median {ms:.1} ms ({rows} rows)");
    }
}
