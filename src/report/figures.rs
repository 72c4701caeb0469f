//! The report's figures, computed from a [`Snapshot`] without reading anything else: pure,
//! so every figure can be checked against the store it came from.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike as _, Duration, NaiveDate, Utc};

use super::gather::Snapshot;
use super::model::{
    AccountCounts, AccountFigure, BreachFigure, Coverage, CoveragePoint, DailyFailures,
    DeviceFigure, Devices, EmergencyFigure, ExemptionFigure, Figures, RoleCount, Setting,
    VendorFigures,
};
use crate::account::{Account, AccountStatus, AccountType, Role};
use crate::clock::{jst, to_jst_string};
use crate::config::systems::Exemption;
use crate::device::{DeviceKind, DeviceStatus};
use crate::policy::factors::TWO_FACTOR_DEADLINE_UNIX;
use crate::store::FactorRecord;
use crate::vendor::WindowState;

pub const DEADLINE_DATE: &str = "2027-04-01";
/// An allowance ending within this many days is flagged.
pub const SOON_DAYS: i64 = 90;
/// A device not heard from for this many days is listed.
pub const SILENT_DAYS: i64 = 30;
pub const ADMIN_ROLE: &str = "it_admin";

fn jst_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&jst()).date_naive()
}

fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The factors that count as a second factor for this account: an authenticator app or a
/// security key; for an emergency account, its sealed break-glass codes.
fn second_factors<'a>(a: &Account, factors: &'a [FactorRecord]) -> Vec<&'a FactorRecord> {
    factors
        .iter()
        .filter(|f| {
            f.kind == "totp"
                || f.kind == "webauthn"
                || (a.account_type == AccountType::Emergency && f.kind == crate::emergency::KIND)
        })
        .collect()
}

pub fn has_second_factor(a: &Account, factors: &[FactorRecord]) -> bool {
    !second_factors(a, factors).is_empty()
}

fn live(a: &Account) -> bool {
    a.status != AccountStatus::Disabled
}

fn factor_names(factors: &[FactorRecord]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in factors {
        let name = match f.kind.as_str() {
            "totp" => "totp",
            "webauthn" => "webauthn",
            k if k == crate::recovery::KIND => "recovery_code",
            k if k == crate::emergency::KIND => "break_glass_code",
            _ => continue,
        };
        *counts.entry(name).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(k, n)| {
            if n > 1 {
                format!("{k}×{n}")
            } else {
                k.to_owned()
            }
        })
        .collect()
}

fn account_figure(a: &Account, factors: &[FactorRecord], as_of: DateTime<Utc>) -> AccountFigure {
    AccountFigure {
        username: a.username.as_str().to_owned(),
        display_name: a.display_name.clone(),
        account_type: a.account_type.as_str().to_owned(),
        status: a.status.as_str().to_owned(),
        roles: a.role_names(),
        factors: factor_names(factors),
        has_second_factor: has_second_factor(a, factors),
        admin_rights: a.roles.iter().any(|r| r.as_str() == ADMIN_ROLE),
        last_sign_in: a.last_login_at.map(to_jst_string),
        days_unused: (as_of - a.last_login_at.unwrap_or(a.created_at)).num_days(),
        expires: a.expires_at.map(to_jst_string),
    }
}

/// Days from the report's date to 2027-04-01 (JST calendar days; negative once passed).
pub fn days_to_deadline(as_of: DateTime<Utc>) -> i64 {
    let deadline = DateTime::from_timestamp(TWO_FACTOR_DEADLINE_UNIX, 0).unwrap_or(as_of);
    (jst_date(deadline) - jst_date(as_of)).num_days()
}

fn exemption(
    system: &crate::config::systems::SystemConfig,
    kind: &'static str,
    e: &Exemption,
    as_of: DateTime<Utc>,
) -> ExemptionFigure {
    // `until` is midnight after the last day: the days left count that last day.
    let days_left = (jst_date(e.until) - jst_date(as_of)).num_days() - 1;
    ExemptionFigure {
        system: system.id.clone(),
        system_kind: system.kind.clone(),
        kind,
        until: e.until_text.clone(),
        reason: e.reason.clone(),
        approved_by: e.approved_by.clone(),
        days_left,
        ends_within_90_days: (0..=SOON_DAYS).contains(&days_left),
    }
}

