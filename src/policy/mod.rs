//! The policy engine: Cedar policies decide before any session is issued (`issue_session`)
//! and on every forward-auth request (`access`). The schema is compiled in; the guideline
//! 7.0 default set (`config/policies/mhlw-7.0.cedar`) is always loaded, and a deployment adds
//! its own `*.cedar` files. Every policy carries an `@id`, and each decision lists the ids
//! that determined it, for the audit record and `sekimori policy explain`.
//!
//! Fail closed: a policy that errors during evaluation (Cedar would skip it) turns the
//! decision into a denial, because a skipped `forbid` would otherwise let a request through.

pub mod cache;
pub mod factors;
pub mod rules;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid,
    PolicyId, PolicySet, Request, Schema, ValidationMode, Validator,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::account::Account;
use crate::lockout::Zone;
pub use factors::FactorKind;

const SCHEMA: &str = include_str!("schema.cedarschema");
/// The default set's file name and text.
pub const DEFAULT_FILE: &str = "mhlw-7.0.cedar";
pub const DEFAULT_POLICIES: &str = include_str!("../../config/policies/mhlw-7.0.cedar");

/// A problem in a policy file, located for a person to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyProblem {
    pub file: String,
    pub line: Option<usize>,
    pub policy_id: Option<String>,
    pub message: String,
}

impl std::fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(id) = &self.policy_id {
            write!(f, " [{id}]")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What the policy asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Issue,
    Deny,
    /// Another factor of one of these kinds would satisfy the policy.
    NeedFactor {
        kinds: Vec<FactorKind>,
    },
    NeedPasswordChange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The policies that determined it.
    pub policy_ids: Vec<String>,
    /// Evaluation errors (each one forces a denial).
    pub errors: Vec<String>,
}

/// The account as the policy sees it.
#[derive(Debug, Clone)]
pub struct AccountFacts {
    pub id: String,
    pub account_type: String,
    pub status: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub facility: String,
    pub has_second_factor: bool,
    /// An administrator made a second factor mandatory for this account.
    pub second_factor_required: bool,
}

impl AccountFacts {
    pub fn of(account: &Account, has_second_factor: bool) -> Self {
        Self {
            id: account.id.to_string(),
            account_type: account.account_type.as_str().to_owned(),
            status: account.status.as_str().to_owned(),
            roles: account.role_names(),
            groups: account.group_names(),
            facility: account.facility_id.0.clone(),
            has_second_factor,
            second_factor_required: account.second_factor_required,
        }
    }
}

/// The system being entered.
#[derive(Debug, Clone)]
pub struct SystemFacts {
    pub id: String,
    /// web | terminal | server
    pub kind: String,
    pub facility: String,
    pub exemption_until: Option<DateTime<Utc>>,
    /// Enrolled second factors need not be used here until then (a recorded relaxation).
    pub factors_optional_until: Option<DateTime<Utc>>,
}

impl SystemFacts {
    pub fn of(system: &crate::config::SystemConfig, facility: &crate::account::FacilityId) -> Self {
        Self {
            id: system.id.clone(),
            kind: system.kind.clone(),
            facility: facility.0.clone(),
            exemption_until: system.exemption.as_ref().map(|e| e.until),
            factors_optional_until: system.factors_optional.as_ref().map(|e| e.until),
        }
    }
}

/// The facts of an `issue_session` question.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    pub now: DateTime<Utc>,
    pub amr: Vec<String>,
    pub zone: Zone,
    /// ok | must_change | compromised | breached
    pub password_state: String,
    /// No second factor, and the sign-ins allowed without one before 2027-04-01 are used up.
    pub enrolment_overdue: bool,
    /// The registered device asked from (a terminal's browser, a PAM module), or empty.
    pub device: String,
    /// web | pam
    pub channel: &'static str,
    /// A vendor account's open maintenance window of this system, or empty.
    pub maintenance_window: String,
    /// The second factor was a break-glass code.
    pub break_glass: bool,
}

