//! `[systems.*]`: the systems behind the gateway, the resource every policy decides about, and
//! the two recorded allowances a system may carry. Each allowance needs an end date, a reason
//! and an approver, and ends at midnight JST after its date:
//! - `exemption_*`: no two-factor login yet on this terminal or server (guideline 7.0, until
//!   its next renewal);
//! - `enrolled_factors_optional_*`: on this system, accounts that have a second factor may
//!   still sign in with their password alone (policy `enrolled-factors-are-used`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Problem;
use super::problem::problem;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawSystem {
    pub kind: String,
    pub hosts: Vec<String>,
    pub exemption_until: Option<String>,
    pub exemption_reason: Option<String>,
    pub exemption_approved_by: Option<String>,
    pub enrolled_factors_optional_until: Option<String>,
    pub enrolled_factors_optional_reason: Option<String>,
    pub enrolled_factors_optional_approved_by: Option<String>,
}

/// A system behind the gateway: the Cedar resource of `issue_session` and `access`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemConfig {
    pub id: String,
    /// web | terminal | server
    pub kind: String,
    pub hosts: Vec<String>,
    /// A recorded two-factor exemption (terminals and servers).
    pub exemption: Option<Exemption>,
    /// Enrolled second factors need not be used here until then.
    pub factors_optional: Option<Exemption>,
}

/// A recorded allowance: until when, why, and who approved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    /// End of the allowance: midnight JST after the date given.
    pub until: DateTime<Utc>,
    pub until_text: String,
    pub reason: String,
    pub approved_by: String,
}

/// Midnight JST after `date` (YYYY-MM-DD).
pub fn end_of_jst_day(date: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .and_then(|d| start_of_jst_day(&d.format("%Y-%m-%d").to_string()))
}

/// Midnight JST at the start of `date` (YYYY-MM-DD).
pub fn start_of_jst_day(date: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|n| chrono::TimeZone::from_local_datetime(&crate::clock::jst(), &n).single())
        .map(|t| t.with_timezone(&Utc))
}

/// One recorded allowance from its three keys (`{prefix}_until`, `_reason`, `_approved_by`).
fn allowance(
    key: &str,
    prefix: &str,
    what: &str,
    (until, reason, approver): (&Option<String>, &Option<String>, &Option<String>),
    problems: &mut Vec<Problem>,
) -> Option<Exemption> {
    let k = |suffix: &str| format!("{key}.{prefix}_{suffix}");
    let Some(date) = until else {
        if reason.is_some() || approver.is_some() {
            problems.push(problem(
                &k("until"),
                format!("a {what} reason or approver is given without an end date"),
                format!("set {prefix}_until = \"YYYY-MM-DD\""),
            ));
        }
        return None;
    };
    let end = end_of_jst_day(date);
    if end.is_none() {
        problems.push(problem(
            &k("until"),
            format!("`{date}` is not a date"),
            "use YYYY-MM-DD (JST; it ends at the end of that day)",
        ));
    }
    let reason = reason.clone().unwrap_or_default();
    let approver = approver.clone().unwrap_or_default();
    if reason.trim().is_empty() {
        problems.push(problem(
            &k("reason"),
            format!("a {what} must record its reason"),
            "describe why it is needed on this system",
        ));
    }
    if approver.trim().is_empty() {
        problems.push(problem(
            &k("approved_by"),
            format!("a {what} must record who approved it"),
            "name the approver (e.g. the security officer)",
        ));
    }
    end.map(|until| Exemption {
        until,
        until_text: date.clone(),
        reason,
        approved_by: approver,
    })
}

/// A host name as forward-auth requests name it: lower case, no port.
pub fn valid_host_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

