//! `sekimori session list|revoke`: an account's live sessions, and ending them.

use std::path::PathBuf;

use clap::Subcommand;

use super::output::{print_json, table};
use super::{Failure, Lang, actor, open_state, warn_if_detached};
use crate::clock::to_jst_string;

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List an account's live sessions.
    List {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// End one session (--sid) or all of an account's sessions (--all), with a reason.
    Revoke {
        name: String,
        /// The session's id as `session list` shows it.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        sid: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(cmd: SessionCommand, config: &Option<PathBuf>, lang: Lang) -> Result<(), Failure> {
    let state = open_state(config).await?;
    warn_if_detached(&state, lang);
    let result = match cmd {
        SessionCommand::List { name, json } => {
            let (account, list) = state.admin.sessions(&name).await?;
            if json {
                return print_json(&list);
            }
            let mut t = table(vec![
                "sid",
                lang.pick("signed in", "ログイン日時"),
                lang.pick("ends at the latest", "最長終了"),
                lang.pick("methods", "認証方式"),
                lang.pick("zone", "区分"),
                lang.pick("address", "IPアドレス"),
                lang.pick("browser", "ブラウザ"),
            ]);
            for s in &list {
                t.add_row(vec![
                    s.sid.clone(),
                    to_jst_string(s.created_at),
                    to_jst_string(s.absolute_expiry),
                    s.amr.join("+"),
                    s.zone.as_str().to_owned(),
                    s.ip.clone(),
                    s.user_agent.chars().take(40).collect(),
                ]);
            }
            println!("{t}");
            println!(
                "{} {}: {}",
                account.username,
                lang.pick("live sessions", "有効なセッション数"),
                list.len()
            );
            Ok(())
        }
        SessionCommand::Revoke {
            name,
            sid,
            all: _,
            reason,
        } => state
            .admin
            .revoke_sessions(&name, sid.as_deref(), &reason, &actor())
            .await
            .map(|n| {
                println!(
                    "{} {n}",
                    lang.pick("sessions ended:", "終了したセッション数:")
                );
            }),
    };
    state.close().await;
    result.map_err(Failure::from)
}
