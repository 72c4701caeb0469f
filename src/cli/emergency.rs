//! `sekimori emergency codes|uses|acknowledge`: emergency (break-glass) accounts (G-13).
//! `codes` issues a new sealed-envelope set (printed once; the old set stops working), `uses`
//! lists each use, and `acknowledge` closes one with a reason (the consoles' banner goes).

use std::path::PathBuf;

use clap::Subcommand;

use super::output::{print_json, table};
use super::{Failure, Lang, actor, open_state};
use crate::account::Account;
use crate::clock::to_jst_string;
use crate::crypto::SecretString;

#[derive(Debug, Subcommand)]
pub enum EmergencyCommand {
    /// Issue a new set of break-glass codes for an emergency account (shown once).
    Codes {
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Uses of emergency accounts (the open ones unless --all).
    Uses {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a use after looking into it.
    Acknowledge {
        /// The use's number (from `uses`).
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

/// Print a set of codes once, for the sealed envelope.
pub fn show_codes(lang: Lang, account: &Account, codes: &[SecretString]) {
    println!(
        "{}",
        lang.pick(
            "Break-glass codes (shown once; print them, seal them in an envelope, store it safely):",
            "緊急用コード（一度だけ表示。印刷して封筒に封印し、安全な場所に保管してください）:"
        )
    );
    println!("  {}", account.username);
    for c in codes {
        println!("  {}", c.expose());
    }
    println!(
        "{}",
        lang.pick(
            "Each code works once, with the account's password. A use is reported at once.",
            "各コードはパスワードと組み合わせて一度だけ使えます。使用はただちに通知されます。"
        )
    );
}

pub async fn run(
    cmd: EmergencyCommand,
    config: &Option<PathBuf>,
    lang: Lang,
) -> Result<(), Failure> {
    let state = open_state(config).await?;
    let result = async {
        match cmd {
            EmergencyCommand::Codes { name, reason } => {
                let account = state.admin.find(&name).await?;
                let codes = state
                    .emergency
                    .issue_codes(&account, &reason, &actor())
                    .await?;
                show_codes(lang, &account, &codes);
                Ok(())
            }
            EmergencyCommand::Uses { all, json } => {
                let uses = state.emergency.uses(!all).await?;
                if json {
                    let v: Vec<_> = uses
                        .iter()
                        .map(|u| {
                            serde_json::json!({
                                "id": u.id,
                                "account": u.username,
                                "at": to_jst_string(u.at),
                                "channel": u.channel,
                                "device": u.device,
                                "ip": u.ip,
                                "acknowledged_at": u.acknowledged_at.map(to_jst_string),
                                "acknowledged_by": u.acknowledged_by,
                                "reason": u.ack_reason,
                            })
                        })
                        .collect();
                    return print_json(&v);
                }
                let mut t = table(match lang {
                    Lang::En => vec![
                        "#",
                        "account",
                        "at",
                        "channel",
                        "device",
                        "address",
                        "acknowledged",
                    ],
                    Lang::Ja => vec![
                        "番号",
                        "アカウント",
                        "日時",
                        "経路",
                        "機器",
                        "アドレス",
                        "確認",
                    ],
                });
                for u in &uses {
                    t.add_row(vec![
                        u.id.to_string(),
                        u.username.clone(),
                        to_jst_string(u.at),
                        u.channel.clone(),
                        u.device.clone().unwrap_or_default(),
                        u.ip.clone().unwrap_or_default(),
                        match (&u.acknowledged_by, u.acknowledged_at) {
                            (Some(by), Some(at)) => format!("{by} {}", to_jst_string(at)),
                            _ => lang.pick("open", "未確認").to_owned(),
                        },
                    ]);
                }
                println!("{t}");
                Ok(())
            }
            EmergencyCommand::Acknowledge { id, reason } => {
                state.emergency.acknowledge(id, &reason, &actor()).await?;
                println!(
                    "{} #{id}",
                    lang.pick(
                        "acknowledged break-glass use",
                        "緊急用アカウントの使用を確認しました:"
                    )
                );
                Ok(())
            }
        }
    }
    .await;
    state.close().await;
    result
}
