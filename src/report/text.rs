//! The report as Markdown (for a wiki or a ticket) and as CSV (one row per section, for a
//! spreadsheet; Japanese gets a BOM so Excel reads it as UTF-8).

use super::model::GuidelineReport;
use crate::clock::readable;

fn t<'a>(ja: bool, j: &'a str, e: &'a str) -> &'a str {
    if ja { j } else { e }
}

/// Markdown: a heading per section, evidence and actions as lists.
pub fn markdown(r: &GuidelineReport) -> String {
    let ja = r.lang == "ja";
    let mut out = format!(
        "# {}\n\n{}\n\n- {} {}\n- {} {}\n- {} {} · {} {} · {} {}\n",
        r.facility.name,
        t(
            ja,
            "医療情報システムの安全管理に関するガイドライン 第7.0版 対応状況報告書",
            "Guideline for the Security Management of Medical Information Systems 7.0: compliance report"
        ),
        t(ja, "作成:", "Generated:"),
        readable(&r.generated_at),
        t(ja, "基準日時:", "As of:"),
        readable(&r.as_of),
        t(ja, "適合", "Met"),
        r.summary.met,
        t(ja, "要対応", "Action required"),
        r.summary.action_required,
        t(ja, "対象外", "Not applicable"),
        r.summary.not_applicable,
    );
    let mut group = "";
    for s in &r.sections {
        if s.group != group {
            group = s.group;
            out.push_str(&format!(
                "\n## {}\n",
                if group == "checklist" {
                    t(
                        ja,
                        "サイバーセキュリティ対策チェックリスト",
                        "Cybersecurity checklist",
                    )
                } else {
                    t(ja, "ガイドラインの要件", "Requirements of the guideline")
                }
            ));
        }
        out.push_str(&format!(
            "\n### {} {} — **{}**\n\n",
            s.number, s.title, s.status_label
        ));
        for e in &s.evidence {
            out.push_str(&format!("- {e}\n"));
        }
        if !s.actions.is_empty() {
            out.push_str(&format!(
                "\n{}\n\n",
                t(ja, "**対応すること**", "**What to do**")
            ));
            for a in &s.actions {
                out.push_str(&format!("- {a}\n"));
            }
        }
    }
    out
}

/// CSV: one row per section; evidence and actions one per line inside their cells.
pub fn csv(r: &GuidelineReport) -> Result<Vec<u8>, csv::Error> {
    let ja = r.lang == "ja";
    let mut out = Vec::new();
    if ja {
        out.extend_from_slice(crate::audit::export::UTF8_BOM);
    }
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(if ja {
            [
                "区分",
                "項目",
                "内容",
                "状況",
                "根拠",
                "対応すること",
                "関連",
            ]
        } else {
            [
                "group",
                "item",
                "subject",
                "status",
                "evidence",
                "what to do",
                "see also",
            ]
        })?;
        for s in &r.sections {
            w.write_record([
                s.group,
                &s.number,
                &s.title,
                s.status_label,
                &s.evidence.join("\n"),
                &s.actions.join("\n"),
                &s.refs.join(", "),
            ])?;
        }
        w.flush()?;
    }
    Ok(out)
}
