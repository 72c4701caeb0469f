//! The state-store conformance suite, run against the in-process store and a real Redis:
//! TTLs, single-use values, counters, the replay guard, and the lockout model compared step
//! by step with the pure reference machine in `sekimori::lockout`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use sekimori::account::Username;
use sekimori::lockout::{Blocked, LockState, LockoutPolicy, Zone};
use sekimori::state::memory::MemoryState;
use sekimori::state::redis::RedisState;
use sekimori::state::{StateError, StateKey, StateStore};

use crate::redis_server::RedisServer;

fn key(name: &str) -> StateKey {
    StateKey::login_flow(name)
}

async fn conformance(s: Arc<dyn StateStore>) {
    s.ping().await.unwrap();
    // put / get / delete / TTL.
    s.put(&key("a"), b"one", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        s.get(&key("a")).await.unwrap().as_deref(),
        Some(&b"one"[..])
    );
    s.put(&key("a"), b"two", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        s.get(&key("a")).await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
    s.delete(&key("a")).await.unwrap();
    assert_eq!(s.get(&key("a")).await.unwrap(), None);
    s.put(&key("short"), b"x", Duration::from_millis(150))
        .await
        .unwrap();
    assert!(
        s.touch(&key("short"), Duration::from_millis(600))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        s.get(&key("short")).await.unwrap().is_some(),
        "touch extended the TTL"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.get(&key("short")).await.unwrap(), None, "expired");
    assert!(
        !s.touch(&key("short"), Duration::from_secs(1))
            .await
            .unwrap()
    );

    // take: of 50 concurrent takers exactly one gets the value.
    s.put(&key("once"), b"flow-state", Duration::from_secs(60))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let s = s.clone();
        tasks.push(tokio::spawn(
            async move { s.take(&key("once")).await.unwrap() },
        ));
    }
    let mut winners = 0;
    for t in tasks {
        if let Some(v) = t.await.unwrap() {
            assert_eq!(v, b"flow-state");
            winners += 1;
        }
    }
    assert_eq!(winners, 1);

    // incr_window: counts, then starts over after the window.
    let ip = StateKey::ip_attempts("192.0.2.7".parse().unwrap());
    s.delete(&ip).await.unwrap();
    for n in 1..=3 {
        assert_eq!(
            s.incr_window(&ip, Duration::from_millis(300))
                .await
                .unwrap(),
            n
        );
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        s.incr_window(&ip, Duration::from_millis(300))
            .await
            .unwrap(),
        1
    );

    // advance_if_greater: the replay guard; concurrent equal values accepted once.
    let step = StateKey::totp_step("acct-1");
    s.delete(&step).await.unwrap();
    assert!(
        s.advance_if_greater(&step, 100, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !s.advance_if_greater(&step, 100, Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !s.advance_if_greater(&step, 99, Duration::from_secs(60))
            .await
            .unwrap()
    );
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (s, step) = (s.clone(), step.clone());
        tasks.push(tokio::spawn(async move {
            s.advance_if_greater(&step, 101, Duration::from_secs(60))
                .await
                .unwrap()
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += usize::from(t.await.unwrap());
    }
    assert_eq!(accepted, 1);

    lockout_matches_the_model(s.as_ref()).await;
    lockout_burst_reserves_exactly_threshold(s.clone(), s.clone()).await;
}

/// Drive the store and the pure model with the same pseudo-random schedule of attempts,
/// successes and pauses; every answer and the final state must agree.
async fn lockout_matches_the_model(s: &dyn StateStore) {
    let policy = LockoutPolicy::default();
    let user = Username::parse("model-check").unwrap();
    let k = StateKey::lockout(&user, Zone::External);
    s.lockout_reset(&k).await.unwrap();
    let mut model = LockState::default();
    let mut now = Utc.with_ymd_and_hms(2027, 4, 1, 9, 0, 0).unwrap();
    let mut seed: u64 = 0x5EED;
    for step in 0..600 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let r = (seed >> 33) % 100;
        now += chrono::Duration::seconds(match r {
            0..=69 => 1,
            70..=89 => 60 * 5,
            _ => 60 * 60 * 3,
        } as i64);
        if r < 4 {
            model.succeed();
            s.lockout_reset(&k).await.unwrap();
            continue;
        }
        let expected = model.begin_attempt(now, &policy);
        let got = s.lockout_begin(&k, now, &policy).await.unwrap();
        assert_eq!(got, expected, "step {step} at {now}");
    }
    assert_eq!(s.lockout_state(&k).await.unwrap(), model);
}

/// 200 parallel attempts, spread over two store handles: only `threshold` are reserved.
async fn lockout_burst_reserves_exactly_threshold(a: Arc<dyn StateStore>, b: Arc<dyn StateStore>) {
    let policy = LockoutPolicy::default();
    let k = StateKey::lockout(&Username::parse("burst").unwrap(), Zone::External);
    a.lockout_reset(&k).await.unwrap();
    let now = Utc.with_ymd_and_hms(2027, 4, 1, 9, 0, 0).unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (s, k) = (if i % 2 == 0 { a.clone() } else { b.clone() }, k.clone());
        tasks.push(tokio::spawn(async move {
            s.lockout_begin(&k, now, &policy).await.unwrap()
        }));
    }
    let mut reserved = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => reserved += 1,
            Err(Blocked::Until(until)) => assert_eq!(until, now + chrono::Duration::minutes(15)),
            Err(Blocked::UntilAdminUnlock) => panic!("not a hard lock"),
        }
    }
    assert_eq!(reserved, policy.threshold);
}

