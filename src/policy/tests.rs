//! Table-driven tests of the default policy set and of policy-file problems.

use chrono::{Duration, TimeZone, Utc};

use super::*;

fn engine() -> PolicyEngine {
    PolicyEngine::load(None, &[]).unwrap()
}

fn account(kind: &str) -> AccountFacts {
    AccountFacts {
        id: "a1".into(),
        account_type: kind.into(),
        status: "active".into(),
        roles: vec!["doctor".into()],
        groups: vec![],
        facility: "default".into(),
        has_second_factor: false,
        second_factor_required: false,
    }
}

fn system(kind: &str, exemption_until: Option<DateTime<Utc>>) -> SystemFacts {
    SystemFacts {
        id: "s1".into(),
        kind: kind.into(),
        facility: "default".into(),
        exemption_until,
        factors_optional_until: None,
    }
}

/// 2027-04-01 00:00 JST.
fn deadline() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 31, 15, 0, 0).unwrap()
}

fn facts(now: DateTime<Utc>, amr: &[&str], password_state: &str) -> SessionFacts {
    SessionFacts {
        now,
        amr: amr.iter().map(|s| (*s).to_owned()).collect(),
        zone: Zone::Trusted,
        password_state: password_state.into(),
        enrolment_overdue: false,
        device: String::new(),
        channel: "web",
        maintenance_window: String::new(),
        break_glass: false,
    }
}

fn in_window(mut f: SessionFacts) -> SessionFacts {
    f.maintenance_window = "mw-23456789".into();
    f
}

fn need_factor() -> Verdict {
    Verdict::NeedFactor {
        kinds: vec![FactorKind::Possession, FactorKind::Inherence],
    }
}

#[test]
fn guideline_7_defaults() {
    let e = engine();
    let before = deadline() - Duration::seconds(1);
    let after = deadline();
    let exempt_until = Some(deadline() + Duration::days(365));
    let expired = Some(deadline() + Duration::days(1));
    let table: Vec<(&str, AccountFacts, SystemFacts, SessionFacts, Verdict, &str)> = vec![
        (
            "staff, terminal, password only, before the deadline",
            account("staff"),
            system("terminal", None),
            facts(before, &["pwd"], "ok"),
            Verdict::Issue,
            "sessions-for-accounts",
        ),
        (
            "staff, terminal, password only, at the deadline",
            account("staff"),
            system("terminal", None),
            facts(after, &["pwd"], "ok"),
            need_factor(),
            "mhlw-7.0-two-factor-terminals-and-servers",
        ),
        (
            "staff, server, password only, after",
            account("staff"),
            system("server", None),
            facts(after, &["pwd"], "ok"),
            need_factor(),
            "mhlw-7.0-two-factor-terminals-and-servers",
        ),
        (
            "staff, web app, password only, after",
            account("staff"),
            system("web", None),
            facts(after, &["pwd"], "ok"),
            Verdict::Issue,
            "sessions-for-accounts",
        ),
        (
            "staff, terminal, password + TOTP, after",
            account("staff"),
            system("terminal", None),
            facts(after, &["pwd", "otp"], "ok"),
            Verdict::Issue,
            "sessions-for-accounts",
        ),
        (
            "two steps of one kind do not count",
            account("staff"),
            system("terminal", None),
            facts(after, &["pwd", "pin"], "ok"),
            need_factor(),
            "mhlw-7.0-two-factor-terminals-and-servers",
        ),
        (
            "recorded exemption still running",
            account("staff"),
            system("terminal", exempt_until),
            facts(after, &["pwd"], "ok"),
            Verdict::Issue,
            "sessions-for-accounts",
        ),
        (
            "exemption has ended",
            account("staff"),
            system("terminal", expired),
            facts(after + Duration::days(2), &["pwd"], "ok"),
            need_factor(),
            "mhlw-7.0-two-factor-terminals-and-servers",
        ),
        (
            "admin always needs two kinds, even before",
            account("admin"),
            system("web", None),
            facts(before, &["pwd"], "ok"),
            need_factor(),
            "privileged-accounts-two-factor",
        ),
        (
            "vendor with a security key, inside a maintenance window",
            account("vendor"),
            system("server", None),
            in_window(facts(after, &["pwd", "hwk"], "ok")),
            Verdict::Issue,
            "sessions-for-accounts",
        ),
        (
            "vendor with a security key, outside any window",
            account("vendor"),
            system("server", None),
            facts(after, &["pwd", "hwk"], "ok"),
            Verdict::Deny,
            "vendor-accounts-inside-a-maintenance-window",
        ),
        (
            "must change password",
            account("staff"),
            system("web", None),
            facts(before, &["pwd"], "must_change"),
            Verdict::NeedPasswordChange,
            "password-change-required",
        ),
    ];
    for (what, a, s, f, want, id) in table {
        let d = e.issue_session(&a, &s, &f);
        assert_eq!(d.verdict, want, "{what}: {d:?}");
        assert!(
            d.policy_ids.iter().any(|p| p == id),
            "{what}: {:?} lacks {id}",
            d.policy_ids
        );
        assert!(d.errors.is_empty(), "{what}: {:?}", d.errors);
    }
}

