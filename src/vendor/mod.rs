//! Vendors' maintenance windows (保守作業の時間帯, G-18): a vendor account may sign in to a
//! system only inside an approved window for that system, and its session ends with the
//! window. This module is the pure model: what a window is, when it is open, and what a new
//! one must satisfy. `service` keeps them, audits them and closes them.

pub mod report;
pub mod service;

use chrono::{DateTime, Duration, Utc};

use crate::account::{AccountId, FacilityId};

/// The longest window that can be approved at once.
pub const MAX_LENGTH: Duration = Duration::days(31);

/// Where a window stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// Approved; open between its start and its end.
    Scheduled,
    /// Withdrawn before it opened.
    Cancelled,
    /// Closed early, after it opened.
    Ended,
}

impl WindowState {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowState::Scheduled => "scheduled",
            WindowState::Cancelled => "cancelled",
            WindowState::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(WindowState::Scheduled),
            "cancelled" => Some(WindowState::Cancelled),
            "ended" => Some(WindowState::Ended),
            _ => None,
        }
    }
}

/// A window's phase at one moment, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Upcoming,
    Open,
    Over,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Upcoming => "upcoming",
            Phase::Open => "open",
            Phase::Over => "over",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Phase::Upcoming => "予定",
            Phase::Open => "作業中",
            Phase::Over => "終了",
        }
    }
}

/// An approved maintenance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// `mw-` and eight letters or digits: short enough to read out on the phone.
    pub id: String,
    pub facility_id: FacilityId,
    pub account_id: AccountId,
    /// A `[systems.*]` id, or `device:NAME` for a registered server (PAM sign-ins).
    pub system: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub approved_by: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub state: WindowState,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub close_reason: Option<String>,
    pub opened_logged: bool,
    pub closed_logged: bool,
}

impl Window {
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.state == WindowState::Scheduled && self.starts_at <= now && now < self.ends_at
    }

    pub fn phase(&self, now: DateTime<Utc>) -> Phase {
        match self.state {
            WindowState::Scheduled if now < self.starts_at => Phase::Upcoming,
            WindowState::Scheduled if now < self.ends_at => Phase::Open,
            _ => Phase::Over,
        }
    }

    /// When it actually ends (or ended).
    pub fn effective_end(&self) -> DateTime<Utc> {
        self.closed_at.map_or(self.ends_at, |c| c.min(self.ends_at))
    }

    /// Its opening is due in the audit log.
    pub fn opening_due(&self, now: DateTime<Utc>) -> bool {
        !self.opened_logged && self.state != WindowState::Cancelled && self.starts_at <= now
    }

    /// Its closing is due in the audit log (after its end, or closed early).
    pub fn closing_due(&self, now: DateTime<Utc>) -> bool {
        !self.closed_logged && (self.state != WindowState::Scheduled || now >= self.ends_at)
    }
}

/// What a new window must give.
#[derive(Debug, Clone)]
pub struct NewWindow {
    pub system: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub approved_by: String,
}

/// Why a new window is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("a maintenance window must end after it starts")]
    EndsBeforeStart,
    #[error("a maintenance window must end in the future")]
    EndsInThePast,
    #[error("a maintenance window may last at most 31 days")]
    TooLong,
    #[error("a maintenance window needs a reason")]
    NoReason,
    #[error("a maintenance window needs the name of whoever approved it")]
    NoApprover,
}

impl NewWindow {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), WindowError> {
        if self.ends_at <= self.starts_at {
            return Err(WindowError::EndsBeforeStart);
        }
        if self.ends_at <= now {
            return Err(WindowError::EndsInThePast);
        }
        if self.ends_at - self.starts_at > MAX_LENGTH {
            return Err(WindowError::TooLong);
        }
        if self.reason.trim().is_empty() {
            return Err(WindowError::NoReason);
        }
        if self.approved_by.trim().is_empty() {
            return Err(WindowError::NoApprover);
        }
        Ok(())
    }
}

/// A new window id: `mw-` and eight characters of an alphabet without look-alikes.
pub fn new_id() -> String {
    // An id, not a secret: the slight bias of `% 31` does not matter.
    const ALPHABET: &[u8; 31] = b"23456789abcdefghjkmnpqrstuvwxyz";
    let bytes = crate::crypto::random_bytes::<8>();
    let tail: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 31)]))
        .collect();
    format!("mw-{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 10, h, 0, 0).unwrap()
    }

    fn window(state: WindowState) -> Window {
        Window {
            id: new_id(),
            facility_id: FacilityId("default".into()),
            account_id: AccountId(uuid::Uuid::nil()),
            system: "emr".into(),
            starts_at: at(10),
            ends_at: at(12),
            reason: "update".into(),
            approved_by: "CISO".into(),
            created_by: "cli:it".into(),
            created_at: at(1),
            state,
            closed_at: None,
            closed_by: None,
            close_reason: None,
            opened_logged: false,
            closed_logged: false,
        }
    }

    #[test]
    fn a_window_is_open_from_its_start_to_its_end() {
        let w = window(WindowState::Scheduled);
        assert!(!w.is_open(at(9)));
        assert!(w.is_open(at(10)));
        assert!(w.is_open(at(11)));
        assert!(!w.is_open(at(12)));
        assert_eq!(
            [at(9), at(11), at(12)].map(|t| w.phase(t)),
            [Phase::Upcoming, Phase::Open, Phase::Over]
        );
        assert!(!window(WindowState::Ended).is_open(at(11)));
        assert!(w.opening_due(at(10)) && !w.opening_due(at(9)));
        assert!(w.closing_due(at(12)) && !w.closing_due(at(11)));
        let cancelled = window(WindowState::Cancelled);
        assert!(!cancelled.opening_due(at(11)) && cancelled.closing_due(at(9)));
    }

    #[test]
    fn new_windows_are_checked() {
        let ok = NewWindow {
            system: "emr".into(),
            starts_at: at(10),
            ends_at: at(12),
            reason: "OS update".into(),
            approved_by: "情報セキュリティ責任者".into(),
        };
        assert_eq!(ok.validate(at(1)), Ok(()));
        let mut bad = ok.clone();
        bad.ends_at = at(9);
        assert_eq!(bad.validate(at(1)), Err(WindowError::EndsBeforeStart));
        assert_eq!(ok.validate(at(13)), Err(WindowError::EndsInThePast));
        let mut long = ok.clone();
        long.ends_at = at(10) + Duration::days(32);
        assert_eq!(long.validate(at(1)), Err(WindowError::TooLong));
        let mut no = ok.clone();
        no.reason = " ".into();
        assert_eq!(no.validate(at(1)), Err(WindowError::NoReason));
        no = ok;
        no.approved_by = String::new();
        assert_eq!(no.validate(at(1)), Err(WindowError::NoApprover));
        let id = new_id();
        assert!(id.starts_with("mw-") && id.len() == 11, "{id}");
    }
}
