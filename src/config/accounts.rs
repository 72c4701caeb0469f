//! `[accounts]` (dormant accounts and the housekeeping task) and `[emergency]` (break-glass
//! accounts): the settings of the account classes guideline 7.0 names.

use serde::{Deserialize, Serialize};

use super::Problem;
use super::problem::problem;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawAccounts {
    pub dormant_after_days: u32,
    pub disable_dormant: bool,
    pub housekeeping_interval_seconds: u64,
}

impl Default for RawAccounts {
    fn default() -> Self {
        Self {
            dormant_after_days: 90,
            disable_dormant: false,
            housekeeping_interval_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawEmergency {
    pub session_minutes: u64,
    pub codes: usize,
    pub alert_socket: String,
}

impl Default for RawEmergency {
    fn default() -> Self {
        Self {
            session_minutes: 240,
            codes: 10,
            alert_socket: "/dev/log".into(),
        }
    }
}

/// Dormant accounts and the periodic task that ends fixed-term accounts, closes maintenance
/// windows and (when asked) disables dormant accounts.
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    pub dormant_after_days: u32,
    pub disable_dormant: bool,
    pub housekeeping_interval: std::time::Duration,
}

/// Break-glass accounts.
#[derive(Debug, Clone)]
pub struct EmergencyConfig {
    /// A break-glass session's absolute end, from its sign-in.
    pub session: chrono::Duration,
    /// Codes in a sealed-envelope set.
    pub codes: usize,
    /// The local syslog socket each use is alerted on; `None` when set to "".
    pub alert_socket: Option<std::path::PathBuf>,
}

pub(super) fn accounts(raw: &RawAccounts, problems: &mut Vec<Problem>) -> AccountsConfig {
    if !(7..=3650).contains(&raw.dormant_after_days) {
        problems.push(problem(
            "accounts.dormant_after_days",
            format!("{} is outside 7..=3650", raw.dormant_after_days),
            "the default is 90 days",
        ));
    }
    if !(1..=3600).contains(&raw.housekeeping_interval_seconds) {
        problems.push(problem(
            "accounts.housekeeping_interval_seconds",
            format!("{} is outside 1..=3600", raw.housekeeping_interval_seconds),
            "the default is 60",
        ));
    }
    AccountsConfig {
        dormant_after_days: raw.dormant_after_days,
        disable_dormant: raw.disable_dormant,
        housekeeping_interval: std::time::Duration::from_secs(raw.housekeeping_interval_seconds),
    }
}

pub(super) fn emergency(raw: &RawEmergency, problems: &mut Vec<Problem>) -> EmergencyConfig {
    if !(15..=24 * 60).contains(&raw.session_minutes) {
        problems.push(problem(
            "emergency.session_minutes",
            format!("{} is outside 15..=1440", raw.session_minutes),
            "the default is 240 (4 hours)",
        ));
    }
    if !(1..=50).contains(&raw.codes) {
        problems.push(problem(
            "emergency.codes",
            format!("{} is outside 1..=50", raw.codes),
            "the default is 10",
        ));
    }
    EmergencyConfig {
        session: chrono::Duration::minutes(i64::try_from(raw.session_minutes).unwrap_or(240)),
        codes: raw.codes,
        alert_socket: (!raw.alert_socket.trim().is_empty())
            .then(|| std::path::PathBuf::from(raw.alert_socket.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    #[test]
    fn defaults_and_bounds() {
        let c = Config::from_toml_str("").unwrap();
        assert_eq!(c.accounts.dormant_after_days, 90);
        assert!(!c.accounts.disable_dormant);
        assert_eq!(c.emergency.session.num_minutes(), 240);
        let keys: Vec<String> = match Config::from_toml_str(
            "[accounts]\ndormant_after_days = 1\nhousekeeping_interval_seconds = 0\n[emergency]\nsession_minutes = 5\ncodes = 0\n",
        ) {
            Ok(_) => vec![],
            Err(e) => e.problems.into_iter().map(|p| p.key).collect(),
        };
        assert_eq!(keys.len(), 4, "{keys:?}");
    }
}
