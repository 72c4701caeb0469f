//! `sekimori policy check|explain`.

use std::path::PathBuf;

use clap::Subcommand;

use super::output::{print_json, table};
use super::{Failure, Lang, load_config, open_state};
use crate::app::load_policies;
use crate::clock::to_jst_string;
use crate::lockout::Zone;
use crate::policy::factors::kind_of_amr;
use crate::policy::{AccountFacts, SessionFacts, SystemFacts, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ZoneArg {
    Trusted,
    External,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate the policies against the schema and list them with their files.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Show what the policies decide for an account entering a system, and why.
    Explain {
        /// The account (username).
        #[arg(long)]
        user: String,
        /// The system id from [systems.*].
        #[arg(long)]
        system: String,
        /// Methods presented, RFC 8176 amr values: pwd, pin, otp, hwk, swk, fpt, face …
        #[arg(long, value_delimiter = ',', default_value = "pwd")]
        factors: Vec<String>,
        /// When: a JST date or an RFC 3339 time (default: now).
        #[arg(long)]
        at: Option<String>,
        #[arg(long, value_enum, default_value = "trusted")]
        zone: ZoneArg,
        /// A request path: explain forward-auth's decision for it (the session's factors
        /// entering the system, then `access`), with the access rule that matches.
        #[arg(long)]
        path: Option<String>,
        /// The request's method (with --path).
        #[arg(long, default_value = "GET")]
        method: String,
        /// The request's host (with --path; default: the system's first host).
        #[arg(long)]
        host: Option<String>,
        /// A registered terminal the request comes from (with --path).
        #[arg(long, default_value = "")]
        device: String,
        #[arg(long)]
        json: bool,
    },
}

fn verdict_text(lang: Lang, v: &Verdict) -> String {
    match (v, lang) {
        (Verdict::Issue, Lang::En) => "ISSUE: a session would be issued".into(),
        (Verdict::Issue, Lang::Ja) => "発行: セッションが発行されます".into(),
        (Verdict::Deny, Lang::En) => "DENY: no session".into(),
        (Verdict::Deny, Lang::Ja) => "拒否: セッションは発行されません".into(),
        (Verdict::NeedPasswordChange, Lang::En) => {
            "PASSWORD CHANGE REQUIRED before any session".into()
        }
        (Verdict::NeedPasswordChange, Lang::Ja) => {
            "パスワード変更が必要です（変更するまでセッションは発行されません）".into()
        }
        (Verdict::NeedFactor { kinds }, _) => {
            let k: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            match lang {
                Lang::En => format!(
                    "SECOND FACTOR REQUIRED: add a factor of kind {}",
                    k.join(" or ")
                ),
                Lang::Ja => format!(
                    "二要素認証が必要です: 次の種類の要素を追加してください: {}",
                    k.join(" / ")
                ),
            }
        }
    }
}

pub async fn run(cmd: PolicyCommand, config: &Option<PathBuf>, lang: Lang) -> Result<(), Failure> {
    match cmd {
        PolicyCommand::Check { json } => {
            let config = load_config(config)?;
            let engine = load_policies(&config).map_err(|e| Failure::new(3, e.to_string()))?;
            if json {
                let list: Vec<_> = engine
                    .policies()
                    .iter()
                    .map(|(f, id)| serde_json::json!({ "file": f, "id": id }))
                    .collect();
                return print_json(&serde_json::json!({ "ok": true, "policies": list }));
            }
            let mut t = table(vec![
                lang.pick("policy id", "ポリシーID"),
                lang.pick("file", "ファイル"),
            ]);
            for (file, id) in engine.policies() {
                t.add_row(vec![id.clone(), file.clone()]);
            }
            println!("{t}");
            println!(
                "{} {}",
                engine.policies().len(),
                lang.pick(
                    "policies valid against the schema",
                    "件のポリシーはスキーマに適合しています"
                )
            );
            for s in &config.systems {
                for l in super::policy_access::allowances(lang, s) {
                    println!("{l}");
                }
            }
            for (later, earlier) in crate::config::access::shadowed(&config.access_rules) {
                println!(
                    "{}",
                    lang.pick(
                        &format!("warning: access-rule-{later} is shadowed by access-rule-{earlier} and never applies"),
                        &format!("警告: access-rule-{later} は access-rule-{earlier} に隠れて適用されません"),
                    )
                );
            }
            Ok(())
        }
        PolicyCommand::Explain {
            user,
            system,
            factors,
            at,
            zone,
            path,
            method,
            host,
            device,
            json,
        } => {
            for f in &factors {
                if kind_of_amr(f).is_none() {
                    return Err(Failure::new(
                        2,
                        format!(
                            "`{f}` is not a factor method; use pwd, pin, otp, hwk, swk, fpt or face"
                        ),
                    ));
                }
            }
            let now = match at {
                Some(t) => super::audit::parse_time(&t)?,
                None => crate::clock::Clock::now(&crate::clock::SystemClock),
            };
            let state = open_state(config).await?;
            let result = async {
                let account = state.admin.find(&user).await?;
                let sys = state.config.system(&system).ok_or_else(|| {
                    let known: Vec<&str> =
                        state.config.systems.iter().map(|s| s.id.as_str()).collect();
                    Failure::new(
                        2,
                        format!(
                            "no system `{system}` in [systems]; known: {}",
                            known.join(", ")
                        ),
                    )
                })?;
                if let Some(path) = &path {
                    let request = super::policy_access::Request {
                        path,
                        method: &method,
                        host: host.as_deref(),
                        device: &device,
                    };
                    let zone = if zone == ZoneArg::Trusted {
                        Zone::Trusted
                    } else {
                        Zone::External
                    };
                    return super::policy_access::explain(
                        &state, &account, sys, &factors, zone, now, &request, lang, json,
                    )
                    .await;
                }
                let password_state = crate::auth::password_state(account.status, false);
                // The same account facts as a login: enrolled factors and the grace count.
                // A vendor's maintenance window of this system at that time, if any.
                let window = state
                    .windows
                    .open_for(&account, &sys.id, now)
                    .await
                    .map_err(Failure::from)?
                    .map(|w| w.id)
                    .unwrap_or_default();
                let ff = crate::auth::factor_facts(&state.stores, &state.config, &account)
                    .await
                    .map_err(Failure::from)?;
                let has_second_factor = ff.has_second_factor;
                let facts = SessionFacts {
                    now,
                    amr: factors.clone(),
                    zone: if zone == ZoneArg::Trusted {
                        Zone::Trusted
                    } else {
                        Zone::External
                    },
                    password_state: password_state.into(),
                    enrolment_overdue: ff.enrolment_overdue,
                    device: String::new(),
                    channel: "web",
                    maintenance_window: window.clone(),
                    break_glass: false,
                };
                let system_facts = SystemFacts::of(sys, &state.config.facility.id);
                let decision = state.policy.issue_session(
                    &AccountFacts::of(&account, has_second_factor),
                    &system_facts,
                    &facts,
                );
                if json {
                    print_json(&decision)?;
                } else {
                    println!("{}", verdict_text(lang, &decision.verdict));
                    println!(
                        "  {}: {}",
                        lang.pick("determined by", "決定したポリシー"),
                        decision.policy_ids.join(", ")
                    );
                    for e in &decision.errors {
                        println!(
                            "  {}: {e}",
                            lang.pick("evaluation error (denies)", "評価エラー（拒否扱い）")
                        );
                    }
                    println!(
                        "  {}: {} ({}), {} {} ({}), {} {}, {} {}, {} {}",
                        lang.pick("account", "アカウント"),
                        account.username,
                        account.account_type,
                        lang.pick("system", "システム"),
                        sys.id,
                        sys.kind,
                        lang.pick("factors", "認証要素"),
                        factors.join("+"),
                        lang.pick("zone", "ゾーン"),
                        facts.zone.as_str(),
                        lang.pick("at", "日時"),
                        to_jst_string(now)
                    );
                    for l in super::policy_access::allowances(lang, sys) {
                        println!("  {l}");
                    }
                }
                Ok::<(), Failure>(())
            }
            .await;
            state.close().await;
            result
        }
    }
}