#[test]
fn required_and_enrolled_factors_are_used_on_every_system() {
    let e = engine();
    let before = deadline() - Duration::days(100);
    let mut required = account("staff");
    required.second_factor_required = true;
    let mut enrolled = account("staff");
    enrolled.has_second_factor = true;
    let mut relaxed = system("web", None);
    relaxed.factors_optional_until = Some(before + Duration::days(30));
    for (what, a, s, now, amr, want, id) in [
        (
            "flag, password only",
            &required,
            system("web", None),
            before,
            &["pwd"][..],
            need_factor(),
            "required-second-factor",
        ),
        (
            "flag, with a code",
            &required,
            system("web", None),
            before,
            &["pwd", "otp"][..],
            Verdict::Issue,
            "sessions-for-accounts",
        ),
        (
            "flag is not relaxed",
            &required,
            relaxed.clone(),
            before,
            &["pwd"][..],
            need_factor(),
            "required-second-factor",
        ),
        (
            "enrolled, password only",
            &enrolled,
            system("web", None),
            before,
            &["pwd"][..],
            need_factor(),
            "enrolled-factors-are-used",
        ),
        (
            "enrolled, after the deadline too",
            &enrolled,
            system("web", None),
            deadline(),
            &["pwd"][..],
            need_factor(),
            "enrolled-factors-are-used",
        ),
        (
            "enrolled, with a key",
            &enrolled,
            system("web", None),
            before,
            &["pwd", "hwk"][..],
            Verdict::Issue,
            "sessions-for-accounts",
        ),
        (
            "enrolled, relaxed system",
            &enrolled,
            relaxed.clone(),
            before,
            &["pwd"][..],
            Verdict::Issue,
            "sessions-for-accounts",
        ),
        (
            "enrolled, relaxation ended",
            &enrolled,
            relaxed.clone(),
            before + Duration::days(31),
            &["pwd"][..],
            need_factor(),
            "enrolled-factors-are-used",
        ),
        (
            "no factor, no flag",
            &account("staff"),
            system("web", None),
            before,
            &["pwd"][..],
            Verdict::Issue,
            "sessions-for-accounts",
        ),
    ] {
        let d = e.issue_session(a, &s, &facts(now, amr, "ok"));
        assert_eq!(d.verdict, want, "{what}: {d:?}");
        assert!(
            d.policy_ids.iter().any(|p| p == id),
            "{what}: {:?}",
            d.policy_ids
        );
    }
}

#[test]
fn the_missing_kind_is_named() {
    let d = engine().issue_session(
        &account("staff"),
        &system("terminal", None),
        &facts(deadline(), &["otp"], "ok"),
    );
    assert_eq!(
        d.verdict,
        Verdict::NeedFactor {
            kinds: vec![FactorKind::Inherence]
        },
        "possession already presented"
    );
}

#[test]
fn an_unsatisfiable_forbid_is_a_denial() {
    let mut disabled = account("staff");
    disabled.status = "disabled".into();
    let d = engine().issue_session(
        &disabled,
        &system("web", None),
        &facts(deadline(), &["pwd", "otp"], "ok"),
    );
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(d.policy_ids, vec!["no-sessions-for-disabled-accounts"]);
}

