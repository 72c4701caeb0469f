//! Tables and language for terminal output.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub fn from_env() -> Self {
        let lang = std::env::var("LC_ALL")
            .or_else(|_| std::env::var("LANG"))
            .unwrap_or_default();
        if lang.starts_with("ja") {
            Lang::Ja
        } else {
            Lang::En
        }
    }

    /// Pick the string for this language.
    pub fn pick<'a>(self, en: &'a str, ja: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Ja => ja,
        }
    }
}

pub fn table(headers: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers);
    t
}

pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), super::Failure> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| super::Failure::new(1, e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Write a file the command made (a CSV export) to `output`, saying where and how much
/// (`count` and its unit), or to standard output as it is.
pub fn emit(
    output: Option<&std::path::Path>,
    bytes: &[u8],
    lang: Lang,
    (written_en, written_ja): (&str, &str),
    count: usize,
    (unit_en, unit_ja): (&str, &str),
) -> Result<(), super::Failure> {
    use std::io::Write as _;
    match output {
        Some(path) => {
            std::fs::write(path, bytes)
                .map_err(|e| super::Failure::new(1, format!("writing {}: {e}", path.display())))?;
            println!(
                "{} {} ({count} {})",
                lang.pick(written_en, written_ja),
                path.display(),
                lang.pick(unit_en, unit_ja)
            );
            Ok(())
        }
        None => std::io::stdout()
            .write_all(bytes)
            .map_err(|e| super::Failure::new(1, format!("writing to standard output: {e}"))),
    }
}
