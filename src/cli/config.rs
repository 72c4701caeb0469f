//! `sekimori config check`.

use std::path::PathBuf;

use clap::Subcommand;

use super::{Failure, Lang};
use crate::config::{Config, Sources};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration; print every problem with its key and a fix.
    Check {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ConfigCommand, config: &Option<PathBuf>, lang: Lang) -> Result<(), Failure> {
    let ConfigCommand::Check { json } = cmd;
    match Config::load(&Sources {
        file: config.clone(),
        env: true,
    }) {
        Ok(c) => {
            // Policies are part of the configuration: files that do not load are a problem here.
            crate::app::load_policies(&c).map_err(|e| Failure::new(3, e.to_string()))?;
            // Rules an earlier rule shadows never apply: valid, but almost surely a mistake.
            let warnings: Vec<String> = crate::config::access::shadowed(&c.access_rules)
                .into_iter()
                .map(|(later, earlier)| {
                    format!(
                        "access.rules[{}] (access-rule-{later}) is shadowed by access.rules[{}] (access-rule-{earlier}): every request it matches is matched earlier, so it never applies",
                        later - 1,
                        earlier - 1
                    )
                })
                .collect();
            if json {
                super::output::print_json(&serde_json::json!({
                    "ok": true,
                    "source": c.source,
                    "problems": [],
                    "warnings": warnings,
                }))?;
            } else {
                for w in &warnings {
                    println!("{}: {w}", lang.pick("warning", "警告"));
                }
                println!(
                    "{} ({})",
                    lang.pick("configuration OK", "設定に問題はありません"),
                    c.source
                );
                println!(
                    "  listen: {}  public_url: {}",
                    c.server.listen, c.server.public_url
                );
                println!("  store: {}", c.store.describe());
                let p = &c.password.policy;
                println!(
                    "  password: profile {:?}, min {} (2FA) / {} (no 2FA), max {}, history {}, strength >= {}",
                    p.composition,
                    p.min_length_with_second_factor,
                    p.min_length_without_second_factor,
                    p.max_length,
                    p.history_depth,
                    p.min_score
                );
                println!(
                    "  password rotation: {}",
                    lang.pick("none (guideline 7.0)", "なし（第7.0版）")
                );
                let l = &c.lockout.policy;
                println!(
                    "  lockout: {} failures in {} min -> {} min (doubling to {} h); {} consecutive -> admin unlock; {} per address per {} min",
                    l.threshold,
                    l.window.num_minutes(),
                    l.base_lock.num_minutes(),
                    l.max_lock.num_hours(),
                    l.hard_threshold,
                    c.lockout.ip_limit,
                    c.lockout.ip_window.as_secs() / 60
                );
                println!(
                    "  session: idle {} s, absolute {} h, cookie {}{}",
                    c.session.idle_timeout.as_secs(),
                    c.session.absolute_timeout.as_secs() / 3600,
                    c.session.cookie_name,
                    if c.session.cookie_domain.is_empty() {
                        String::new()
                    } else {
                        format!(" (domain {})", c.session.cookie_domain)
                    }
                );
                let nets = |v: &[ipnet::IpNet]| {
                    if v.is_empty() {
                        "-".to_owned()
                    } else {
                        v.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                println!(
                    "  trusted proxies: {}  clinic networks: {}",
                    nets(&c.network.trusted_proxies),
                    nets(&c.network.clinic_networks)
                );
                println!(
                    "  access rules: {} (first match wins{})",
                    c.access_rules.len(),
                    if c.access_rules.is_empty() {
                        ""
                    } else {
                        "; no match is denied"
                    }
                );
                println!("  signing keys: {}", c.keys.dir.display());
                println!(
                    "  factor key: {}  enrolment grace: {} sign-ins",
                    c.factors.seal_key_file.display(),
                    c.factors.enrolment_grace_logins
                );
                let w = &c.webauthn;
                println!(
                    "  webauthn: rp_id {}  origins {}  passwordless {}  attestation {}",
                    w.rp_id,
                    w.origins
                        .iter()
                        .map(|o| o.as_str().trim_end_matches('/'))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if w.passwordless { "on" } else { "off" },
                    w.attestation.as_ref().map_or_else(
                        || "any model".to_owned(),
                        |a| format!("{} allowed model(s)", a.allowed_aaguids.len())
                    )
                );
            }
            Ok(())
        }
        Err(e) => {
            if json {
                super::output::print_json(
                    &serde_json::json!({ "ok": false, "source": e.source, "problems": e.problems }),
                )?;
                Err(Failure::new(3, format!("{} problem(s)", e.problems.len())))
            } else {
                Err(Failure::new(3, e.to_string()))
            }
        }
    }
}