#[test]
fn access_is_decided_with_deployment_policies() {
    let extra = r#"
@id("records-only-for-clinicians")
forbid (principal, action == Sekimori::Action::"access", resource)
when { context.path like "/records/*" && !(principal.roles.contains("doctor") || principal.roles.contains("nurse")) };
"#;
    let e = PolicyEngine::from_sources(&[
        (DEFAULT_FILE.into(), DEFAULT_POLICIES.into()),
        ("local.cedar".into(), extra.into()),
    ])
    .unwrap();
    let mut clerk = account("staff");
    clerk.roles = vec!["clerk".into()];
    let s = system("web", None);
    let req = |path: &str| AccessFacts {
        now: deadline(),
        host: "emr.clinic.example".into(),
        path: path.into(),
        path_folded: path.to_ascii_lowercase(),
        method: "GET".into(),
        zone: Zone::Trusted,
        amr: vec!["pwd".to_owned()],
        device: String::new(),
    };
    let d = e.access(&clerk, &s, &req("/records/42"));
    assert_eq!(
        (d.verdict, d.policy_ids),
        (
            Verdict::Deny,
            vec!["records-only-for-clinicians".to_owned()]
        )
    );
    assert_eq!(
        e.access(&account("staff"), &s, &req("/records/42")).verdict,
        Verdict::Issue
    );
    assert_eq!(
        e.access(&clerk, &s, &req("/billing")).verdict,
        Verdict::Issue
    );
}

fn problems(text: &str) -> Vec<PolicyProblem> {
    PolicyEngine::from_sources(&[("local.cedar".into(), text.into())]).unwrap_err()
}

#[test]
fn policy_file_problems_name_file_line_and_id() {
    let p = problems(
        "@id(\"ok\")\npermit (principal, action, resource);\n\n@id(\"broken\")\npermit (principal action, resource);\n",
    );
    assert_eq!(
        (p[0].file.as_str(), p[0].line),
        ("local.cedar", Some(5)),
        "{p:?}"
    );

    let p = problems(
        "// header\n@id(\"typo\")\nforbid (principal, action == Sekimori::Action::\"issue_session\", resource)\nwhen { principal.acount_type == \"admin\" };\n",
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        (p[0].line, p[0].policy_id.as_deref()),
        (Some(4), Some("typo")),
        "{p:?}"
    );
    assert!(p[0].message.contains("acount_type"), "{p:?}");

    let p = problems("permit (principal, action, resource);\n");
    assert!(p[0].message.contains("@id"), "{p:?}");
    assert_eq!(p[0].line, Some(1));

    let p = problems(
        "@id(\"x\")\npermit (principal, action, resource);\n@id(\"x\")\nforbid (principal, action, resource);\n",
    );
    assert_eq!(
        (p[0].message.as_str(), p[0].line),
        ("duplicate policy id", Some(3)),
        "{p:?}"
    );

    let p = problems("@id(\"x\")\n@outcome(\"maybe\")\nforbid (principal, action, resource);\n");
    assert!(p[0].message.contains("unknown @outcome"), "{p:?}");
}

#[test]
fn default_set_loads_and_lists_its_ids() {
    let e = engine();
    let ids: Vec<&str> = e.policies().iter().map(|(_, id)| id.as_str()).collect();
    assert!(ids.contains(&"mhlw-7.0-two-factor-terminals-and-servers"));
    assert!(e.policies().iter().all(|(f, _)| f == DEFAULT_FILE));
}