/// The facts of an `access` question: one request on the forward-auth path.
#[derive(Debug, Clone)]
pub struct AccessFacts {
    pub now: DateTime<Utc>,
    pub host: String,
    /// The canonical path, case kept.
    pub path: String,
    /// The canonical path, case-folded.
    pub path_folded: String,
    pub method: String,
    pub zone: Zone,
    /// The methods the session was established with.
    pub amr: Vec<String>,
    /// The registered terminal the request comes from, or empty.
    pub device: String,
}

#[derive(Debug, Clone, Default)]
struct Annotations {
    outcome: Option<String>,
    satisfy: Vec<FactorKind>,
}

#[derive(Debug, Clone)]
pub struct PolicyEngine {
    schema: Schema,
    set: PolicySet,
    annotations: HashMap<String, Annotations>,
    /// (file, policy id) in load order.
    index: Vec<(String, String)>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// Line of the `n`th (0-based) policy statement of a file: policies begin at the start of a
/// line with `@`, `permit` or `forbid` after any annotations.
fn statement_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut in_statement = false;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim_start();
        if l.starts_with("//") || l.is_empty() {
            continue;
        }
        if !in_statement
            && (l.starts_with('@') || l.starts_with("permit") || l.starts_with("forbid"))
        {
            lines.push(i + 1);
            in_statement = true;
        }
        if in_statement && l.trim_end().ends_with(';') && !l.starts_with('@') {
            in_statement = false;
        }
    }
    lines
}

