//! Export of audit rows as CSV (headers in Japanese or English) or JSON Lines.

use std::io::Write;

use super::AuditRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    pub fn pick<'a>(self, en: &'a str, ja: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Ja => ja,
        }
    }

    pub fn code(self) -> &'static str {
        self.pick("en", "ja")
    }
}

const HEADERS_EN: [&str; 12] = [
    "seq",
    "time",
    "facility",
    "event",
    "outcome",
    "actor",
    "subject",
    "ip",
    "device",
    "detail",
    "prev_hash",
    "hash",
];
const HEADERS_JA: [&str; 12] = [
    "連番",
    "日時",
    "施設",
    "種別",
    "結果",
    "実行者",
    "対象",
    "IPアドレス",
    "端末",
    "詳細",
    "直前ハッシュ",
    "ハッシュ",
];

/// Writes rows one at a time so an export of millions of rows runs in constant memory.
pub struct Exporter<W: Write> {
    format: Format,
    lang: Lang,
    csv: Option<csv::Writer<W>>,
    raw: Option<W>,
}

impl<W: Write> Exporter<W> {
    pub fn new(out: W, format: Format, lang: Lang) -> Result<Self, std::io::Error> {
        match format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(out);
                let headers = if lang == Lang::Ja {
                    HEADERS_JA
                } else {
                    HEADERS_EN
                };
                w.write_record(headers).map_err(std::io::Error::other)?;
                Ok(Self {
                    format,
                    lang,
                    csv: Some(w),
                    raw: None,
                })
            }
            Format::Jsonl => Ok(Self {
                format,
                lang,
                csv: None,
                raw: Some(out),
            }),
        }
    }

    pub fn write(&mut self, r: &AuditRecord) -> Result<(), std::io::Error> {
        match (self.format, &mut self.csv, &mut self.raw) {
            (Format::Csv, Some(w), _) => {
                let (kind, outcome) = if self.lang == Lang::Ja {
                    (
                        r.event.kind.label_ja().to_owned(),
                        r.event.outcome.label_ja().to_owned(),
                    )
                } else {
                    (
                        r.event.kind.as_str().to_owned(),
                        r.event.outcome.as_str().to_owned(),
                    )
                };
                let detail = serde_json::to_string(&r.event.detail).unwrap_or_default();
                let e = &r.event;
                w.write_record([
                    r.seq.to_string().as_str(),
                    &r.at_text,
                    &e.facility_id.0,
                    &kind,
                    &outcome,
                    e.actor.as_deref().unwrap_or(""),
                    e.subject.as_deref().unwrap_or(""),
                    e.ip.as_deref().unwrap_or(""),
                    e.device.as_deref().unwrap_or(""),
                    &detail,
                    &r.prev_hash,
                    &r.hash,
                ])
                .map_err(std::io::Error::other)
            }
            (_, _, Some(w)) => {
                serde_json::to_writer(&mut *w, r).map_err(std::io::Error::other)?;
                w.write_all(b"\n")
            }
            _ => Ok(()),
        }
    }

    pub fn finish(self) -> Result<(), std::io::Error> {
        if let Some(mut w) = self.csv {
            w.flush()?;
        }
        if let Some(mut w) = self.raw {
            w.flush()?;
        }
        Ok(())
    }
}

/// Excel opens a UTF-8 CSV correctly only with a byte-order mark.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
