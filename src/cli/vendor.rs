//! `sekimori vendor window add|list|cancel|end|report`: vendors' maintenance windows (G-18).
//! A vendor account signs in to a system only inside an approved window of it; `report`
//! writes the window's work (every sign-in and request recorded with its id) as CSV.

use std::path::PathBuf;

use clap::Subcommand;

use super::output::{print_json, table};
use super::{Failure, Lang, actor, open_state};
use crate::clock::to_jst_string;
use crate::vendor::{NewWindow, Window};

#[derive(Debug, Subcommand)]
pub enum VendorCommand {
    /// Maintenance windows.
    #[command(subcommand)]
    Window(WindowCommand),
}

#[derive(Debug, Subcommand)]
pub enum WindowCommand {
    /// Approve a window: the vendor account may sign in to the system between FROM and TO.
    Add {
        /// The vendor account.
        account: String,
        /// A [systems.*] id, or a registered server's name (its PAM sign-ins).
        #[arg(long)]
        system: String,
        /// Start: a JST date (midnight) or an RFC 3339 time, e.g. 2026-12-10T09:00:00+09:00.
        #[arg(long)]
        from: String,
        /// End, in the same form; the vendor's sessions end then.
        #[arg(long)]
        to: String,
        /// What the work is (in the audit log and the report).
        #[arg(long)]
        reason: String,
        /// Who approved it.
        #[arg(long)]
        approved_by: String,
    },
    /// List windows (newest first).
    List {
        /// Only this vendor account's.
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a window that has not opened.
    Cancel {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Close an open window now; the vendor's sessions of it end.
    End {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// The window's work as CSV (Japanese headers unless --lang en), for the contractor's
    /// work report.
    Report {
        id: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

fn phase_text(lang: Lang, w: &Window, now: chrono::DateTime<chrono::Utc>) -> String {
    let p = w.phase(now);
    let base = match lang {
        Lang::En => p.as_str(),
        Lang::Ja => p.label_ja(),
    };
    match (w.state, lang) {
        (crate::vendor::WindowState::Cancelled, Lang::En) => "cancelled".into(),
        (crate::vendor::WindowState::Cancelled, Lang::Ja) => "取消".into(),
        (crate::vendor::WindowState::Ended, Lang::En) => "ended early".into(),
        (crate::vendor::WindowState::Ended, Lang::Ja) => "早期終了".into(),
        _ => base.to_owned(),
    }
}

fn json_of(w: &Window, vendor: &str, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    serde_json::json!({
        "id": w.id,
        "account": vendor,
        "system": w.system,
        "from": to_jst_string(w.starts_at),
        "to": to_jst_string(w.ends_at),
        "state": w.state.as_str(),
        "phase": w.phase(now).as_str(),
        "reason": w.reason,
        "approved_by": w.approved_by,
        "created_by": w.created_by,
        "closed_at": w.closed_at.map(to_jst_string),
        "closed_by": w.closed_by,
        "close_reason": w.close_reason,
    })
}

async fn close(
    state: &crate::app::AppState,
    id: &str,
    end: bool,
    reason: &str,
    lang: Lang,
) -> Result<(), Failure> {
    let w = state.windows.close(id, end, reason, &actor()).await?;
    println!(
        "{} {}",
        if end {
            lang.pick("maintenance window ended:", "保守作業枠を終了しました:")
        } else {
            lang.pick(
                "maintenance window cancelled:",
                "保守作業枠を取り消しました:",
            )
        },
        w.id
    );
    super::warn_if_detached(state, lang);
    Ok(())
}

pub async fn run(cmd: VendorCommand, config: &Option<PathBuf>, lang: Lang) -> Result<(), Failure> {
    let VendorCommand::Window(cmd) = cmd;
    let state = open_state(config).await?;
    let result = window(cmd, &state, lang).await;
    state.close().await;
    result
}

async fn window(
    cmd: WindowCommand,
    state: &crate::app::AppState,
    lang: Lang,
) -> Result<(), Failure> {
    let windows = &state.windows;
    let now = state.clock.now();
    match cmd {
        WindowCommand::Add {
            account,
            system,
            from,
            to,
            reason,
            approved_by,
        } => {
            let new = NewWindow {
                system,
                starts_at: super::audit::parse_time(&from)?,
                ends_at: super::audit::parse_time(&to)?,
                reason,
                approved_by,
            };
            let w = windows.add(&account, new, &actor()).await?;
            println!(
                "{} {} ({} {} → {})",
                lang.pick("maintenance window approved:", "保守作業枠を登録しました:"),
                w.id,
                w.system,
                to_jst_string(w.starts_at),
                to_jst_string(w.ends_at)
            );
            Ok(())
        }
        WindowCommand::List { account, json } => {
            let list = windows.list(account.as_deref()).await?;
            if json {
                let v: Vec<_> = list.iter().map(|(w, a)| json_of(w, a, now)).collect();
                return print_json(&v);
            }
            let mut t = table(match lang {
                Lang::En => vec![
                    "id",
                    "account",
                    "system",
                    "from",
                    "to",
                    "state",
                    "approved by",
                    "reason",
                ],
                Lang::Ja => vec![
                    "ID",
                    "アカウント",
                    "システム",
                    "開始",
                    "終了",
                    "状態",
                    "承認者",
                    "作業内容",
                ],
            });
            for (w, a) in &list {
                t.add_row(vec![
                    w.id.clone(),
                    a.clone(),
                    w.system.clone(),
                    to_jst_string(w.starts_at),
                    to_jst_string(w.ends_at),
                    phase_text(lang, w, now),
                    w.approved_by.clone(),
                    w.reason.clone(),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        WindowCommand::Cancel { id, reason } => close(state, &id, false, &reason, lang).await,
        WindowCommand::End { id, reason } => close(state, &id, true, &reason, lang).await,
        WindowCommand::Report { id, output } => {
            let (w, vendor, rows) = windows.report(&id).await?;
            let csv = crate::vendor::report::csv(&w, &vendor, &rows, lang == Lang::Ja)
                .map_err(|e| Failure::new(1, format!("writing the report: {e}")))?;
            super::output::emit(
                output.as_deref(),
                &csv,
                lang,
                ("work report written to", "作業記録を書き出しました:"),
                rows.len(),
                ("row(s)", "行"),
            )
        }
    }
}