pub(super) fn validate(
    raw: &BTreeMap<String, RawSystem>,
    problems: &mut Vec<Problem>,
) -> Vec<SystemConfig> {
    let mut out = Vec::new();
    for (id, s) in raw {
        let key = format!("systems.{id}");
        if id.is_empty()
            || id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push(problem(
                &key,
                "a system id uses 1-64 characters a-z, 0-9, - or _",
                "rename the table",
            ));
        }
        if !matches!(s.kind.as_str(), "web" | "terminal" | "server") {
            problems.push(problem(
                &format!("{key}.kind"),
                format!("`{}` is not a system kind", s.kind),
                "use \"web\", \"terminal\" or \"server\"",
            ));
        }
        let hosts: Vec<String> = s.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        for h in &hosts {
            if !valid_host_name(h) {
                problems.push(problem(
                    &format!("{key}.hosts"),
                    format!("`{h}` is not a host name"),
                    "give the host name alone, without scheme, port or path",
                ));
            }
            if let Some(other) = out.iter().find(|o: &&SystemConfig| o.hosts.contains(h)) {
                problems.push(problem(
                    &format!("{key}.hosts"),
                    format!("`{h}` belongs to system `{}` already", other.id),
                    "a host belongs to one system",
                ));
            }
        }
        let exemption = allowance(
            &key,
            "exemption",
            "two-factor exemption",
            (
                &s.exemption_until,
                &s.exemption_reason,
                &s.exemption_approved_by,
            ),
            problems,
        );
        let factors_optional = allowance(
            &key,
            "enrolled_factors_optional",
            "relaxation of `enrolled-factors-are-used`",
            (
                &s.enrolled_factors_optional_until,
                &s.enrolled_factors_optional_reason,
                &s.enrolled_factors_optional_approved_by,
            ),
            problems,
        );
        out.push(SystemConfig {
            id: id.clone(),
            kind: s.kind.clone(),
            hosts,
            exemption,
            factors_optional,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    fn keys(toml: &str) -> Vec<String> {
        match Config::from_toml_str(toml) {
            Ok(_) => vec![],
            Err(e) => e.problems.into_iter().map(|p| p.key).collect(),
        }
    }

    #[test]
    fn exemptions_need_a_date_a_reason_and_an_approver() {
        assert_eq!(
            keys("[systems.pc1]\nkind = \"terminal\"\nexemption_until = \"2028-03-31\"\n"),
            vec![
                "systems.pc1.exemption_reason",
                "systems.pc1.exemption_approved_by"
            ]
        );
        let c = Config::from_toml_str("[systems.pc1]\nkind = \"terminal\"\nexemption_until = \"2028-03-31\"\nexemption_reason = \"OS renewal in FY2027\"\nexemption_approved_by = \"security officer Sato\"\n").unwrap();
        let e = c.system("pc1").unwrap().exemption.clone().unwrap();
        assert_eq!(e.until.to_rfc3339(), "2028-03-31T15:00:00+00:00");
    }

    #[test]
    fn relaxations_are_recorded_like_exemptions() {
        assert_eq!(
            keys("[systems.emr]\nkind = \"web\"\nenrolled_factors_optional_reason = \"x\"\n"),
            vec!["systems.emr.enrolled_factors_optional_until"]
        );
        assert_eq!(
            keys(
                "[systems.emr]\nkind = \"web\"\nenrolled_factors_optional_until = \"2027-13-01\"\nenrolled_factors_optional_reason = \"x\"\nenrolled_factors_optional_approved_by = \"y\"\n"
            ),
            vec!["systems.emr.enrolled_factors_optional_until"]
        );
        let c = Config::from_toml_str("[systems.emr]\nkind = \"web\"\nenrolled_factors_optional_until = \"2027-03-31\"\nenrolled_factors_optional_reason = \"old EMR has no step for a code\"\nenrolled_factors_optional_approved_by = \"CISO Sato\"\n").unwrap();
        let r = c.system("emr").unwrap().factors_optional.clone().unwrap();
        assert_eq!(r.approved_by, "CISO Sato");
    }

    #[test]
    fn hosts_are_names_and_belong_to_one_system() {
        assert_eq!(
            keys("[systems.a]\nkind = \"web\"\nhosts = [\"emr.example:443\", \"https://x\"]\n"),
            vec!["systems.a.hosts", "systems.a.hosts"]
        );
        assert_eq!(
            keys(
                "[systems.a]\nkind = \"web\"\nhosts = [\"emr.example\"]\n[systems.b]\nkind = \"web\"\nhosts = [\"EMR.example\"]\n"
            ),
            vec!["systems.b.hosts"]
        );
    }
}
