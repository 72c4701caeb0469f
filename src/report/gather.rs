//! Reading what the report needs from the live stores, once: accounts with their factors,
//! devices, windows, break-glass uses, the audit log's last 30 days (sign-ins by system,
//! failures and locks by zone), the chain and its checkpoints, the syslog copy. The figures
//! and sections are then computed from this snapshot without further reads.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::model::{AuditFigures, CheckpointFigure, SyslogFigure, Text};
use crate::account::Account;
use crate::app::AppState;
use crate::audit::verify::{CheckpointSources, FullReport, verify_all};
use crate::audit::{AuditRecord, EventKind, Outcome};
use crate::config::Config;
use crate::device::Device;
use crate::emergency::BreakGlassEvent;
use crate::error::Error;
use crate::store::{AuditQuery, FactorRecord};
use crate::vendor::Window;

const BATCH: u64 = 5_000;

/// One sign-in of the last 30 days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    pub system: String,
    pub second_factor: bool,
}

/// A failed sign-in or a lock of the last 30 days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub at: DateTime<Utc>,
    pub trusted: bool,
    pub lock: bool,
}

/// How thoroughly to check the chain: all of it (the CLI), or what the console's running
/// verifier has reached plus the newest checkpoints (a page must answer quickly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Full,
    Console,
}

/// Everything the report is computed from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub as_of: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    pub config: Arc<Config>,
    pub accounts: Vec<(Account, Vec<FactorRecord>)>,
    pub devices: Vec<Device>,
    pub windows: Vec<Window>,
    pub break_glass_open: Vec<BreakGlassEvent>,
    /// Entries and size of the loaded breach filter.
    pub breach: Option<(u64, u64)>,
    pub blocklist_entries: usize,
    pub hash: crate::crypto::hash::HashParams,
    pub bootstrap_file: bool,
    pub sign_ins: Vec<SignIn>,
    pub failures: Vec<Failure>,
    pub resets_365_days: u64,
    pub audit: AuditFigures,
}

/// Every row matching `base`, in batches.
async fn rows(state: &AppState, base: AuditQuery) -> Result<Vec<AuditRecord>, Error> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let batch = state
            .stores
            .audit
            .query_audit(&AuditQuery {
                after_seq: after,
                limit: Some(BATCH),
                ..base.clone()
            })
            .await?;
        let full = batch.len() as u64 == BATCH;
        after = batch.last().map(|r| r.seq);
        out.extend(batch);
        if !full {
            return Ok(out);
        }
    }
}

