//! `sekimori policy explain … --path`: what forward-auth decides for one request and why.
//! The same two questions the gate asks (may these factors be in this system, then `access`),
//! the access rule that matches first, and the recorded allowances of the system.

use chrono::{DateTime, Utc};

use super::output::print_json;
use super::{Failure, Lang};
use crate::account::Account;
use crate::app::AppState;
use crate::config::SystemConfig;
use crate::config::access::RuleInput;
use crate::lockout::Zone;
use crate::policy::{AccessFacts, AccountFacts, SessionFacts, SystemFacts, Verdict};

/// The request to explain.
pub struct Request<'a> {
    pub path: &'a str,
    pub method: &'a str,
    pub host: Option<&'a str>,
    pub device: &'a str,
}

fn verdict_line(lang: Lang, v: &Verdict) -> String {
    match v {
        Verdict::Issue => lang.pick("ALLOW", "許可").to_owned(),
        Verdict::Deny | Verdict::NeedPasswordChange => {
            lang.pick("DENY (403)", "拒否 (403)").to_owned()
        }
        Verdict::NeedFactor { kinds } => {
            let k: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            format!(
                "{} {}",
                lang.pick(
                    "STEP-UP: the portal asks for a factor of kind",
                    "追加認証: ポータルで次の種類の要素を求めます:"
                ),
                k.join(" / ")
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn explain(
    state: &AppState,
    account: &Account,
    sys: &SystemConfig,
    factors: &[String],
    zone: Zone,
    now: DateTime<Utc>,
    request: &Request<'_>,
    lang: Lang,
    json: bool,
) -> Result<(), Failure> {
    let canonical = crate::canon::canonicalise(request.path.as_bytes()).map_err(|r| {
        Failure::new(
            2,
            format!(
                "forward-auth refuses `{}` ({}): {}",
                request.path, r.code, r.message
            ),
        )
    })?;
    let method = crate::canon::method(request.method.as_bytes())
        .map_err(|r| Failure::new(2, format!("`{}`: {}", request.method, r.message)))?;
    let host = request
        .host
        .map(str::to_ascii_lowercase)
        .or_else(|| sys.hosts.first().cloned())
        .unwrap_or_default();
    let window = state
        .windows
        .open_for(account, &sys.id, now)
        .await
        .map_err(Failure::from)?
        .map(|w| w.id)
        .unwrap_or_default();
    let ff = crate::auth::factor_facts(&state.stores, &state.config, account)
        .await
        .map_err(Failure::from)?;
    let facts = AccountFacts::of(account, ff.has_second_factor);
    let system = SystemFacts::of(sys, &state.config.facility.id);
    let entry = state.policy.issue_session(
        &facts,
        &system,
        &SessionFacts {
            now,
            amr: factors.to_vec(),
            zone,
            password_state: "ok".into(),
            enrolment_overdue: false,
            device: request.device.to_owned(),
            channel: "web",
            maintenance_window: window.clone(),
            break_glass: false,
        },
    );
    let access = state.policy.access(
        &facts,
        &system,
        &AccessFacts {
            now,
            host: host.clone(),
            path: canonical.path.clone(),
            path_folded: canonical.folded.clone(),
            method: method.clone(),
            zone,
            amr: factors.to_vec(),
            device: request.device.to_owned(),
        },
    );
    let roles = account.role_names();
    let groups = account.group_names();
    let input = RuleInput {
        host: &host,
        path: &canonical.path,
        folded: &canonical.folded,
        method: &method,
        roles: &roles,
        groups: &groups,
        zone: zone.as_str(),
        device: request.device,
    };
    let rule = state
        .config
        .access_rules
        .iter()
        .find(|r| r.matches(&input))
        .map(|r| (r.number, r.policy.as_str()));
    let gate = if entry.verdict == Verdict::Issue {
        &access
    } else {
        &entry
    };
    if json {
        return print_json(&serde_json::json!({
            "canonical_path": canonical.path,
            "method": method,
            "host": host,
            "entry": entry,
            "access": access,
            "decision": gate.verdict,
            "access_rule": rule.map(|(n, p)| serde_json::json!({ "id": format!("access-rule-{n}"), "policy": p })),
        }));
    }
    println!("{}", verdict_line(lang, &gate.verdict));
    println!(
        "  {}: {} {} {} → {}",
        lang.pick("request", "リクエスト"),
        method,
        host,
        request.path,
        canonical.path
    );
    println!(
        "  {}: {} ({})",
        lang.pick(
            "these factors in this system (issue_session)",
            "この要素でこのシステムに入れるか（issue_session）"
        ),
        verdict_line(lang, &entry.verdict),
        entry.policy_ids.join(", ")
    );
    println!(
        "  {}: {} ({})",
        lang.pick("the request (access)", "リクエスト（access）"),
        verdict_line(lang, &access.verdict),
        access.policy_ids.join(", ")
    );
    match rule {
        Some((n, p)) => println!(
            "  {}: access-rule-{n} ({p})",
            lang.pick("first matching access rule", "最初に一致したアクセスルール")
        ),
        None if !state.config.access_rules.is_empty() => println!(
            "  {}",
            lang.pick(
                "no access rule matches: denied (access-rules-no-match)",
                "一致するアクセスルールがありません: 拒否（access-rules-no-match）"
            )
        ),
        None => {}
    }
    for l in allowances(lang, sys) {
        println!("  {l}");
    }
    Ok(())
}

/// The recorded allowances a system carries, one line each.
pub(super) fn allowances(lang: Lang, s: &crate::config::SystemConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = |what_en: &str, what_ja: &str, e: &crate::config::Exemption| {
        out.push(format!(
            "{} {}: {} {} ({}: {}; {}: {})",
            lang.pick(what_en, what_ja),
            s.id,
            lang.pick("until", "期限"),
            e.until_text,
            lang.pick("reason", "理由"),
            e.reason,
            lang.pick("approved by", "承認者"),
            e.approved_by
        ));
    };
    if let Some(e) = &s.exemption {
        line("exemption", "二要素認証の適用除外", e);
    }
    if let Some(e) = &s.factors_optional {
        line(
            "relaxation of enrolled-factors-are-used",
            "登録済み要素の使用の緩和（enrolled-factors-are-used）",
            e,
        );
    }
    out
}
