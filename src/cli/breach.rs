//! `sekimori breach build`: turn a breached-password list into the offline filter.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Instant;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::Failure;
use crate::password::breach::{BreachFilter, ListFormat};

#[derive(Debug, Subcommand)]
pub enum BreachCommand {
    /// Build a filter from a plain list or a Have I Been Pwned `SHA1:COUNT` file.
    Build {
        /// Input list; `-` for standard input.
        #[arg(long, short)]
        input: PathBuf,
        /// Filter file to write (set it as password.breach_filter_file).
        #[arg(long, short)]
        output: PathBuf,
        #[arg(long, value_enum, default_value = "auto")]
        format: ListFormat,
        /// HIBP only: skip hashes seen fewer than this many times.
        #[arg(long, default_value_t = 0)]
        min_count: u64,
    },
}

pub fn run(cmd: BreachCommand) -> Result<(), Failure> {
    let BreachCommand::Build {
        input,
        output,
        format,
        min_count,
    } = cmd;
    let started = Instant::now();
    let reader: Box<dyn BufRead> = if input.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        let f = std::fs::File::open(&input)
            .map_err(|e| Failure::new(1, format!("cannot open {}: {e}", input.display())))?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let (filter, stats) = BreachFilter::build(reader, format, min_count, |n| {
        bar.set_message(format!("{n} lines read"))
    })
    .map_err(|e| Failure::new(1, format!("breach build: {e}")))?;
    bar.finish_and_clear();
    // Write to a temporary file and rename, so a running gateway never reads half a filter.
    let tmp = output.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        filter.write_to(&mut f)?;
        std::io::Write::flush(&mut f)?;
        f.get_ref().sync_all()?;
        std::fs::rename(&tmp, &output)
    };
    write().map_err(|e| Failure::new(1, format!("cannot write {}: {e}", output.display())))?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "breach filter written: {}\n  lines read: {}\n  entries: {}\n  skipped (below --min-count): {}\n  size: {} bytes ({:.2} bytes/entry)\n  time: {:.2} s",
        output.display(),
        stats.lines,
        stats.entries,
        stats.skipped_below_min_count,
        stats.bytes,
        stats.bytes as f64 / stats.entries.max(1) as f64,
        secs
    );
    Ok(())
}
