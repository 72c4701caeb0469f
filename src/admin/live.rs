//! Administration of live state: unlocking accounts and listing or ending their sessions.
//! These reach the state store (in-process or Redis) rather than the database.

use std::sync::Arc;

use serde::Serialize;

use super::{AccountAdmin, require_reason};
use crate::account::Account;
use crate::audit::{EventKind, Outcome};
use crate::error::Error;
use crate::lockout::{LockState, Zone};
use crate::session::{SessionRecord, SessionService};
use crate::state::{StateKey, StateStore};

#[derive(Debug, Clone)]
pub(super) struct Live {
    state: Arc<dyn StateStore>,
    sessions: SessionService,
}

/// The lock state of one zone, for display and for the unlock record.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneLock {
    pub zone: Zone,
    pub failures_in_window: u32,
    pub consecutive_failures: u32,
    pub locks: u32,
    /// JST text; none when not temporarily locked.
    pub locked_until: Option<String>,
    pub admin_unlock_required: bool,
}

impl ZoneLock {
    fn of(zone: Zone, s: &LockState, now: chrono::DateTime<chrono::Utc>) -> Self {
        let until = crate::clock::from_millis(s.locked_until_ms);
        Self {
            zone,
            failures_in_window: s.in_window,
            consecutive_failures: s.consecutive,
            locks: s.locks,
            locked_until: (s.locked_until_ms != 0 && until > now)
                .then(|| crate::clock::to_jst_string(until)),
            admin_unlock_required: s.hard_locked,
        }
    }

    pub fn is_locked(&self) -> bool {
        self.locked_until.is_some() || self.admin_unlock_required
    }
}

impl AccountAdmin {
    /// Give the administration access to live state (sessions, lockout counters).
    pub fn with_state(mut self, state: Arc<dyn StateStore>, sessions: SessionService) -> Self {
        self.live = Some(Live { state, sessions });
        self
    }

    fn live(&self) -> Result<&Live, Error> {
        self.live
            .as_ref()
            .ok_or_else(|| Error::Config("live state is not available here".into()))
    }

    /// The live state store, when there is one.
    pub(super) fn state(&self) -> Option<&Arc<dyn StateStore>> {
        self.live.as_ref().map(|l| &l.state)
    }

    /// End every session of an account; how many there were.
    pub(super) async fn end_sessions(&self, account: &Account) -> Result<usize, Error> {
        match &self.live {
            Some(live) => Ok(live.sessions.revoke_all(&account.id.to_string()).await?),
            None => Ok(0),
        }
    }

    /// The lock state of an account in each zone.
    pub async fn lock_state(&self, name: &str) -> Result<(Account, Vec<ZoneLock>), Error> {
        let live = self.live()?;
        let account = self.find(name).await?;
        let now = self.clock.now();
        let mut out = Vec::new();
        for zone in [Zone::Trusted, Zone::External] {
            let s = live
                .state
                .lockout_state(&StateKey::lockout(&account.username, zone))
                .await?;
            out.push(ZoneLock::of(zone, &s, now));
        }
        Ok((account, out))
    }

    /// Clear the failure counters of both zones, ending any temporary or hard lock.
    pub async fn unlock(
        &self,
        name: &str,
        reason: &str,
        actor: &str,
    ) -> Result<Vec<ZoneLock>, Error> {
        let reason = require_reason(reason)?;
        let (account, before) = self.lock_state(name).await?;
        let live = self.live()?;
        for zone in [Zone::Trusted, Zone::External] {
            live.state
                .lockout_reset(&StateKey::lockout(&account.username, zone))
                .await?;
        }
        self.auditor
            .record(
                self.event(
                    EventKind::AccountUnlocked,
                    Outcome::Success,
                    actor,
                    &account.username,
                )
                .detail("reason", reason)
                .detail("before", serde_json::to_value(&before).unwrap_or_default()),
            )
            .await?;
        Ok(before)
    }

    pub async fn sessions(&self, name: &str) -> Result<(Account, Vec<SessionRecord>), Error> {
        let live = self.live()?;
        let account = self.find(name).await?;
        let list = live.sessions.list(&account.id.to_string()).await?;
        Ok((account, list))
    }

    /// End one session (by its `sid`) or, with `None`, all of them.
    pub async fn revoke_sessions(
        &self,
        name: &str,
        sid: Option<&str>,
        reason: &str,
        actor: &str,
    ) -> Result<usize, Error> {
        let reason = require_reason(reason)?;
        let live = self.live()?;
        let (account, list) = self.sessions(name).await?;
        let id = account.id.to_string();
        let ended = match sid {
            Some(sid) => {
                if !list.iter().any(|s| s.sid == sid) {
                    return Err(Error::Invalid(format!(
                        "`{}` has no live session `{sid}`",
                        account.username
                    )));
                }
                live.sessions.revoke(&id, sid).await?;
                1
            }
            None => live.sessions.revoke_all(&id).await?,
        };
        self.auditor
            .record(
                self.event(
                    EventKind::SessionRevoked,
                    Outcome::Success,
                    actor,
                    &account.username,
                )
                .detail("reason", reason)
                .detail("sid", sid.unwrap_or("all"))
                .detail("sessions_ended", ended),
            )
            .await?;
        Ok(ended)
    }
}
