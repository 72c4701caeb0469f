//! `sekimori audit verify|export|tail`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use clap::Subcommand;

use super::output::{emit, print_json};
use super::{Failure, Lang, open_state};
use crate::app::AppState;
use crate::audit::AuditRecord;
use crate::audit::chain::Problem;
use crate::audit::checkpoint::{CheckpointProblem, CheckpointReport};
use crate::audit::export::{Exporter, Format, Lang as ExportLang, UTF8_BOM};
use crate::audit::verify::{CheckpointSources, verify_all};
use crate::clock::jst;
use crate::crypto::ed25519;
use crate::store::{AuditQuery, AuditStore};

const BATCH: u64 = 5_000;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain and every signed checkpoint: name edited, deleted or inserted
    /// rows, a tail cut after a checkpoint, and a chain rebuilt since one was signed.
    Verify {
        #[arg(long)]
        json: bool,
        /// Also check a copy of the checkpoints kept elsewhere (from `audit checkpoint export`).
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
        /// Check signatures with this public key (`audit checkpoint export --public-key`)
        /// instead of the audit key on this host, which someone with the host could replace.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Signed checkpoints of the chain.
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
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

#[derive(Debug, Subcommand)]
pub enum CheckpointCommand {
    /// Print every checkpoint (JSON lines) for safekeeping away from this host.
    Export {
        /// Print the audit key's public half (PEM) instead, to verify copies with.
        #[arg(long)]
        public_key: bool,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Sign the chain head now (the gateway also does this on its schedule).
    Create,
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
        AuditCommand::Verify {
            json,
            checkpoints,
            public_key,
        } => verify(&state, json, checkpoints, public_key, lang).await,
        AuditCommand::Checkpoint(c) => checkpoint(&state, c, lang).await,
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

fn describe<T>(lang: Lang, p: &T, en: fn(&T) -> String, ja: fn(&T) -> String) -> String {
    if lang == Lang::Ja { ja(p) } else { en(p) }
}

/// The trusted public key: a file given, else the audit key on this host.
fn trusted_key(state: &AppState, file: Option<PathBuf>) -> Result<Option<[u8; 32]>, Failure> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Failure::new(2, format!("reading {}: {e}", path.display())))?;
            ed25519::public_from_pem(&text).map(Some).ok_or_else(|| {
                Failure::new(
                    2,
                    format!("{} is not an Ed25519 public key (PEM)", path.display()),
                )
            })
        }
        None => Ok(state.signer.as_ref().map(|s| *s.public_key())),
    }
}

async fn verify(
    state: &AppState,
    json: bool,
    copy: Option<PathBuf>,
    public_key: Option<PathBuf>,
    lang: Lang,
) -> Result<(), Failure> {
    let public = trusted_key(state, public_key)?;
    let full = verify_all(
        state.stores.audit.as_ref(),
        CheckpointSources {
            file: &state.config.audit.checkpoint_file,
            copy: copy.as_deref(),
            public: public.as_ref(),
        },
    )
    .await?;
    let (report, cps) = (&full.chain, &full.checkpoints);
    if json {
        print_json(&full)?;
    } else {
        if report.is_intact() {
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
                    describe(lang, p, Problem::describe_en, Problem::describe_ja)
                );
            }
            println!(
                "{} {}",
                lang.pick("intact up to row", "正常な範囲: 1〜"),
                report.verified_up_to
            );
        }
        print_checkpoints(cps, public.is_some(), lang);
    }
    if full.is_intact() {
        return Ok(());
    }
    Err(match (report.problems.first(), cps.problems.first()) {
        (Some(p), _) => Failure::new(7, format!("audit chain broken at row {}", p.seq())),
        (None, Some(p)) => Failure::new(7, format!("audit checkpoints: {}", p.describe_en())),
        (None, None) => Failure::new(7, "audit chain broken"),
    })
}

fn print_checkpoints(cps: &CheckpointReport, signatures: bool, lang: Lang) {
    match &cps.last {
        Some(last) => println!(
            "{} {} {}; {} {} {} {} ({} {})",
            lang.pick("checkpoints:", "チェックポイント:"),
            cps.checked,
            lang.pick("checked", "件を確認"),
            lang.pick("the last signs row", "最新は"),
            last.seq,
            lang.pick("at", "行目・署名"),
            last.at,
            cps.unsigned_rows,
            lang.pick("rows since, not yet signed", "行は未署名"),
        ),
        None => println!(
            "{}",
            lang.pick(
                "checkpoints: none yet (the gateway signs the first within [audit] checkpoint_every_minutes)",
                "チェックポイント: まだありません（ゲートウェイが [audit] checkpoint_every_minutes 以内に最初の署名をします）"
            )
        ),
    }
    if !signatures {
        println!(
            "{}",
            lang.pick(
                "  signatures NOT checked: no audit key on this host; pass --public-key FILE",
                "  署名は未確認です: このホストに監査鍵がありません。--public-key FILE を指定してください"
            )
        );
    }
    if !cps.problems.is_empty() {
        println!(
            "{}",
            lang.pick(
                "AUDIT CHECKPOINTS REPORT PROBLEMS",
                "監査ログのチェックポイントに問題があります"
            )
        );
        for p in &cps.problems {
            println!(
                "  - {}",
                describe(
                    lang,
                    p,
                    CheckpointProblem::describe_en,
                    CheckpointProblem::describe_ja
                )
            );
        }
    }
}

async fn checkpoint(state: &AppState, cmd: CheckpointCommand, lang: Lang) -> Result<(), Failure> {
    let need_signer = || {
        state.signer.clone().ok_or_else(|| {
            Failure::new(
                1,
                state
                    .audit_key_problem
                    .clone()
                    .unwrap_or_else(|| "no audit key".into()),
            )
        })
    };
    match cmd {
        CheckpointCommand::Export { public_key, output } => {
            let (text, count, unit) = if public_key {
                let pem = ed25519::public_pem(need_signer()?.public_key());
                (pem, 1, ("key", "件の鍵"))
            } else {
                let all = state.stores.audit.checkpoints().await?;
                let text: String = all.iter().map(|c| c.to_line() + "\n").collect();
                (text, all.len(), ("checkpoints", "件"))
            };
            emit(
                output.as_deref(),
                text.as_bytes(),
                lang,
                ("written to", "書き出しました:"),
                count,
                unit,
            )
        }
        CheckpointCommand::Create => {
            match need_signer()?.sign_now(state.clock.now()).await? {
                Some(c) => println!(
                    "{} {} ({})",
                    lang.pick(
                        "checkpoint signed at row",
                        "チェックポイントを署名しました: 行"
                    ),
                    c.seq,
                    c.at
                ),
                None => println!(
                    "{}",
                    lang.pick(
                        "no row since the last checkpoint: nothing to sign",
                        "前回のチェックポイント以降に行がないため、署名するものはありません"
                    )
                ),
            }
            Ok(())
        }
    }
}