fn diagnostic_line(d: &dyn miette::Diagnostic, text: &str) -> Option<usize> {
    d.labels()
        .and_then(|mut l| l.next())
        .map(|label| line_of(text, label.offset()))
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let t = EntityTypeName::from_str(type_name).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

impl PolicyEngine {
    /// The default set, every `*.cedar` file in `extra_dir` (sorted by name), and the
    /// policies compiled from `[[access.rules]]`.
    pub fn load(
        extra_dir: Option<&Path>,
        access_rules: &[crate::config::AccessRule],
    ) -> Result<Self, Vec<PolicyProblem>> {
        let mut files = vec![(DEFAULT_FILE.to_owned(), DEFAULT_POLICIES.to_owned())];
        if !access_rules.is_empty() {
            files.push((rules::RULES_FILE.to_owned(), rules::compile(access_rules)));
        }
        if let Some(dir) = extra_dir {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                vec![PolicyProblem {
                    file: dir.display().to_string(),
                    line: None,
                    policy_id: None,
                    message: format!("cannot read policy directory: {e}"),
                }]
            })?;
            let mut paths: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
                .collect();
            paths.sort();
            for p in paths {
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    vec![PolicyProblem {
                        file: p.display().to_string(),
                        line: None,
                        policy_id: None,
                        message: e.to_string(),
                    }]
                })?;
                files.push((p.display().to_string(), text));
            }
        }
        Self::from_sources(&files)
    }

    /// Build from (file name, text) pairs; the default set is not added implicitly.
    pub fn from_sources(files: &[(String, String)]) -> Result<Self, Vec<PolicyProblem>> {
        let mut problems = Vec::new();
        let schema = match Schema::from_cedarschema_str(SCHEMA) {
            Ok((s, _)) => s,
            Err(e) => {
                return Err(vec![PolicyProblem {
                    file: "schema".into(),
                    line: None,
                    policy_id: None,
                    message: e.to_string(),
                }]);
            }
        };
        let mut set = PolicySet::new();
        let mut annotations = HashMap::new();
        let mut index = Vec::new();
        let mut text_of_id: HashMap<String, usize> = HashMap::new();
        for (fi, (file, text)) in files.iter().enumerate() {
            let parsed = match PolicySet::from_str(text) {
                Ok(p) => p,
                Err(errs) => {
                    for e in errs.iter() {
                        problems.push(PolicyProblem {
                            file: file.clone(),
                            line: diagnostic_line(e, text),
                            policy_id: None,
                            message: e.to_string(),
                        });
                    }
                    continue;
                }
            };
            let lines = statement_lines(text);
            // PolicySet::from_str numbers policies policy0, policy1, … in file order.
            let mut parsed_policies: Vec<_> = parsed.policies().collect();
            parsed_policies.sort_by_key(|p| {
                p.id()
                    .to_string()
                    .trim_start_matches("policy")
                    .parse::<usize>()
                    .unwrap_or(usize::MAX)
            });
            for (n, policy) in parsed_policies.into_iter().enumerate() {
                let line = lines.get(n).copied();
                let Some(id) = policy.annotation("id").map(str::to_owned) else {
                    problems.push(PolicyProblem { file: file.clone(), line, policy_id: None, message: "policy has no @id(\"…\") annotation; every policy needs one for the audit log".into() });
                    continue;
                };
                let outcome = policy.annotation("outcome").map(str::to_owned);
                if let Some(o) = &outcome
                    && o != "second_factor_required"
                    && o != "password_change_required"
                {
                    problems.push(PolicyProblem { file: file.clone(), line, policy_id: Some(id.clone()), message: format!("unknown @outcome(\"{o}\"); use second_factor_required or password_change_required") });
                }
                let mut satisfy = Vec::new();
                for k in policy
                    .annotation("satisfy")
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                {
                    match FactorKind::parse(k) {
                        Some(kind) => satisfy.push(kind),
                        None => problems.push(PolicyProblem {
                            file: file.clone(),
                            line,
                            policy_id: Some(id.clone()),
                            message: format!("unknown factor kind `{}` in @satisfy", k.trim()),
                        }),
                    }
                }
                if set.add(policy.new_id(PolicyId::new(&id))).is_err() {
                    problems.push(PolicyProblem {
                        file: file.clone(),
                        line,
                        policy_id: Some(id.clone()),
                        message: "duplicate policy id".into(),
                    });
                    continue;
                }
                annotations.insert(id.clone(), Annotations { outcome, satisfy });
                text_of_id.insert(id.clone(), fi);
                index.push((file.clone(), id));
            }
        }
        let validation = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
        for e in validation.validation_errors() {
            let id = e.policy_id().to_string();
            let (file, line) = match text_of_id.get(&id).and_then(|fi| files.get(*fi)) {
                Some((file, text)) => (file.clone(), diagnostic_line(e, text)),
                None => ("(unknown)".into(), None),
            };
            problems.push(PolicyProblem {
                file,
                line,
                policy_id: Some(id),
                message: e.to_string(),
            });
        }
        if problems.is_empty() {
            Ok(Self {
                schema,
                set,
                annotations,
                index,
            })
        } else {
            Err(problems)
        }
    }

    /// (file, id) of every loaded policy.
    pub fn policies(&self) -> &[(String, String)] {
        &self.index
    }

    fn entities(&self, account: &AccountFacts, system: &SystemFacts) -> Result<Entities, String> {
        let mut sys_attrs = json!({ "kind": system.kind, "facility": system.facility });
        if let Some(until) = system.exemption_until {
            sys_attrs["exemption_until"] = json!(until.timestamp());
        }
        if let Some(until) = system.factors_optional_until {
            sys_attrs["enrolled_factors_optional_until"] = json!(until.timestamp());
        }
        let value = json!([
            {
                "uid": { "type": "Sekimori::Account", "id": account.id },
                "attrs": {
                    "account_type": account.account_type,
                    "status": account.status,
                    "roles": account.roles,
                    "groups": account.groups,
                    "facility": account.facility,
                    "has_second_factor": account.has_second_factor,
                    "second_factor_required": account.second_factor_required,
                },
                "parents": []
            },
            { "uid": { "type": "Sekimori::System", "id": system.id }, "attrs": sys_attrs, "parents": [] }
        ]);
        Entities::from_json_value(value, Some(&self.schema)).map_err(|e| e.to_string())
    }

    fn decide(
        &self,
        action: &str,
        account: &AccountFacts,
        system: &SystemFacts,
        context: serde_json::Value,
        presented: &[FactorKind],
    ) -> Decision {
        let deny = |e: String| Decision {
            verdict: Verdict::Deny,
            policy_ids: vec![],
            errors: vec![e],
        };
        let built = (|| -> Result<Request, String> {
            let action_uid = uid("Sekimori::Action", action)?;
            let ctx = Context::from_json_value(context, Some((&self.schema, &action_uid)))
                .map_err(|e| e.to_string())?;
            Request::new(
                uid("Sekimori::Account", &account.id)?,
                action_uid,
                uid("Sekimori::System", &system.id)?,
                ctx,
                Some(&self.schema),
            )
            .map_err(|e| e.to_string())
        })();
        let request = match built {
            Ok(r) => r,
            Err(e) => return deny(e),
        };
        let entities = match self.entities(account, system) {
            Ok(e) => e,
            Err(e) => return deny(e),
        };
        let response = Authorizer::new().is_authorized(&request, &self.set, &entities);
        let ids: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        if !errors.is_empty() {
            return Decision {
                verdict: Verdict::Deny,
                policy_ids: ids,
                errors,
            };
        }
        let verdict = match response.decision() {
            CedarDecision::Allow => Verdict::Issue,
            CedarDecision::Deny if ids.is_empty() => {
                return Decision {
                    verdict: Verdict::Deny,
                    policy_ids: vec!["(no permit matched)".into()],
                    errors,
                };
            }
            CedarDecision::Deny => {
                let outcomes: Vec<Option<&str>> = ids
                    .iter()
                    .map(|id| self.annotations.get(id).and_then(|a| a.outcome.as_deref()))
                    .collect();
                if outcomes.iter().any(Option::is_none) {
                    Verdict::Deny
                } else if outcomes.contains(&Some("password_change_required")) {
                    Verdict::NeedPasswordChange
                } else {
                    let kinds: BTreeSet<FactorKind> = ids
                        .iter()
                        .filter_map(|id| self.annotations.get(id))
                        .flat_map(|a| a.satisfy.iter().copied())
                        .filter(|k| !presented.contains(k))
                        .collect();
                    Verdict::NeedFactor {
                        kinds: kinds.into_iter().collect(),
                    }
                }
            }
        };
        Decision {
            verdict,
            policy_ids: ids,
            errors,
        }
    }

    /// May this account get a session for this system, with these factors, now?
    pub fn issue_session(
        &self,
        account: &AccountFacts,
        system: &SystemFacts,
        facts: &SessionFacts,
    ) -> Decision {
        let kinds = factors::kinds(&facts.amr);
        let context = json!({
            "now": facts.now.timestamp(),
            "amr": facts.amr,
            "factor_kinds": kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "factor_kind_count": kinds.len(),
            "zone": facts.zone.as_str(),
            "password_state": facts.password_state,
            "enrolment_overdue": facts.enrolment_overdue,
            "device": facts.device,
            "channel": facts.channel,
            "maintenance_window": facts.maintenance_window,
            "break_glass": facts.break_glass,
        });
        self.decide("issue_session", account, system, context, &kinds)
    }

    /// May this session's account reach this host and path?
    pub fn access(
        &self,
        account: &AccountFacts,
        system: &SystemFacts,
        facts: &AccessFacts,
    ) -> Decision {
        let kinds = factors::kinds(&facts.amr);
        let context = json!({
            "now": facts.now.timestamp(),
            "host": facts.host,
            "path": facts.path,
            "path_folded": facts.path_folded,
            "method": facts.method,
            "zone": facts.zone.as_str(),
            "amr": facts.amr,
            "factor_kinds": kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "factor_kind_count": kinds.len(),
            "device": facts.device,
        });
        self.decide("access", account, system, context, &kinds)
    }
}

#[cfg(test)]
mod tests;
