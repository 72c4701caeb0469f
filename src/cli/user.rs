//! `sekimori user …`: account administration for clinic IT.

use std::io::BufRead as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::output::{print_json, table};
use super::{Failure, Lang, actor, open_state};
use crate::account::{Account, AccountType, Group, NewAccount, Role};
use crate::admin::InitialPassword;
use crate::clock::to_jst_string;
use crate::crypto::SecretString;
use crate::error::Error;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account with a one-time password (changed at first login).
    Add(AddArgs),
    /// List accounts; `--dormant` lists those without a sign-in for `[accounts]
    /// dormant_after_days` (or `--days`).
    List {
        #[arg(long)]
        json: bool,
        /// Only dormant accounts (no sign-in, or never signed in, since N days).
        #[arg(long)]
        dormant: bool,
        /// The days for `--dormant` (default: [accounts] dormant_after_days).
        #[arg(long, requires = "dormant")]
        days: Option<u32>,
    },
    /// Set or remove a fixed-term account's end: a JST date (the account is disabled when
    /// that date begins), an RFC 3339 time, or `never`.
    SetExpiry {
        name: String,
        /// `2027-04-01`, `2027-03-31T18:00:00+09:00` or `never`.
        date: String,
        #[arg(long)]
        reason: String,
    },
    /// The account inventory for the yearly review (棚卸し) as CSV: type, roles, groups,
    /// factors, last sign-in, expiry, status and who created each account.
    Review {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Show one account.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Disable an account.
    Disable {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Enable a disabled account (its password must be changed at next login).
    Enable {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Replace the roles (職種) of an account.
    SetRole {
        name: String,
        /// Role; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long)]
        reason: String,
    },
    /// Require a second factor at every sign-in of an account, or stop requiring it. Without
    /// it (and without an enrolled factor) the account's password needs the longer minimum:
    /// a shorter one must be changed at the next sign-in.
    SecondFactor {
        name: String,
        #[arg(value_enum)]
        setting: SecondFactorSetting,
        #[arg(long)]
        reason: String,
    },
    /// Issue a new one-time password (helpdesk reset).
    ResetPassword {
        name: String,
        #[arg(long)]
        reason: String,
        /// Read the new password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Mark an account compromised: its password must be changed at next login.
    MarkCompromised {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// End a lockout (temporary or after 100 failures) in every zone, with a reason.
    Unlock {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Change an account's own password: reads the current and the new password, one a line,
    /// from standard input.
    Passwd { name: String },
    /// List an account's second factors (TOTP, security keys, passkeys, recovery codes left).
    Factors {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove all second factors of an account (lost phone or key), with a reason and the
    /// identity check used; the person enrols again at the next sign-in.
    ResetFactors {
        name: String,
        #[arg(long)]
        reason: String,
        /// How the person's identity was checked, e.g. "staff ID card seen at the desk".
        #[arg(long)]
        identity_check: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SecondFactorSetting {
    Required,
    Optional,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Username (normalised: full-width and case fold to one name).
    pub name: String,
    /// Display name (kanji).
    #[arg(long)]
    pub display_name: String,
    /// Name in kana.
    #[arg(long)]
    pub kana: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// Account type.
    #[arg(long = "type", default_value = "staff")]
    pub account_type: String,
    /// Role (職種); repeat for several.
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// Group; repeat for several.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// Link to the person of an existing account (reuse is then checked across both).
    #[arg(long)]
    pub same_person_as: Option<String>,
    /// Enforce a second factor for this account (admin, vendor, emergency always have one).
    #[arg(long)]
    pub require_second_factor: bool,
    /// A fixed-term account (residents, temporary staff, contractors): disabled when this JST
    /// date begins (or at this RFC 3339 time).
    #[arg(long)]
    pub expires: Option<String>,
    /// Read the initial password from standard input instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
}

fn read_stdin_lines(n: usize) -> Result<Vec<SecretString>, Failure> {
    let stdin = std::io::stdin();
    let mut out = Vec::with_capacity(n);
    for line in stdin.lock().lines().take(n) {
        let line = line.map_err(|e| Failure::new(1, format!("reading standard input: {e}")))?;
        out.push(SecretString::new(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        ));
    }
    if out.len() < n {
        return Err(Failure::new(
            2,
            format!("expected {n} line(s) on standard input"),
        ));
    }
    Ok(out)
}

fn initial_password(from_stdin: bool) -> Result<InitialPassword, Failure> {
    if from_stdin {
        Ok(InitialPassword::Given(read_stdin_lines(1)?.remove(0)))
    } else {
        Ok(InitialPassword::Generate)
    }
}

fn show_one_time(lang: Lang, account: &Account, password: &SecretString) {
    println!(
        "{}",
        lang.pick(
            "One-time password (shown once; the user must change it at first login):",
            "初回パスワード（一度だけ表示。初回ログイン時に変更が必要です）:"
        )
    );
    println!("  {}  {}", account.username, password.expose());
}

fn roles_text(a: &Account) -> String {
    a.roles
        .iter()
        .map(Role::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

fn time_text(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(to_jst_string).unwrap_or_else(|| "-".into())
}

fn status_text(lang: Lang, a: &Account) -> String {
    match lang {
        Lang::En => a.status.as_str().to_owned(),
        Lang::Ja => a.status.label_ja().to_owned(),
    }
}

pub async fn run(cmd: UserCommand, config: &Option<PathBuf>, lang: Lang) -> Result<(), Failure> {
    let state = open_state(config).await?;
    let admin = &state.admin;
    let actor = actor();
    let result = match cmd {
        UserCommand::Add(args) => {
            let account_type: AccountType = args
                .account_type
                .parse()
                .map_err(|e: String| Failure::new(2, e))?;
            let roles = args
                .roles
                .iter()
                .map(|r| Role::parse(r))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Error::from)?;
            let groups = args
                .groups
                .iter()
                .map(|g| Group::parse(g))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Error::from)?;
            let person_id = match &args.same_person_as {
                Some(other) => Some(admin.find(other).await?.person_id),
                None => None,
            };
            let expires_at = args
                .expires
                .as_deref()
                .map(super::audit::parse_time)
                .transpose()?;
            let new = NewAccount {
                facility_id: state.config.facility.id.clone(),
                login_name: args.name,
                display_name: args.display_name,
                kana_name: args.kana,
                email: args.email,
                account_type,
                roles,
                groups,
                person_id,
                second_factor_required: args.require_second_factor,
                expires_at,
            };
            let (account, generated) = admin
                .create(new, initial_password(args.password_stdin)?, &actor)
                .await?;
            println!(
                "{} {} ({})",
                lang.pick("created", "作成しました:"),
                account.username,
                account.id
            );
            if let Some(p) = generated {
                show_one_time(lang, &account, &p);
            }
            // An emergency account's sealed-envelope codes, shown once.
            if account.account_type == AccountType::Emergency {
                let codes = state
                    .emergency
                    .issue_codes(&account, "account created", &actor)
                    .await?;
                super::emergency::show_codes(lang, &account, &codes);
            }
            Ok(())
        }
        UserCommand::SetExpiry { name, date, reason } => {
            let at = if date.trim() == "never" {
                None
            } else {
                Some(super::audit::parse_time(date.trim())?)
            };
            let a = admin.set_expiry(&name, at, &reason, &actor).await?;
            println!(
                "{} {}: {}",
                lang.pick("expiry set", "利用期限を設定しました:"),
                a.username,
                time_text(a.expires_at)
            );
            Ok(())
        }
        UserCommand::Review { output } => {
            let accounts = admin.list().await?;
            let mut rows = Vec::with_capacity(accounts.len());
            for a in accounts {
                let factors = state.stores.factors.list_factors(a.id).await?;
                rows.push((a, factors));
            }
            let csv = crate::admin::review::csv(&rows, lang == Lang::Ja, state.clock.now())
                .map_err(|e| Failure::new(1, format!("writing the review: {e}")))?;
            super::output::emit(
                output.as_deref(),
                &csv,
                lang,
                (
                    "account review written to",
                    "アカウント棚卸し表を書き出しました:",
                ),
                rows.len(),
                ("account(s)", "件"),
            )?;
            Ok(())
        }
        UserCommand::List {
            json,
            dormant,
            days,
        } => {
            let mut accounts = admin.list().await?;
            if dormant {
                let days = days.unwrap_or(state.config.accounts.dormant_after_days);
                let now = state.clock.now();
                accounts.retain(|a| {
                    a.status != crate::account::AccountStatus::Disabled
                        && a.dormant_since(now, days)
                });
                if !json {
                    println!(
                        "{}",
                        match lang {
                            Lang::En =>
                                format!("Accounts without a sign-in for {days} days or more:"),
                            Lang::Ja => format!("{days}日以上サインインのないアカウント:"),
                        }
                    );
                }
            }
            if json {
                print_json(&accounts)?;
            } else {
                let mut t = table(match lang {
                    Lang::En => vec!["username", "name", "type", "status", "roles", "last login"],
                    Lang::Ja => vec!["利用者ID", "氏名", "種別", "状態", "職種", "最終ログイン"],
                });
                for a in &accounts {
                    let kind = if lang == Lang::Ja {
                        a.account_type.label_ja()
                    } else {
                        a.account_type.as_str()
                    };
                    t.add_row(vec![
                        a.username.to_string(),
                        a.display_name.clone(),
                        kind.to_owned(),
                        status_text(lang, a),
                        roles_text(a),
                        time_text(a.last_login_at),
                    ]);
                }
                println!("{t}");
                println!("{} {}", accounts.len(), lang.pick("account(s)", "件"));
            }
            Ok(())
        }
        UserCommand::Show { name, json } => {
            let a = admin.find(&name).await?;
            if json {
                print_json(&a)?;
            } else {
                let mut t = table(vec![lang.pick("field", "項目"), lang.pick("value", "値")]);
                let rows: Vec<(&str, &str, String)> = vec![
                    ("username", "利用者ID", a.username.to_string()),
                    ("login name", "入力名", a.login_name.clone()),
                    ("id", "ID", a.id.to_string()),
                    ("display name", "氏名", a.display_name.clone()),
                    ("kana", "カナ氏名", a.kana_name.clone().unwrap_or_default()),
                    ("email", "メール", a.email.clone().unwrap_or_default()),
                    ("type", "種別", a.account_type.as_str().to_owned()),
                    ("status", "状態", status_text(lang, &a)),
                    ("roles", "職種", roles_text(&a)),
                    (
                        "groups",
                        "グループ",
                        a.groups
                            .iter()
                            .map(Group::as_str)
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    ("person", "本人ID", a.person_id.to_string()),
                    (
                        "second factor enforced",
                        "二要素認証の必須",
                        a.enforces_second_factor().to_string(),
                    ),
                    ("created", "作成日時", to_jst_string(a.created_at)),
                    ("created by", "作成者", a.created_by.clone()),
                    ("expires", "利用期限", time_text(a.expires_at)),
                    ("last login", "最終ログイン", time_text(a.last_login_at)),
                    (
                        "password set (informational)",
                        "パスワード設定日時（参考）",
                        time_text(a.password_set_at),
                    ),
                ];
                for (en, ja, v) in rows {
                    t.add_row(vec![lang.pick(en, ja).to_owned(), v]);
                }
                println!("{t}");
            }
            Ok(())
        }
        UserCommand::Factors { name, json } => super::factors::list(admin, lang, &name, json).await,
        UserCommand::ResetFactors {
            name,
            reason,
            identity_check,
        } => {
            super::warn_if_detached(&state, lang);
            super::factors::reset(admin, lang, &name, &reason, &identity_check, &actor).await
        }
        UserCommand::Unlock { name, reason } => {
            super::warn_if_detached(&state, lang);
            admin.unlock(&name, &reason, &actor).await.map(|before| {
                let was = before.iter().filter(|z| z.is_locked()).count();
                let mut t = table(vec![
                    lang.pick("zone", "区分"),
                    lang.pick("was locked", "ロック"),
                    lang.pick("until", "解除予定"),
                    lang.pick("failures", "失敗回数"),
                ]);
                for z in &before {
                    t.add_row(vec![
                        z.zone.as_str().to_owned(),
                        if z.admin_unlock_required {
                            lang.pick("until an admin unlocks", "管理者解除まで")
                                .to_owned()
                        } else if z.is_locked() {
                            lang.pick("yes", "はい").to_owned()
                        } else {
                            lang.pick("no", "いいえ").to_owned()
                        },
                        z.locked_until.clone().unwrap_or_default(),
                        z.consecutive_failures.to_string(),
                    ]);
                }
                println!("{t}");
                println!(
                    "{} {name} ({was} {})",
                    lang.pick("unlocked", "ロックを解除しました:"),
                    lang.pick("zone(s) were locked", "区分がロック中でした")
                );
            })
        }
        UserCommand::Disable { name, reason } => {
            admin.disable(&name, &reason, &actor).await.map(|a| {
                println!(
                    "{} {}",
                    lang.pick("disabled", "無効化しました:"),
                    a.username
                );
            })
        }
        UserCommand::Enable { name, reason } => {
            admin.enable(&name, &reason, &actor).await.map(|a| {
                println!(
                    "{} {} ({})",
                    lang.pick("enabled", "有効化しました:"),
                    a.username,
                    status_text(lang, &a)
                );
            })
        }
        UserCommand::SetRole {
            name,
            roles,
            reason,
        } => {
            let roles = roles
                .iter()
                .map(|r| Role::parse(r))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Error::from)?;
            admin
                .set_roles(&name, roles, &reason, &actor)
                .await
                .map(|a| {
                    println!(
                        "{} {}: {}",
                        lang.pick("roles set", "職種を設定しました:"),
                        a.username,
                        roles_text(&a)
                    );
                })
        }
        UserCommand::SecondFactor {
            name,
            setting,
            reason,
        } => {
            let required = setting == SecondFactorSetting::Required;
            admin
                .set_second_factor_required(&name, required, &reason, &actor)
                .await
                .map(|a| {
                    let (en, ja) = if required {
                        (
                            "a second factor is now required at every sign-in of",
                            "二要素認証を必須にしました:",
                        )
                    } else {
                        (
                            "a second factor is no longer required for",
                            "二要素認証の必須を解除しました:",
                        )
                    };
                    println!("{} {}", lang.pick(en, ja), a.username);
                })
        }
        UserCommand::ResetPassword {
            name,
            reason,
            password_stdin,
        } => {
            let initial = initial_password(password_stdin)?;
            admin
                .reset_password(&name, initial, &reason, &actor)
                .await
                .map(|(a, p)| {
                    println!(
                        "{} {}",
                        lang.pick("password reset", "パスワードを再発行しました:"),
                        a.username
                    );
                    if let Some(p) = p {
                        show_one_time(lang, &a, &p);
                    }
                })
        }
        UserCommand::MarkCompromised { name, reason } => admin
            .mark_compromised(&name, &reason, &actor)
            .await
            .map(|a| {
                println!(
                    "{} {}",
                    lang.pick(
                        "marked compromised; password change required:",
                        "漏えいの疑いを登録しました（パスワード変更必須）:"
                    ),
                    a.username
                );
            }),
        UserCommand::Passwd { name } => {
            let mut lines = read_stdin_lines(2)?;
            let new = lines.remove(1);
            let current = lines.remove(0);
            admin
                .change_own_password(&name, &current, &new)
                .await
                .map(|a| {
                    println!(
                        "{} {}",
                        lang.pick("password changed", "パスワードを変更しました:"),
                        a.username
                    );
                })
        }
    };
    state.close().await;
    result.map_err(Failure::from)
}
