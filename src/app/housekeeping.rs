//! The gateway's periodic task (`[accounts] housekeeping_interval_seconds`): fixed-term
//! accounts are disabled when their end comes (audited with reason `expired`), dormant
//! accounts too when `[accounts] disable_dormant` asks for it (reason `dormant`; never service
//! or emergency accounts), and maintenance windows have their opening and closing recorded
//! (a closed window's vendor sessions end). Each run takes `now` from the clock once.

use chrono::{DateTime, Utc};

use super::AppState;
use crate::account::{AccountStatus, AccountType};
use crate::error::Error;

/// The actor housekeeping changes are recorded under.
pub const ACTOR: &str = "system:housekeeping";

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub expired: usize,
    pub dormant: usize,
    pub windows: usize,
}

/// One run at `now`.
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> Result<Summary, Error> {
    let mut summary = Summary::default();
    let accounts = &state.config.accounts;
    for a in state.admin.list().await? {
        if a.status == AccountStatus::Disabled {
            continue;
        }
        let name = a.username.as_str();
        if a.expired_at(now) {
            state.admin.disable(name, "expired", ACTOR).await?;
            summary.expired += 1;
        } else if accounts.disable_dormant
            && !matches!(
                a.account_type,
                AccountType::Service | AccountType::Emergency
            )
            && a.dormant_since(now, accounts.dormant_after_days)
        {
            state.admin.disable(name, "dormant", ACTOR).await?;
            summary.dormant += 1;
        }
    }
    summary.windows = state.windows.announce(now).await?;
    Ok(summary)
}

/// Run forever on the configured interval (the first run at once). A failed run is logged
/// and retried at the next tick: housekeeping never stops the gateway.
pub fn spawn(state: AppState) {
    let every = state.config.accounts.housekeeping_interval;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&state, state.clock.now()).await {
                Ok(s) if s != Summary::default() => tracing::info!(
                    expired = s.expired,
                    dormant = s.dormant,
                    windows = s.windows,
                    "housekeeping"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "housekeeping failed; retried at the next run")
                }
            }
        }
    });
}
