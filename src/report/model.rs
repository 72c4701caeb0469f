//! The report's stable JSON form (`config/report.schema.json` describes it): figures that do
//! not depend on the language, and sections whose texts are in the report's language. Add
//! fields, never rename or remove them, without raising `schema_version`.

use std::collections::BTreeMap;

use serde::Serialize;

/// The version of this shape.
pub const SCHEMA_VERSION: u32 = 1;

/// How a requirement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 適合
    Met,
    /// 要対応
    ActionRequired,
    /// 対象外
    NotApplicable,
}

impl Status {
    pub fn label(self, ja: bool) -> &'static str {
        match (self, ja) {
            (Status::Met, true) => "適合",
            (Status::Met, false) => "Met",
            (Status::ActionRequired, true) => "要対応",
            (Status::ActionRequired, false) => "Action required",
            (Status::NotApplicable, true) => "対象外",
            (Status::NotApplicable, false) => "Not applicable",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::ActionRequired => "action_required",
            Status::NotApplicable => "not_applicable",
        }
    }
}

/// One requirement or checklist item.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// `checklist-2-1` … or `G-1` …
    pub id: String,
    /// `checklist` or `requirement`.
    pub group: &'static str,
    /// As the source numbers it: `2-①`, `G-10`.
    pub number: String,
    /// The other items it evidences together with.
    pub refs: Vec<String>,
    pub title: String,
    pub status: Status,
    pub status_label: &'static str,
    pub evidence: Vec<String>,
    /// What to do (for `action_required`).
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Facility {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub met: usize,
    pub action_required: usize,
    pub not_applicable: usize,
}

/// Second-factor coverage of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// An account type (`staff` …) or a system kind (`web`, `terminal`, `server`).
    pub group: String,
    /// Accounts (by account type) or sign-ins of the last 30 days (by system kind).
    pub total: u64,
    pub with_second_factor: u64,
    /// Whole percent, rounded down; absent when `total` is 0.
    pub percent: Option<u64>,
}

impl Coverage {
    pub fn new(group: &str, total: u64, with_second_factor: u64) -> Self {
        Self {
            group: group.to_owned(),
            total,
            with_second_factor,
            percent: (total > 0).then(|| with_second_factor * 100 / total),
        }
    }
}

/// Coverage of today's active accounts at a past date (for the chart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoveragePoint {
    /// `YYYY-MM-DD` (JST).
    pub date: String,
    pub accounts: u64,
    pub with_second_factor: u64,
}

/// A recorded allowance of a system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExemptionFigure {
    pub system: String,
    pub system_kind: String,
    /// `two_factor` (no two-factor sign-in yet) or `enrolled_factors_optional`.
    pub kind: &'static str,
    /// The last day it holds (JST).
    pub until: String,
    pub reason: String,
    pub approved_by: String,
    /// Days from the report date to its end (negative: ended).
    pub days_left: i64,
    pub ends_within_90_days: bool,
}

/// An account as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountFigure {
    pub username: String,
    pub display_name: String,
    pub account_type: String,
    pub status: String,
    pub roles: Vec<String>,
    /// `totp`, `webauthn`, `recovery_code`, `break_glass_code` with counts where several.
    pub factors: Vec<String>,
    pub has_second_factor: bool,
    /// Holds the administrator role (`it_admin`).
    pub admin_rights: bool,
    /// JST, or absent: never signed in.
    pub last_sign_in: Option<String>,
    /// Days since the last sign-in (or since creation, never signed in).
    pub days_unused: i64,
    pub expires: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceFigure {
    pub name: String,
    pub kind: String,
    pub location: String,
    pub owner: String,
    pub last_seen: Option<String>,
    /// `owner`, `location`.
    pub missing: Vec<&'static str>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Devices {
    pub active: u64,
    pub by_kind: BTreeMap<String, u64>,
    /// Without an owner or a location.
    pub incomplete: Vec<DeviceFigure>,
    /// Not heard from for 30 days (or never).
    pub silent_30_days: Vec<DeviceFigure>,
}

/// A setting in force beside the floor the guideline (or NIST SP 800-63B) sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub key: &'static str,
    pub value: String,
    pub floor: String,
    pub meets: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AccountCounts {
    pub total: u64,
    pub active: u64,
    pub disabled: u64,
    pub must_change_password: u64,
    pub compromised: u64,
    pub fixed_term: u64,
    pub service: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleCount {
    pub role: String,
    pub label: String,
    pub accounts: u64,
}

/// Failed sign-ins and locks of one day, by zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DailyFailures {
    pub date: String,
    pub failures_trusted: u64,
    pub failures_external: u64,
    pub locks_trusted: u64,
    pub locks_external: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointFigure {
    pub seq: i64,
    pub at: String,
    pub key_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SyslogFigure {
    pub target: String,
    pub delivered_seq: i64,
    pub lag: i64,
    /// Known in the gateway only.
    pub connected: Option<bool>,
    pub last_error: Option<String>,
}

/// A finding in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    pub en: String,
    pub ja: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditFigures {
    pub rows: i64,
    pub first_row_at: Option<String>,
    pub last_row_at: Option<String>,
    pub chain_intact: bool,
    /// Whether the whole chain was read (`false`: verification still catching up).
    pub chain_complete: bool,
    pub verified_up_to: i64,
    pub problems: Vec<Text>,
    pub last_checkpoint: Option<CheckpointFigure>,
    pub checkpoints: usize,
    pub unsigned_rows: i64,
    pub checkpoint_problems: Vec<Text>,
    /// `full` (every checkpoint checked) or `latest` (the newest few, on the console).
    pub checkpoint_scope: &'static str,
    pub syslog: Option<SyslogFigure>,
    /// Holders of the `auditor` role (who reviews the logs).
    pub auditors: u64,
    /// Rows of the last 30 days: sign-ins (any outcome) and session events.
    pub sign_in_events_30_days: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreachFigure {
    pub loaded: bool,
    pub entries: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmergencyFigure {
    pub username: String,
    pub break_glass_codes: u64,
    pub unacknowledged_uses: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VendorFigures {
    pub accounts: u64,
    pub without_second_factor: Vec<String>,
    /// Windows that overlap the last 90 days.
    pub windows_90_days: u64,
    pub open_now: u64,
}

/// Every figure the issue names.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub two_factor_deadline: &'static str,
    pub days_to_deadline: i64,
    pub coverage_by_account_type: Vec<Coverage>,
    pub coverage_by_system_kind: Vec<Coverage>,
    pub coverage_over_time: Vec<CoveragePoint>,
    pub exemptions: Vec<ExemptionFigure>,
    pub password_only_accounts: Vec<AccountFigure>,
    pub privileged_accounts: Vec<AccountFigure>,
    pub dormant_after_days: u32,
    pub dormant_accounts: Vec<AccountFigure>,
    pub accounts: AccountCounts,
    pub roles: Vec<RoleCount>,
    pub access_rules: usize,
    pub devices: Devices,
    pub settings: Vec<Setting>,
    pub audit: AuditFigures,
    pub breach_filter: BreachFigure,
    pub failures_by_day: Vec<DailyFailures>,
    pub emergency: Vec<EmergencyFigure>,
    pub vendors: VendorFigures,
    pub systems: BTreeMap<String, String>,
    pub bootstrap_password_unchanged: bool,
    pub password_resets_365_days: u64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct GuidelineReport {
    pub schema_version: u32,
    pub generated_at: String,
    /// The date the figures are computed for (JST).
    pub as_of: String,
    pub lang: &'static str,
    pub facility: Facility,
    pub summary: Summary,
    pub figures: Figures,
    pub sections: Vec<Section>,
}
