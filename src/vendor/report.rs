//! A maintenance window's work report as CSV (Japanese headers and a BOM, or English): every
//! audit row carrying the window's id, oldest first: its approval, opening and closing, each
//! sign-in of the vendor and each request the gate passed during it.

use super::Window;
use crate::audit::AuditRecord;
use crate::clock::to_jst_string;

const HEADERS_JA: [&str; 12] = [
    "作業枠ID",
    "連番",
    "日時",
    "種別",
    "結果",
    "アカウント",
    "システム",
    "メソッド",
    "パス",
    "IPアドレス",
    "端末",
    "備考",
];
const HEADERS_EN: [&str; 12] = [
    "window", "seq", "time", "event", "outcome", "account", "system", "method", "path", "ip",
    "device", "note",
];

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The report's bytes.
pub fn csv(
    window: &Window,
    vendor: &str,
    rows: &[AuditRecord],
    japanese: bool,
) -> Result<Vec<u8>, csv::Error> {
    let mut out = Vec::new();
    if japanese {
        out.extend_from_slice(crate::audit::export::UTF8_BOM);
    }
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(if japanese { HEADERS_JA } else { HEADERS_EN })?;
        for r in rows {
            let e = &r.event;
            let d = &e.detail;
            let note = ["reason", "approved_by", "closed", "result", "policy_ids"]
                .iter()
                .filter(|k| !d[**k].is_null())
                .map(|k| format!("{k}={}", text(&d[*k])))
                .collect::<Vec<_>>()
                .join("; ");
            w.write_record([
                window.id.clone(),
                r.seq.to_string(),
                to_jst_string(r.at),
                if japanese {
                    e.kind.label_ja().to_owned()
                } else {
                    e.kind.as_str().to_owned()
                },
                if japanese {
                    e.outcome.label_ja().to_owned()
                } else {
                    e.outcome.as_str().to_owned()
                },
                vendor.to_owned(),
                text(&d["system"]),
                text(&d["method"]),
                text(&d["path"]),
                e.ip.clone().unwrap_or_default(),
                e.device.clone().unwrap_or_default(),
                note,
            ])?;
        }
        w.flush()?;
    }
    Ok(out)
}