/// Coverage of today's live, non-service accounts from the first one's creation (at most a
/// year back), on the first of each month and at the report's date: an account counts from its creation, covered from its
/// first second factor still enrolled.
fn coverage_over_time(s: &Snapshot) -> Vec<CoveragePoint> {
    let people: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = s
        .accounts
        .iter()
        .filter(|(a, _)| live(a) && a.account_type != AccountType::Service)
        .map(|(a, f)| {
            let first = second_factors(a, f).iter().map(|f| f.created_at).min();
            (a.created_at, first)
        })
        .collect();
    let Some(earliest) = people.iter().map(|(c, _)| *c).min() else {
        return Vec::new();
    };
    let today = jst_date(s.as_of);
    // From the first account (at most a year back), then the first of each month.
    let start = jst_date(earliest).max(today - Duration::days(365));
    let mut dates = vec![start];
    let mut month = start
        .with_day(1)
        .and_then(|d| d.checked_add_months(chrono::Months::new(1)));
    while let Some(m) = month.filter(|m| *m <= today) {
        dates.push(m);
        month = m.checked_add_months(chrono::Months::new(1));
    }
    if dates.last() != Some(&today) {
        dates.push(today);
    }
    dates
        .into_iter()
        .map(|d| {
            // The end of that JST day.
            let end = crate::config::systems::end_of_jst_day(&day_text(d)).unwrap_or(s.as_of);
            let end = if d == today { s.as_of } else { end };
            let accounts = people.iter().filter(|(c, _)| *c <= end);
            let (n, covered) = accounts.fold((0, 0), |(n, c), (_, f)| {
                (n + 1, c + u64::from(f.is_some_and(|f| f <= end)))
            });
            CoveragePoint {
                date: day_text(d),
                accounts: n,
                with_second_factor: covered,
            }
        })
        .collect()
}

fn system_kind(s: &Snapshot, id: &str) -> String {
    if let Some(sys) = s.config.system(id) {
        return sys.kind.clone();
    }
    if let Some(name) = id.strip_prefix(crate::device::DEVICE_PREFIX)
        && let Some(d) = s.devices.iter().find(|d| d.name == name)
    {
        return d.kind.as_str().to_owned();
    }
    "web".to_owned()
}

fn failures_by_day(s: &Snapshot) -> Vec<DailyFailures> {
    let today = jst_date(s.as_of);
    let mut days: BTreeMap<NaiveDate, DailyFailures> = (0..30)
        .map(|i| {
            let d = today - Duration::days(29 - i);
            (
                d,
                DailyFailures {
                    date: day_text(d),
                    ..DailyFailures::default()
                },
            )
        })
        .collect();
    for f in &s.failures {
        if let Some(day) = days.get_mut(&jst_date(f.at)) {
            match (f.lock, f.trusted) {
                (false, true) => day.failures_trusted += 1,
                (false, false) => day.failures_external += 1,
                (true, true) => day.locks_trusted += 1,
                (true, false) => day.locks_external += 1,
            }
        }
    }
    days.into_values().collect()
}

fn settings(s: &Snapshot) -> Vec<Setting> {
    let c = &s.config;
    let p = &c.password.policy;
    let l = &c.lockout.policy;
    let minutes = |d: std::time::Duration| d.as_secs() / 60;
    vec![
        Setting {
            key: "password.min_length_with_second_factor",
            value: p.min_length_with_second_factor.to_string(),
            floor: "≥ 8".into(),
            meets: p.min_length_with_second_factor >= 8,
        },
        Setting {
            key: "password.min_length_without_second_factor",
            value: p.min_length_without_second_factor.to_string(),
            floor: "≥ 13".into(),
            meets: p.min_length_without_second_factor >= 13,
        },
        Setting {
            key: "password.composition",
            value: match p.composition {
                crate::password::rules::Composition::Mhlw => "mhlw",
                crate::password::rules::Composition::Nist => "nist",
            }
            .into(),
            floor: "mhlw".into(),
            meets: p.composition == crate::password::rules::Composition::Mhlw,
        },
        Setting {
            key: "password.history_depth",
            value: p.history_depth.to_string(),
            floor: "≥ 1".into(),
            meets: p.history_depth >= 1,
        },
        Setting {
            key: "password.max_age",
            value: "none".into(),
            floor: "none".into(),
            meets: true,
        },
        Setting {
            key: "lockout.threshold",
            value: format!("{}/{}min", l.threshold, l.window.num_minutes()),
            floor: "≥ 1".into(),
            meets: l.threshold >= 1 && l.base_lock > chrono::Duration::zero(),
        },
        Setting {
            key: "lockout.hard_threshold",
            value: l.hard_threshold.to_string(),
            floor: "≤ 100".into(),
            meets: l.hard_threshold <= 100,
        },
        Setting {
            key: "session.idle_timeout_minutes",
            value: minutes(c.session.idle_timeout).to_string(),
            floor: "≤ 60".into(),
            meets: minutes(c.session.idle_timeout) <= 60,
        },
        Setting {
            key: "session.absolute_timeout_hours",
            value: (c.session.absolute_timeout.as_secs() / 3600).to_string(),
            floor: "≤ 24".into(),
            meets: c.session.absolute_timeout.as_secs() <= 24 * 3600,
        },
        Setting {
            key: "password.hashing",
            value: format!(
                "argon2id m={} t={} p={}",
                s.hash.memory_kib, s.hash.iterations, s.hash.parallelism
            ),
            floor: "argon2id m ≥ 19456, t ≥ 2".into(),
            meets: s.hash.memory_kib >= 19_456 && s.hash.iterations >= 2,
        },
    ]
}