/// The Cedar compiled from `[[access.rules]]` and the Rust reading of the same rules agree
/// on every request: the first match decides, two_factor asks for a second kind, and no
/// match is a denial.
#[test]
fn compiled_access_rules_read_as_the_rules_say() {
    use crate::config::RulePolicy;
    use crate::config::access::RuleInput;
    use proptest::prelude::*;

    let toml = format!(
        "{}\n[systems.lab]\nkind = \"web\"\nhosts = [\"lab.clinic.example\", \"x.lab.clinic.example\"]\n\
         [[access.rules]]\nhosts = [\"*.lab.clinic.example\"]\npaths = [\"/api/*/export\", \"/Raw\"]\ncase_sensitive = true\ndevices = [\"ward-pc-1\"]\ngroups = [\"lab\"]\npolicy = \"two_factor\"\n\
         [[access.rules]]\nhosts = [\"lab.clinic.example\"]\nzones = [\"external\"]\npolicy = \"deny\"\n\
         [[access.rules]]\nhosts = [\"lab.clinic.example\"]\npolicy = \"one_factor\"\n",
        include_str!("../../config/access-rules.example.toml")
    );
    let config = crate::config::Config::from_toml_str(&toml).unwrap();
    let e = PolicyEngine::load(None, &config.access_rules).unwrap();
    let sys = system("web", None);
    let hosts = [
        "emr.clinic.example",
        "lab.clinic.example",
        "x.lab.clinic.example",
    ];
    let paths = [
        "/admin",
        "/Admin/users",
        "/administration",
        "/charts",
        "/charts/1",
        "/prescriptions",
        "/maintenance/x",
        "/ward-board",
        "/static/a.js",
        "/STATIC/a.js",
        "/api/v1/export",
        "/api/v1/x/export",
        "/api/v1/export/",
        "/Raw",
        "/raw",
        "/billing",
        "/",
        "/カルテ",
    ];
    let methods = ["GET", "POST", "DELETE", "HEAD"];
    let roles = ["doctor", "nurse", "clerk", "it_admin", "vendor"];
    let strategy = (
        0..hosts.len(),
        0..paths.len(),
        0..methods.len(),
        proptest::sample::subsequence(roles.to_vec(), 0..3),
        any::<bool>(),
        any::<bool>(),
        0..3usize,
        any::<bool>(),
    );
    let mut runner =
        proptest::test_runner::TestRunner::new(crate::test_support::proptest_config(3000));
    let seen = std::cell::RefCell::new(std::collections::BTreeSet::new());
    runner
        .run(&strategy, |(h, p, m, rs, lab, trusted, device, two)| {
            let mut a = account("staff");
            a.roles = rs.iter().map(|r| (*r).to_owned()).collect();
            a.groups = if lab { vec!["lab".into()] } else { vec![] };
            let device = ["", "ward-pc-1", "ward-pc-2"][device];
            let zone = if trusted {
                Zone::Trusted
            } else {
                Zone::External
            };
            let amr: Vec<String> = if two {
                vec!["pwd".into(), "otp".into()]
            } else {
                vec!["pwd".into()]
            };
            let facts = AccessFacts {
                now: deadline(),
                host: hosts[h].into(),
                path: paths[p].into(),
                path_folded: paths[p].to_ascii_lowercase(),
                method: methods[m].into(),
                zone,
                amr: amr.clone(),
                device: device.into(),
            };
            let input = RuleInput {
                host: &facts.host,
                path: &facts.path,
                folded: &facts.path_folded,
                method: &facts.method,
                roles: &a.roles,
                groups: &a.groups,
                zone: zone.as_str(),
                device,
            };
            let rule = config.access_rules.iter().find(|r| r.matches(&input));
            let want = match rule.map(|r| r.policy) {
                None | Some(RulePolicy::Deny) => Verdict::Deny,
                Some(RulePolicy::OneFactor) => Verdict::Issue,
                Some(RulePolicy::TwoFactor) if two => Verdict::Issue,
                Some(RulePolicy::TwoFactor) => need_factor(),
            };
            let got = e.access(&a, &sys, &facts);
            prop_assert_eq!(&got.verdict, &want, "{:?} {:?}", facts, got.policy_ids);
            prop_assert!(got.errors.is_empty());
            let n = rule.map_or(0, |r| r.number);
            if want == Verdict::Deny {
                let id = if n == 0 {
                    "access-rules-no-match".to_owned()
                } else {
                    format!("access-rule-{n}")
                };
                prop_assert_eq!(&got.policy_ids, &vec![id]);
            }
            seen.borrow_mut().insert((n, got.verdict == Verdict::Issue));
            Ok(())
        })
        .unwrap();
    // Every rule decided some request, and the final denial did too.
    let decided: std::collections::BTreeSet<usize> =
        seen.borrow().iter().map(|(n, _)| *n).collect();
    assert_eq!(decided.len(), config.access_rules.len() + 1, "{decided:?}");
}
