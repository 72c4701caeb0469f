//! Prometheus metrics: the names, the bounded label values, and the recorder. Counters of
//! sign-ins, locks, blocks and second factors are derived from the audit events as they are
//! committed (every decision is audited, so the two cannot disagree); forward-auth, hashing,
//! the stores and the audit log are measured where they happen. No label ever carries a
//! username, an address or any other unbounded value: values outside the known sets become
//! `other`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::audit::{AuditEvent, EventKind, Outcome};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets, seconds: 0.5 ms to 2.5 s.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Rows per audit commit.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The process's recorder (installed once; every gateway state in a process shares it).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        metrics_exporter_prometheus::Matcher::Full(
                            "sekimori_audit_batch_rows".into(),
                        ),
                        BATCH_BUCKETS,
                    )
                })
                .and_then(|b| b.install_recorder());
            match installed {
                Ok(h) => {
                    describe();
                    materialise();
                    Some(h)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// The exposition text.
pub fn render() -> Option<String> {
    handle().map(|h| {
        h.run_upkeep();
        h.render()
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "sekimori_sign_ins_total",
        "Sign-in steps by result, zone and channel"
    );
    describe_counter!("sekimori_locks_total", "Locks engaged, by zone and scope");
    describe_counter!(
        "sekimori_blocked_attempts_total",
        "Sign-ins refused before any check, by scope"
    );
    describe_counter!(
        "sekimori_second_factor_total",
        "Second-factor answers by method and result"
    );
    describe_counter!(
        "sekimori_forward_auth_total",
        "Forward-auth decisions by result and system"
    );
    describe_histogram!(
        "sekimori_forward_auth_seconds",
        "Forward-auth decision time"
    );
    describe_gauge!(
        "sekimori_hash_queue_depth",
        "Password hashes waiting for a worker or running"
    );
    describe_histogram!("sekimori_hash_seconds", "argon2id time per password check");
    describe_histogram!(
        "sekimori_store_round_trip_seconds",
        "Durable store round trip (probe)"
    );
    describe_counter!(
        "sekimori_store_errors_total",
        "Durable store errors by kind"
    );
    describe_histogram!(
        "sekimori_state_round_trip_seconds",
        "State store round trip (probe)"
    );
    describe_counter!("sekimori_state_errors_total", "State store errors");
    describe_histogram!(
        "sekimori_audit_append_seconds",
        "Audit append time, until the row is durable"
    );
    describe_histogram!(
        "sekimori_audit_batch_rows",
        "Rows committed together in one audit transaction (group commit)"
    );
    describe_gauge!(
        "sekimori_audit_rows_pending",
        "Audit rows being appended, not yet durable"
    );
    describe_gauge!(
        "sekimori_audit_verified_head",
        "The audit chain is verified up to this row"
    );
    describe_gauge!(
        "sekimori_audit_syslog_lag_rows",
        "Rows not yet delivered to the syslog copy"
    );
    describe_gauge!("sekimori_sessions_live", "Live sessions");
    describe_gauge!(
        "sekimori_breach_filter_loaded",
        "1 when the breach filter is loaded"
    );
    describe_gauge!(
        "sekimori_second_factor_coverage_ratio",
        "Live non-service accounts with a second factor"
    );
    describe_gauge!("sekimori_up", "1 while the gateway serves");
    describe_gauge!(
        "sekimori_store_up",
        "1 when the durable store answered the last probe"
    );
    describe_gauge!(
        "sekimori_state_up",
        "1 when the state store answered the last probe"
    );
}

/// Every family is exported from the start (at zero), so dashboards and alert rules see the
/// series before the first event.
fn materialise() {
    for code in ["store_unavailable", "store_read_only", "store_corrupt"] {
        counter!("sekimori_store_errors_total", "kind" => code).increment(0);
    }
    counter!("sekimori_state_errors_total").increment(0);
    for zone in ZONES {
        counter!("sekimori_locks_total", "zone" => *zone, "scope" => "password").increment(0);
    }
    for scope in ["address", "account"] {
        counter!("sekimori_blocked_attempts_total", "scope" => scope).increment(0);
    }
    for method in ["totp", "webauthn"] {
        for result in ["accepted", "refused"] {
            counter!("sekimori_second_factor_total", "method" => method, "result" => result)
                .increment(0);
        }
    }
    for name in [
        "sekimori_hash_queue_depth",
        "sekimori_audit_rows_pending",
        "sekimori_audit_syslog_lag_rows",
    ] {
        gauge!(name).increment(0.0);
    }
}

/// `value` when it is one of `known`, else `other`.
fn bounded(value: Option<&str>, known: &[&'static str]) -> &'static str {
    value
        .and_then(|v| known.iter().find(|k| **k == v).copied())
        .unwrap_or("other")
}

const ZONES: &[&str] = &["trusted", "external"];
const RESULTS: &[&str] = &[
    "success",
    "failure",
    "denied",
    "info",
    "second_factor_required",
    "enrolment_required",
    "password_change_required",
    "accepted",
    "enrolled",
];
const METHODS: &[&str] = &[
    "totp",
    "webauthn",
    "recovery_code",
    "break_glass_code",
    "passkey",
];
const SCOPES: &[&str] = &["address", "account", "password", "second_factor"];
const CHANNELS: &[&str] = &["web", "pam"];

/// Count what a committed audit event says about sign-ins, locks and second factors.
pub fn audited(e: &AuditEvent) {
    let d = |k: &str| e.detail.get(k).and_then(|v| v.as_str());
    let zone = bounded(d("zone"), ZONES);
    match e.kind {
        EventKind::LoginAttempt => {
            let result = d("result").unwrap_or(e.outcome.as_str());
            if d("step") == Some("second_factor") {
                let ok = if e.outcome == Outcome::Success {
                    "accepted"
                } else {
                    "refused"
                };
                counter!("sekimori_second_factor_total", "method" => bounded(d("method"), METHODS), "result" => ok)
                    .increment(1);
            }
            counter!(
                "sekimori_sign_ins_total",
                "result" => bounded(Some(result), RESULTS),
                "zone" => zone,
                "channel" => bounded(Some(d("channel").unwrap_or("web")), CHANNELS)
            )
            .increment(1);
        }
        EventKind::AccountLocked => {
            counter!("sekimori_locks_total", "zone" => zone, "scope" => bounded(Some(d("scope").unwrap_or("password")), SCOPES))
                .increment(1);
        }
        EventKind::LoginBlocked => {
            counter!("sekimori_blocked_attempts_total", "scope" => bounded(d("scope"), SCOPES))
                .increment(1);
        }
        _ => {}
    }
}

/// One forward-auth decision: `result` is `allow`, `redirect`, `deny`, `refused` (a request
/// read two ways) or `error`; `system` a configured system's id or `unknown`.
pub fn forward_auth(result: &'static str, system: &str, known: bool, took: Duration) {
    let system = if known {
        system.to_owned()
    } else {
        "unknown".to_owned()
    };
    counter!("sekimori_forward_auth_total", "result" => result, "system" => system).increment(1);
    histogram!("sekimori_forward_auth_seconds", "result" => result).record(took.as_secs_f64());
}

pub fn hash_queue(delta: f64) {
    gauge!("sekimori_hash_queue_depth").increment(delta);
}

pub fn hash_time(took: Duration) {
    histogram!("sekimori_hash_seconds").record(took.as_secs_f64());
}

pub fn store_error(code: &'static str) {
    counter!("sekimori_store_errors_total", "kind" => code).increment(1);
}

pub fn state_error() {
    counter!("sekimori_state_errors_total").increment(1);
}

pub fn round_trip(store: bool, took: Duration) {
    let name = if store {
        "sekimori_store_round_trip_seconds"
    } else {
        "sekimori_state_round_trip_seconds"
    };
    histogram!(name).record(took.as_secs_f64());
}

pub fn audit_pending(delta: f64) {
    gauge!("sekimori_audit_rows_pending").increment(delta);
}

pub fn audit_append(took: Duration) {
    histogram!("sekimori_audit_append_seconds").record(took.as_secs_f64());
}

/// Rows one audit transaction committed (the group commit's batch).
pub fn audit_batch(rows: usize) {
    histogram!("sekimori_audit_batch_rows").record(rows as f64);
}

pub fn set(name: &'static str, value: f64) {
    gauge!(name).set(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_in_their_sets() {
        assert_eq!(bounded(Some("trusted"), ZONES), "trusted");
        assert_eq!(bounded(Some("yamada@clinic"), ZONES), "other");
        assert_eq!(bounded(None, METHODS), "other");
    }
}