fn in_range(
    kind: EventKind,
    outcome: Option<Outcome>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AuditQuery {
    AuditQuery {
        kind: Some(kind.as_str().to_owned()),
        outcome: outcome.map(|o| o.as_str().to_owned()),
        from: Some(from),
        to: Some(to),
        ..AuditQuery::default()
    }
}

pub async fn snapshot(
    state: &AppState,
    as_of: DateTime<Utc>,
    depth: Depth,
) -> Result<Snapshot, Error> {
    let config = state.config.clone();
    let facility = &config.facility.id;
    let mut accounts = Vec::new();
    for a in state.admin.list().await? {
        let factors = state.stores.factors.list_factors(a.id).await?;
        accounts.push((a, factors));
    }
    let devices = state.stores.devices.list_devices(facility).await?;
    let windows = state.stores.windows.list_windows(facility, None).await?;
    let break_glass_open = state
        .stores
        .break_glass
        .list_break_glass(facility, true)
        .await?;
    let breach = state
        .passwords
        .breach_filter()
        .map(|f| (f.entries(), f.serialized_len() as u64));

    let month_ago = as_of - Duration::days(30);
    let sign_ins = rows(
        state,
        in_range(
            EventKind::LoginAttempt,
            Some(Outcome::Success),
            month_ago,
            as_of,
        ),
    )
    .await?
    .iter()
    .map(|r| SignIn {
        system: detail_str(r, "system").unwrap_or_default(),
        second_factor: r
            .event
            .detail
            .get("amr")
            .and_then(|a| serde_json::from_value::<Vec<String>>(a.clone()).ok())
            .is_some_and(|amr| crate::auth::pam::has_second_factor(&amr)),
    })
    .collect();
    let mut failures: Vec<Failure> = Vec::new();
    for (kind, outcome, lock) in [
        (EventKind::LoginAttempt, Some(Outcome::Failure), false),
        (EventKind::AccountLocked, None, true),
    ] {
        for r in rows(state, in_range(kind, outcome, month_ago, as_of)).await? {
            failures.push(Failure {
                at: r.at,
                trusted: detail_str(&r, "zone").as_deref() == Some("trusted"),
                lock,
            });
        }
    }
    let resets_365_days = rows(
        state,
        in_range(
            EventKind::PasswordReset,
            None,
            as_of - Duration::days(365),
            as_of,
        ),
    )
    .await?
    .len() as u64;
    let sign_in_events = rows(
        state,
        in_range(EventKind::LoginAttempt, None, month_ago, as_of),
    )
    .await?
    .len() as u64;
    let auditors = accounts
        .iter()
        .filter(|(a, _)| {
            a.status != crate::account::AccountStatus::Disabled
                && a.roles.iter().any(|r| r.as_str() == "auditor")
        })
        .count() as u64;
    let mut audit = audit_figures(state, depth).await?;
    audit.auditors = auditors;
    audit.sign_in_events_30_days = sign_in_events;
    Ok(Snapshot {
        as_of,
        generated_at: state.clock.now(),
        hash: state.passwords.hasher().params(),
        blocklist_entries: state.passwords.blocklist_len(),
        bootstrap_file: crate::admin::bootstrap::secret_path(&config).exists(),
        config,
        accounts,
        devices,
        windows,
        break_glass_open,
        breach,
        sign_ins,
        failures,
        resets_365_days,
        audit,
    })
}

fn detail_str(r: &AuditRecord, key: &str) -> Option<String> {
    r.event
        .detail
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// The chain's state, its checkpoints and the syslog copy.
async fn audit_figures(state: &AppState, depth: Depth) -> Result<AuditFigures, Error> {
    let store = state.stores.audit.clone();
    let public = state.signer.as_ref().map(|s| *s.public_key());
    let edge = |newest| AuditQuery {
        limit: Some(1),
        newest_first: newest,
        ..AuditQuery::default()
    };
    let first = store.query_audit(&edge(false)).await?;
    let last = store.query_audit(&edge(true)).await?;
    let head = last.first().map_or(0, |r| r.seq);
    let (chain, complete, checkpoints, scope) = match depth {
        Depth::Full => {
            let FullReport { chain, checkpoints } = verify_all(
                store.as_ref(),
                CheckpointSources {
                    file: &state.config.audit.checkpoint_file,
                    copy: None,
                    public: public.as_ref(),
                },
            )
            .await?;
            (chain, true, checkpoints, "full")
        }
        Depth::Console => {
            let view = state.chain.view(store.clone()).await?;
            let cps =
                crate::audit::verify::latest_checkpoints(store.as_ref(), public.as_ref(), head, 10)
                    .await?;
            (view.report, view.complete, cps, "latest")
        }
    };
    let signer_problem = state.audit_key_problem.clone().or_else(|| {
        state.signer.as_ref().and_then(|s| {
            let st = s.status();
            st.refused.or(st.file_error)
        })
    });
    let mut checkpoint_problems: Vec<Text> = checkpoints
        .problems
        .iter()
        .map(|p| Text {
            en: p.describe_en(),
            ja: p.describe_ja(),
        })
        .collect();
    checkpoint_problems.extend(signer_problem.map(|p| Text {
        ja: format!("チェックポイントを署名できません: {p}"),
        en: format!("checkpoints cannot be signed: {p}"),
    }));
    let syslog = match &state.config.audit.syslog {
        None => None,
        Some(target) => {
            let live = state.forwarder.as_ref().map(|f| f.status());
            let delivered = store.delivered_seq(&target.name()).await?;
            Some(SyslogFigure {
                target: target.name(),
                delivered_seq: delivered,
                lag: (head - delivered).max(0),
                connected: live.as_ref().map(|s| s.connected),
                last_error: live.and_then(|s| s.last_error),
            })
        }
    };
    Ok(AuditFigures {
        rows: head,
        first_row_at: first.first().map(|r| r.at_text.clone()),
        last_row_at: last.first().map(|r| r.at_text.clone()),
        chain_intact: chain.is_intact(),
        chain_complete: complete,
        verified_up_to: chain.verified_up_to,
        problems: chain
            .problems
            .iter()
            .map(|p| Text {
                en: p.describe_en(),
                ja: p.describe_ja(),
            })
            .collect(),
        last_checkpoint: checkpoints.last.as_ref().map(|c| CheckpointFigure {
            seq: c.seq,
            at: c.at.clone(),
            key_id: c.key_id.clone(),
        }),
        checkpoints: checkpoints.checked,
        unsigned_rows: checkpoints.unsigned_rows,
        checkpoint_problems,
        checkpoint_scope: scope,
        syslog,
        auditors: 0,
        sign_in_events_30_days: 0,
    })
}
