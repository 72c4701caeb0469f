//! `sekimori audit verify|export|tail`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use clap::Subcommand;

use super::output::print_json;
use super::{Failure, Lang, open_state};
use crate::audit::AuditRecord;
use crate::audit::chain::Verifier;
use crate::audit::export::{Exporter, Format, Lang as ExportLang, UTF8_BOM};
use crate::clock::jst;
use crate::store::{AuditQuery, AuditStore};

const BATCH: u64 = 5_000;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain; name the first edited, deleted or inserted row.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Export rows in a time range.
    Export {
        /// Start (inclusive): a JST date `2026-11-01` or an RFC 3339 time.
        #[arg(long)]
        from: Option<String>,
        /// End (exclusive): a JST date or an RFC 3339 time.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// Header language for CSV (ja: Japanese headers and event names).
        #[arg(long = "csv-lang", value_enum)]
        csv_lang: Option<ExportLang>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Show the newest rows.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u64,
        /// Keep printing new rows as they arrive.
        #[arg(long, short)]
        follow: bool,
    },
}

/// A JST calendar date (midnight JST) or an RFC 3339 instant.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, Failure> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d
            .and_hms_opt(0, 0, 0)
            .and_then(|n| jst().from_local_datetime(&n).single())
    {
        return Ok(t.with_timezone(&Utc));
    }
    Err(Failure::new(
        2,
        format!("`{s}` is not a date (2026-11-01) or an RFC 3339 time (2026-11-01T09:00:00+09:00)"),
    ))
}

/// Read rows in batches so a log of millions of rows is handled in constant memory.
async fn for_each_row(
    store: &dyn AuditStore,
    base: AuditQuery,
    mut f: impl FnMut(&AuditRecord) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut after = base.after_seq;
    loop {
        let q = AuditQuery {
            after_seq: after,
            limit: Some(BATCH),
            newest_first: false,
            ..base.clone()
        };
        let rows = store.query_audit(&q).await?;
        for r in &rows {
            f(r)?;
        }
        match rows.last() {
            Some(last) if rows.len() as u64 == BATCH => after = Some(last.seq),
            _ => return Ok(()),
        }
    }
}

fn print_row(r: &AuditRecord, lang: Lang) {
    let e = &r.event;
    let (kind, outcome) = match lang {
        Lang::En => (e.kind.as_str(), e.outcome.as_str()),
        Lang::Ja => (e.kind.label_ja(), e.outcome.label_ja()),
    };
    println!(
        "{:>6}  {}  {:<20} {:<8} actor={} subject={} {}",
        r.seq,
        r.at_text,
        kind,
        outcome,
        e.actor.as_deref().unwrap_or("-"),
        e.subject.as_deref().unwrap_or("-"),
        serde_json::to_string(&e.detail).unwrap_or_default()
    );
}

pub async fn run(cmd: AuditCommand, config: &Option<PathBuf>, lang: Lang) -> Result<(), Failure> {
    let state = open_state(config).await?;
    let store = state.stores.audit.clone();
    let result = match cmd {
        AuditCommand::Verify { json } => {
            let mut v = Verifier::new();
            for_each_row(store.as_ref(), AuditQuery::default(), |r| {
                v.feed(r);
                Ok(())
            })
            .await?;
            let report = v.finish();
            if json {
                print_json(&report)?;
            } else if report.is_intact() {
                println!(
                    "{} {} {} (head {})",
                    lang.pick(
                        "audit chain intact:",
                        "監査ログのハッシュチェーンは正常です:"
                    ),
                    report.checked,
                    lang.pick("rows verified", "行を検証"),
                    report.head_hash.as_deref().unwrap_or("-")
                );
            } else {
                println!(
                    "{}",
                    lang.pick(
                        "AUDIT CHAIN BROKEN",
                        "監査ログのハッシュチェーンが壊れています"
                    )
                );
                for p in &report.problems {
                    println!(
                        "  - {}",
                        if lang == Lang::Ja {
                            p.describe_ja()
                        } else {
                            p.describe_en()
                        }
                    );
                }
                println!(
                    "{} {}",
                    lang.pick("intact up to row", "正常な範囲: 1〜"),
                    report.verified_up_to
                );
            }
            if report.is_intact() {
                Ok(())
            } else {
                let first = report.problems.first().map(|p| p.seq()).unwrap_or_default();
                Err(Failure::new(
                    7,
                    format!("audit chain broken at row {first}"),
                ))
            }
        }
        AuditCommand::Export {
            from,
            to,
            format,
            csv_lang,
            output,
        } => {
            let query = AuditQuery {
                from: from.as_deref().map(parse_time).transpose()?,
                to: to.as_deref().map(parse_time).transpose()?,
                ..AuditQuery::default()
            };
            let export_lang = csv_lang.unwrap_or(if lang == Lang::Ja {
                ExportLang::Ja
            } else {
                ExportLang::En
            });
            let io = |e: std::io::Error| Failure::new(1, format!("writing export: {e}"));
            let mut out: Box<dyn std::io::Write> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path).map_err(io)?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            if format == Format::Csv && export_lang == ExportLang::Ja {
                out.write_all(UTF8_BOM).map_err(io)?;
            }
            let mut exporter = Exporter::new(out, format, export_lang).map_err(io)?;
            let mut count = 0u64;
            for_each_row(store.as_ref(), query, |r| {
                count += 1;
                exporter.write(r).map_err(io)
            })
            .await?;
            exporter.finish().map_err(io)?;
            if let Some(path) = output {
                eprintln!(
                    "{count} {} {}",
                    lang.pick("rows written to", "行を書き出しました:"),
                    path.display()
                );
            }
            Ok(())
        }
        AuditCommand::Tail { lines, follow } => {
            let mut rows = store
                .query_audit(&AuditQuery {
                    limit: Some(lines),
                    newest_first: true,
                    ..AuditQuery::default()
                })
                .await?;
            rows.reverse();
            let mut last = rows.last().map(|r| r.seq);
            rows.iter().for_each(|r| print_row(r, lang));
            // --follow runs until the operator interrupts it (Ctrl-C ends the process).
            if follow {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let new = store
                        .query_audit(&AuditQuery {
                            after_seq: last.or(Some(0)),
                            ..AuditQuery::default()
                        })
                        .await?;
                    for r in &new {
                        print_row(r, lang);
                        last = Some(r.seq);
                    }
                    let _ = std::io::stdout().flush();
                }
            }
            Ok(())
        }
    };
    state.close().await;
    result
}