#[tokio::test]
async fn memory_store_passes_the_conformance_suite() {
    conformance(Arc::new(MemoryState::new())).await;
}

#[tokio::test]
async fn redis_store_passes_the_conformance_suite() {
    let redis = RedisServer::start();
    conformance(Arc::new(RedisState::connect_lazy(&redis.url()).unwrap())).await;
}

#[tokio::test]
async fn two_gateways_sharing_one_redis_reserve_exactly_threshold() {
    let redis = RedisServer::start();
    let a: Arc<dyn StateStore> = Arc::new(RedisState::connect_lazy(&redis.url()).unwrap());
    let b: Arc<dyn StateStore> = Arc::new(RedisState::connect_lazy(&redis.url()).unwrap());
    lockout_burst_reserves_exactly_threshold(a, b).await;
}

#[tokio::test]
async fn hard_lock_outlives_every_ttl_in_redis() {
    let redis = RedisServer::start();
    let s = RedisState::connect_lazy(&redis.url()).unwrap();
    let policy = LockoutPolicy {
        threshold: 1000,
        ..LockoutPolicy::default()
    };
    let k = StateKey::lockout(&Username::parse("hard").unwrap(), Zone::Trusted);
    let now = Utc.with_ymd_and_hms(2027, 4, 1, 9, 0, 0).unwrap();
    for _ in 0..100 {
        s.lockout_begin(&k, now, &policy).await.unwrap().unwrap();
    }
    let ttl: i64 = {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("PTTL")
            .arg(k.as_str())
            .query_async(&mut c)
            .await
            .unwrap()
    };
    assert_eq!(ttl, -1, "a hard lock has no expiry");
    assert_eq!(
        s.lockout_begin(&k, now + chrono::Duration::days(30), &policy)
            .await
            .unwrap(),
        Err(Blocked::UntilAdminUnlock)
    );
    s.lockout_reset(&k).await.unwrap();
    assert!(s.lockout_begin(&k, now, &policy).await.unwrap().is_ok());
}

#[tokio::test]
async fn redis_outage_is_an_error_quickly_and_never_an_answer() {
    let mut redis = RedisServer::start();
    let s = RedisState::connect_lazy(&redis.url()).unwrap();
    s.ping().await.unwrap();
    redis.stop();
    let started = std::time::Instant::now();
    let k = StateKey::lockout(&Username::parse("outage").unwrap(), Zone::External);
    let r = s
        .lockout_begin(&k, Utc::now(), &LockoutPolicy::default())
        .await;
    assert!(matches!(r, Err(StateError::Unavailable(_))), "{r:?}");
    assert!(matches!(
        s.get(&key("x")).await,
        Err(StateError::Unavailable(_))
    ));
    assert!(matches!(s.ping().await, Err(StateError::Unavailable(_))));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fails fast: {:?}",
        started.elapsed()
    );
    // A gateway configured with an unreachable Redis also fails closed from the start.
    let never = RedisState::connect_lazy("redis://127.0.0.1:1/").unwrap();
    assert!(matches!(
        never.ping().await,
        Err(StateError::Unavailable(_))
    ));
}

#[tokio::test]
async fn readyz_names_a_redis_outage() {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    let mut redis = RedisServer::start();
    let env = crate::support::Env::new();
    let state = env
        .state_with(&format!(
            "[state]\nbackend = \"redis\"\nredis_url = \"{}\"\n",
            redis.url()
        ))
        .await;
    let app = sekimori::build_router(state);
    let ready = |app: axum::Router| async move {
        let res = app
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let body: serde_json::Value =
            serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        (status, body)
    };
    let (s, b) = ready(app.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["checks"]["state"], "ok");
    redis.stop();
    let (s, b) = ready(app).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(
        b["checks"],
        serde_json::json!({ "store": "ok", "state": "state_unavailable" })
    );
}
