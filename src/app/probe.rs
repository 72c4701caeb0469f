//! The gauges nobody updates on the way: a round trip to each store, live sessions, the
//! audit chain's verified head, the syslog copy's lag, the breach filter, and second-factor
//! coverage (every few minutes: it reads every account). Runs in the gateway every 10 s.

use std::time::{Duration, Instant};

use super::AppState;
use crate::metrics::{round_trip, set};

const EVERY: Duration = Duration::from_secs(10);
/// Coverage reads every account's factors: once in this many rounds.
const COVERAGE_EVERY: u32 = 30;

/// Live non-service accounts with a second factor, as a ratio (none without accounts).
async fn coverage(state: &AppState) -> Option<f64> {
    let accounts = state.admin.list().await.ok()?;
    let (mut all, mut with) = (0u64, 0u64);
    for a in accounts.iter().filter(|a| {
        a.status != crate::account::AccountStatus::Disabled
            && a.account_type != crate::account::AccountType::Service
    }) {
        all += 1;
        let factors = state.stores.factors.list_factors(a.id).await.ok()?;
        with += u64::from(crate::report::figures::has_second_factor(a, &factors));
    }
    (all > 0).then(|| with as f64 / all as f64)
}

/// One round; `coverage_due` also counts second-factor coverage. Whether coverage was set.
pub async fn run_once(state: &AppState, coverage_due: bool) -> bool {
    let t = Instant::now();
    let store_up = state.stores.health.ping().await.is_ok();
    if store_up {
        round_trip(true, t.elapsed());
    }
    set("sekimori_store_up", f64::from(u8::from(store_up)));
    let t = Instant::now();
    let state_up = state.state.ping().await.is_ok();
    if state_up {
        round_trip(false, t.elapsed());
    }
    set("sekimori_state_up", f64::from(u8::from(state_up)));
    if let Ok(Some(n)) = state.state.count_sessions().await {
        set("sekimori_sessions_live", n as f64);
    }
    set(
        "sekimori_breach_filter_loaded",
        f64::from(u8::from(state.passwords.breach_filter().is_some())),
    );
    set(
        "sekimori_audit_verified_head",
        state.chain.verified_up_to() as f64,
    );
    if let Some(f) = &state.forwarder {
        set("sekimori_audit_syslog_lag_rows", f.status().lag() as f64);
    }
    let mut covered = false;
    if coverage_due && let Some(c) = coverage(state).await {
        set("sekimori_second_factor_coverage_ratio", c);
        covered = true;
    }
    set("sekimori_up", 1.0);
    covered
}

pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Coverage until it is known once (a fresh gateway has no account at its first
        // round), then every COVERAGE_EVERY rounds.
        let mut since = COVERAGE_EVERY;
        loop {
            tick.tick().await;
            let due = since >= COVERAGE_EVERY;
            if run_once(&state, due).await {
                since = 0;
            }
            since = since.saturating_add(1);
        }
    });
}
