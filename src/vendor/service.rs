//! Maintenance windows kept and audited: adding one (vendor accounts only, for a configured
//! system or a registered server), cancelling one before it opens or ending it early, the
//! window a vendor's sign-in falls in, the opening and closing of each window in the audit
//! log (closing ends the vendor's sessions of that window), and the work report: every audit
//! row that carries the window's id.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{NewWindow, Phase, Window, WindowState, new_id};
use crate::account::{Account, AccountType, FacilityId};
use crate::audit::{AuditEvent, AuditRecord, Auditor, EventKind, Outcome};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::Error;
use crate::session::SessionService;
use crate::store::{AuditQuery, Stores};

/// The audit detail key every row of a window's work carries.
pub const DETAIL_KEY: &str = "maintenance_window";

#[derive(Debug, Clone)]
pub struct WindowService {
    stores: Stores,
    auditor: Auditor,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    sessions: SessionService,
}

fn refused(message: impl Into<String>) -> Error {
    Error::Invalid(message.into())
}

impl WindowService {
    pub fn new(
        stores: Stores,
        auditor: Auditor,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        sessions: SessionService,
    ) -> Self {
        Self {
            stores,
            auditor,
            clock,
            config,
            sessions,
        }
    }

    fn facility(&self) -> &FacilityId {
        &self.config.facility.id
    }

    fn event(&self, kind: EventKind, actor: &str, w: &Window, subject: &str) -> AuditEvent {
        AuditEvent::new(self.facility().clone(), kind, Outcome::Info)
            .actor(actor)
            .subject(subject)
            .detail(DETAIL_KEY, w.id.as_str())
            .detail("system", w.system.as_str())
            .detail("from", crate::clock::to_jst_string(w.starts_at))
            .detail("to", crate::clock::to_jst_string(w.ends_at))
    }

    /// A window's system as stored: a `[systems.*]` id, or a registered device's name as
    /// `device:NAME` (servers signed in to through PAM).
    pub async fn resolve_system(&self, system: &str) -> Result<String, Error> {
        let name = system.trim();
        if self.config.system(name).is_some() {
            return Ok(name.to_owned());
        }
        let device = name
            .strip_prefix(crate::device::DEVICE_PREFIX)
            .unwrap_or(name);
        if self
            .stores
            .devices
            .find_device(self.facility(), device)
            .await?
            .is_some()
        {
            return Ok(format!("{}{device}", crate::device::DEVICE_PREFIX));
        }
        let known: Vec<&str> = self.config.systems.iter().map(|s| s.id.as_str()).collect();
        Err(refused(format!(
            "no system `{name}`: use a [systems.*] id ({}) or a registered device's name",
            known.join(", ")
        )))
    }

    async fn vendor(&self, name: &str) -> Result<Account, Error> {
        let username = crate::account::Username::parse(name)?;
        let account = self
            .stores
            .accounts
            .find_account_by_username(self.facility(), &username)
            .await?
            .ok_or_else(|| Error::AccountNotFound(username.to_string()))?;
        if account.account_type != AccountType::Vendor {
            return Err(refused(format!(
                "`{}` is a {} account: maintenance windows are for vendor accounts",
                account.username, account.account_type
            )));
        }
        Ok(account)
    }

    /// Approve a window for a vendor account.
    pub async fn add(&self, account: &str, new: NewWindow, actor: &str) -> Result<Window, Error> {
        let now = self.clock.now();
        let vendor = self.vendor(account).await?;
        new.validate(now).map_err(|e| refused(e.to_string()))?;
        crate::account::validate_text_field("reason", &new.reason, 500).map_err(refused)?;
        crate::account::validate_text_field("approver", &new.approved_by, 200).map_err(refused)?;
        let window = Window {
            id: new_id(),
            facility_id: self.facility().clone(),
            account_id: vendor.id,
            system: self.resolve_system(&new.system).await?,
            starts_at: new.starts_at,
            ends_at: new.ends_at,
            reason: new.reason.trim().to_owned(),
            approved_by: new.approved_by.trim().to_owned(),
            created_by: actor.to_owned(),
            created_at: now,
            state: WindowState::Scheduled,
            closed_at: None,
            closed_by: None,
            close_reason: None,
            opened_logged: false,
            closed_logged: false,
        };
        self.stores.windows.insert_window(&window).await?;
        self.auditor
            .record(
                self.event(
                    EventKind::MaintenanceWindowScheduled,
                    actor,
                    &window,
                    vendor.username.as_str(),
                )
                .detail("reason", window.reason.as_str())
                .detail("approved_by", window.approved_by.as_str()),
            )
            .await?;
        Ok(window)
    }

