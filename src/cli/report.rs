//! `sekimori report guideline`: the guideline 7.0 report from live data, as HTML (standalone,
//! printable), Markdown, JSON (the stable form `config/report.schema.json` describes) or CSV.

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::audit::parse_time;
use super::output::emit;
use super::{Failure, Lang, open_state};
use crate::audit::export::Lang as ReportLang;
use crate::report::gather::{Depth, snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Html,
    Md,
    Json,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Each checklist item and guideline requirement with its status (適合 / 要対応 / 対象外),
    /// its evidence and what to do.
    /// The report's language is the command's (`--lang ja|en`, default from LANG).
    Guideline {
        #[arg(long, value_enum, default_value = "html")]
        format: Format,
        /// Compute the figures as of this JST date (its end) or RFC 3339 time; default now.
        #[arg(long)]
        at: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// `--at`: a date means the end of that JST day.
fn as_of(
    at: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
    let Some(at) = at else {
        return Ok(now);
    };
    if let Some(end) = crate::config::systems::end_of_jst_day(at) {
        return Ok(end - chrono::Duration::milliseconds(1));
    }
    parse_time(at)
}

pub async fn run(cmd: ReportCommand, config: &Option<PathBuf>, lang: Lang) -> Result<(), Failure> {
    let ReportCommand::Guideline { format, at, output } = cmd;
    let state = open_state(config).await?;
    let rl = match lang {
        Lang::Ja => ReportLang::Ja,
        Lang::En => ReportLang::En,
    };
    let at = as_of(at.as_deref(), state.clock.now())?;
    eprintln!(
        "{}",
        lang.pick(
            "Reading the store and verifying the audit chain …",
            "データを読み込み、監査ログを検証しています …"
        )
    );
    let snap = snapshot(&state, at, Depth::Full).await;
    state.close().await;
    let report = crate::report::build(&snap?, rl);
    let bytes = match format {
        Format::Html => crate::report::html::document(&report).into_bytes(),
        Format::Md => crate::report::text::markdown(&report).into_bytes(),
        Format::Json => {
            let mut v =
                serde_json::to_vec_pretty(&report).map_err(|e| Failure::new(1, e.to_string()))?;
            v.push(b'\n');
            v
        }
        Format::Csv => {
            crate::report::text::csv(&report).map_err(|e| Failure::new(1, e.to_string()))?
        }
    };
    let s = &report.summary;
    emit(
        output.as_deref(),
        &bytes,
        lang,
        ("report written to", "レポートを書き出しました:"),
        report.sections.len(),
        ("sections", "項目"),
    )?;
    eprintln!(
        "{} {} · {} {} · {} {}",
        lang.pick("met", "適合"),
        s.met,
        lang.pick("action required", "要対応"),
        s.action_required,
        lang.pick("not applicable", "対象外"),
        s.not_applicable
    );
    Ok(())
}