fn devices(s: &Snapshot) -> Devices {
    let mut out = Devices::default();
    let silent_since = s.as_of - Duration::days(SILENT_DAYS);
    for d in s
        .devices
        .iter()
        .filter(|d| d.status == DeviceStatus::Active)
    {
        out.active += 1;
        *out.by_kind.entry(d.kind.as_str().to_owned()).or_default() += 1;
        let mut missing = Vec::new();
        if d.owner.trim().is_empty() {
            missing.push("owner");
        }
        if d.location.trim().is_empty() {
            missing.push("location");
        }
        let figure = DeviceFigure {
            name: d.name.clone(),
            kind: d.kind.as_str().to_owned(),
            location: d.location.clone(),
            owner: d.owner.clone(),
            last_seen: d.last_seen_at.map(to_jst_string),
            missing: missing.clone(),
        };
        // Network devices never contact the gateway: silence says nothing about them.
        let silent = d.kind != DeviceKind::Network
            && d.last_seen_at.is_none_or(|t| t < silent_since)
            && d.created_at < silent_since;
        if silent {
            out.silent_30_days.push(figure.clone());
        }
        if !missing.is_empty() {
            out.incomplete.push(figure);
        }
    }
    out
}

pub fn compute(s: &Snapshot) -> Figures {
    let as_of = s.as_of;
    let people = || {
        s.accounts
            .iter()
            .filter(|(a, _)| live(a) && a.account_type != AccountType::Service)
    };
    let coverage_by_account_type = AccountType::ALL
        .iter()
        .filter(|t| **t != AccountType::Service)
        .map(|t| {
            let of_type: Vec<_> = people().filter(|(a, _)| a.account_type == *t).collect();
            let covered = of_type
                .iter()
                .filter(|(a, f)| has_second_factor(a, f))
                .count();
            Coverage::new(t.as_str(), of_type.len() as u64, covered as u64)
        })
        .collect();
    let mut by_kind: Vec<(String, u64, u64)> = ["web", "terminal", "server"]
        .iter()
        .map(|k| ((*k).to_owned(), 0, 0))
        .collect();
    for si in &s.sign_ins {
        let kind = system_kind(s, &si.system);
        let i = match by_kind.iter().position(|(k, _, _)| *k == kind) {
            Some(i) => i,
            None => {
                by_kind.push((kind, 0, 0));
                by_kind.len() - 1
            }
        };
        by_kind[i].1 += 1;
        by_kind[i].2 += u64::from(si.second_factor);
    }
    let coverage_by_system_kind = by_kind
        .iter()
        .map(|(k, n, c)| Coverage::new(k, *n, *c))
        .collect();
    let mut exemptions = Vec::new();
    for sys in &s.config.systems {
        if let Some(e) = &sys.exemption {
            exemptions.push(exemption(sys, "two_factor", e, as_of));
        }
        if let Some(e) = &sys.factors_optional {
            exemptions.push(exemption(sys, "enrolled_factors_optional", e, as_of));
        }
    }
    let password_only_accounts = people()
        .filter(|(a, f)| !has_second_factor(a, f) && !a.enforces_second_factor())
        .map(|(a, f)| account_figure(a, f, as_of))
        .collect();
    let privileged_accounts = s
        .accounts
        .iter()
        .filter(|(a, _)| {
            live(a)
                && (a.account_type.always_requires_second_factor()
                    || a.roles.iter().any(|r| r.as_str() == ADMIN_ROLE))
        })
        .map(|(a, f)| account_figure(a, f, as_of))
        .collect();
    let dormant_after_days = s.config.accounts.dormant_after_days;
    let dormant_accounts = s
        .accounts
        .iter()
        .filter(|(a, _)| {
            live(a)
                && a.account_type != AccountType::Emergency
                && a.dormant_since(as_of, dormant_after_days)
        })
        .map(|(a, f)| account_figure(a, f, as_of))
        .collect();
    let mut accounts = AccountCounts::default();
    let mut roles: BTreeMap<String, u64> = BTreeMap::new();
    for (a, _) in &s.accounts {
        accounts.total += 1;
        match a.status {
            AccountStatus::Active => accounts.active += 1,
            AccountStatus::Disabled => accounts.disabled += 1,
            AccountStatus::MustChangePassword => accounts.must_change_password += 1,
            AccountStatus::Compromised => accounts.compromised += 1,
        }
        if live(a) {
            accounts.fixed_term += u64::from(a.expires_at.is_some());
            accounts.service += u64::from(a.account_type == AccountType::Service);
            for r in &a.roles {
                *roles.entry(r.as_str().to_owned()).or_default() += 1;
            }
        }
    }
    let roles = roles
        .into_iter()
        .map(|(role, n)| RoleCount {
            label: Role::parse(&role).map_or(role.clone(), |r| r.label_ja().to_owned()),
            role,
            accounts: n,
        })
        .collect();
    let emergency = s
        .accounts
        .iter()
        .filter(|(a, _)| live(a) && a.account_type == AccountType::Emergency)
        .map(|(a, f)| EmergencyFigure {
            username: a.username.as_str().to_owned(),
            break_glass_codes: f
                .iter()
                .filter(|f| f.kind == crate::emergency::KIND)
                .count() as u64,
            unacknowledged_uses: s
                .break_glass_open
                .iter()
                .filter(|u| u.username == a.username.as_str())
                .count() as u64,
        })
        .collect();
    let vendor_accounts: Vec<_> = people()
        .filter(|(a, _)| a.account_type == AccountType::Vendor)
        .collect();
    let ninety_days_ago = as_of - Duration::days(90);
    let vendors = VendorFigures {
        accounts: vendor_accounts.len() as u64,
        without_second_factor: vendor_accounts
            .iter()
            .filter(|(a, f)| !has_second_factor(a, f))
            .map(|(a, _)| a.username.as_str().to_owned())
            .collect(),
        windows_90_days: s
            .windows
            .iter()
            .filter(|w| {
                w.state != WindowState::Cancelled
                    && w.starts_at <= as_of
                    && w.ends_at >= ninety_days_ago
            })
            .count() as u64,
        open_now: s
            .windows
            .iter()
            .filter(|w| {
                w.state == WindowState::Scheduled && w.starts_at <= as_of && as_of < w.ends_at
            })
            .count() as u64,
    };
    Figures {
        two_factor_deadline: DEADLINE_DATE,
        days_to_deadline: days_to_deadline(as_of),
        coverage_by_account_type,
        coverage_by_system_kind,
        coverage_over_time: coverage_over_time(s),
        exemptions,
        password_only_accounts,
        privileged_accounts,
        dormant_after_days,
        dormant_accounts,
        accounts,
        roles,
        access_rules: s.config.access_rules.len(),
        devices: devices(s),
        settings: settings(s),
        audit: s.audit.clone(),
        breach_filter: BreachFigure {
            loaded: s.breach.is_some(),
            entries: s.breach.map_or(0, |b| b.0),
            bytes: s.breach.map_or(0, |b| b.1),
        },
        failures_by_day: failures_by_day(s),
        emergency,
        vendors,
        systems: s
            .config
            .systems
            .iter()
            .map(|x| (x.id.clone(), x.kind.clone()))
            .collect(),
        bootstrap_password_unchanged: s.bootstrap_file,
        password_resets_365_days: s.resets_365_days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn days_to_the_deadline_count_jst_calendar_days() {
        let at = |y, m, d, h| Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap();
        // 2026-12-06 19:00 JST
        assert_eq!(days_to_deadline(at(2026, 12, 6, 10)), 116);
        // 2027-03-31 23:30 JST is still the day before.
        assert_eq!(
            days_to_deadline(at(2027, 3, 31, 14) + Duration::minutes(30)),
            1
        );
        // 2027-04-01 00:00 JST
        assert_eq!(days_to_deadline(at(2027, 3, 31, 15)), 0);
        assert_eq!(days_to_deadline(at(2027, 4, 2, 3)), -1);
    }
}