    /// The facility's windows (one vendor's, if named) with each vendor's username.
    pub async fn list(&self, account: Option<&str>) -> Result<Vec<(Window, String)>, Error> {
        let id = match account {
            Some(a) => Some(self.vendor(a).await?.id),
            None => None,
        };
        let windows = self
            .stores
            .windows
            .list_windows(self.facility(), id)
            .await?;
        let mut out = Vec::with_capacity(windows.len());
        for w in windows {
            let name = self
                .stores
                .accounts
                .get_account(w.account_id)
                .await
                .map(|a| a.username.as_str().to_owned())
                .unwrap_or_default();
            out.push((w, name));
        }
        Ok(out)
    }

    pub async fn get(&self, id: &str) -> Result<Window, Error> {
        self.stores
            .windows
            .find_window(self.facility(), id.trim())
            .await?
            .ok_or_else(|| refused(format!("no maintenance window `{}`", id.trim())))
    }

    /// Withdraw a window before it opens (`cancel`) or close it early while it is open
    /// (`end`). Closing is announced (and the vendor's sessions of it end) at once.
    pub async fn close(
        &self,
        id: &str,
        end: bool,
        reason: &str,
        actor: &str,
    ) -> Result<Window, Error> {
        let reason = crate::admin::require_reason(reason)?;
        let now = self.clock.now();
        let w = self.get(id).await?;
        let (state, wrong) = match (end, w.phase(now)) {
            (false, Phase::Upcoming) => (WindowState::Cancelled, None),
            (true, Phase::Open) => (WindowState::Ended, None),
            (false, Phase::Open) => (WindowState::Ended, Some("is open: end it instead")),
            (true, Phase::Upcoming) => (
                WindowState::Cancelled,
                Some("has not opened: cancel it instead"),
            ),
            (_, Phase::Over) => (WindowState::Ended, Some("is over already")),
        };
        if let Some(why) = wrong {
            return Err(refused(format!("maintenance window {} {why}", w.id)));
        }
        if !self
            .stores
            .windows
            .close_window(&w.id, state, now, actor, reason)
            .await?
        {
            return Err(refused(format!(
                "maintenance window {} is closed already",
                w.id
            )));
        }
        self.announce(now).await?;
        self.get(&w.id).await
    }

    /// The window a vendor account's sign-in to `system` falls in, if any.
    pub async fn open_for(
        &self,
        account: &Account,
        system: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Window>, Error> {
        if account.account_type != AccountType::Vendor {
            return Ok(None);
        }
        Ok(self
            .stores
            .windows
            .open_window(account.id, system, now)
            .await?)
    }

    /// Put each window's opening and closing into the audit log once; a closed window's
    /// sessions end. Runs from the housekeeping task and after a window is closed early.
    pub async fn announce(&self, now: DateTime<Utc>) -> Result<usize, Error> {
        let mut done = 0;
        for w in self.stores.windows.windows_to_announce(now).await? {
            let vendor = self.stores.accounts.get_account(w.account_id).await?;
            let name = vendor.username.as_str();
            let opening = w.opening_due(now);
            if opening {
                self.auditor
                    .record(self.event(EventKind::MaintenanceWindowOpened, "system", &w, name))
                    .await?;
            }
            let closing = w.closing_due(now);
            if closing {
                let ended = self.end_sessions(&vendor, &w.id).await?;
                let how = match w.state {
                    WindowState::Scheduled => "scheduled_end",
                    WindowState::Cancelled => "cancelled",
                    WindowState::Ended => "ended_early",
                };
                let mut e = self
                    .event(EventKind::MaintenanceWindowClosed, "system", &w, name)
                    .detail("closed", how)
                    .detail("sessions_ended", ended);
                if let Some(by) = &w.closed_by {
                    e = e.detail("closed_by", by.as_str());
                }
                if let Some(r) = &w.close_reason {
                    e = e.detail("reason", r.as_str());
                }
                self.auditor.record(e).await?;
            }
            self.stores
                .windows
                .mark_window_announced(&w.id, opening, closing)
                .await?;
            done += 1;
        }
        Ok(done)
    }

    async fn end_sessions(&self, vendor: &Account, window: &str) -> Result<usize, Error> {
        let account = vendor.id.to_string();
        let mut ended = 0;
        for s in self.sessions.list(&account).await? {
            if s.maintenance_window.as_deref() == Some(window) {
                self.sessions.revoke(&account, &s.sid).await?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// The work report: the window and every audit row that carries its id, oldest first.
    pub async fn report(&self, id: &str) -> Result<(Window, String, Vec<AuditRecord>), Error> {
        let w = self.get(id).await?;
        let vendor = self.stores.accounts.get_account(w.account_id).await?;
        let rows = self
            .stores
            .audit
            .query_audit(&AuditQuery {
                subject: Some(vendor.username.as_str().to_owned()),
                from: Some(w.created_at - chrono::Duration::minutes(1)),
                ..AuditQuery::default()
            })
            .await?
            .into_iter()
            .filter(|r| r.event.detail[DETAIL_KEY] == w.id.as_str())
            .collect();
        Ok((w, vendor.username.as_str().to_owned(), rows))
    }
}
