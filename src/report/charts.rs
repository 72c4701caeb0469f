//! Charts drawn on the server as inline SVG: no script, no external fetch, and presentation
//! attributes only (no `style`), so the pages' CSP stays as it is. Each chart carries a title
//! and a description for screen readers; the report prints the same figures as tables.

use chrono::NaiveDate;

use super::model::{CoveragePoint, DailyFailures};
use crate::http::pages::layout::esc;

const W: f64 = 640.0;
const H: f64 = 260.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

pub const TRUSTED: &str = "#2b6cb0";
pub const EXTERNAL: &str = "#c05621";
const LINE: &str = "#2f855a";
const DEADLINE: &str = "#c53030";
const GRID: &str = "#d8dde3";
const INK: &str = "#1a202c";

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn open(title: &str, desc: &str, id: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" aria-labelledby="{id}-t {id}-d" class="chart" id="{id}" font-family="sans-serif" font-size="11" fill="{INK}"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(desc)
    )
}

/// Second-factor coverage of today's accounts over time, against the 2027-04-01 line.
pub fn coverage(points: &[CoveragePoint], deadline: &str, ja: bool) -> String {
    let title = if ja {
        "二要素の登録率の推移と義務化日（2027-04-01）"
    } else {
        "Second-factor coverage over time, against 2027-04-01"
    };
    let pct = |p: &CoveragePoint| {
        if p.accounts == 0 {
            0.0
        } else {
            p.with_second_factor as f64 * 100.0 / p.accounts as f64
        }
    };
    let desc = points
        .last()
        .map(|p| {
            if ja {
                format!(
                    "{}時点で{:.0}%（{}/{}）",
                    p.date,
                    pct(p),
                    p.with_second_factor,
                    p.accounts
                )
            } else {
                format!(
                    "{:.0}% on {} ({}/{})",
                    pct(p),
                    p.date,
                    p.with_second_factor,
                    p.accounts
                )
            }
        })
        .unwrap_or_default();
    let mut out = open(title, &desc, "chart-coverage");
    let (Some(first), Some(dl)) = (points.first().and_then(|p| date(&p.date)), date(deadline))
    else {
        out.push_str("</svg>");
        return out;
    };
    let last = points.last().and_then(|p| date(&p.date)).unwrap_or(first);
    // The axis runs a month past the later of today and the deadline.
    let end = last.max(dl) + chrono::Duration::days(31);
    let span = (end - first).num_days().max(1) as f64;
    let x = |d: NaiveDate| LEFT + (d - first).num_days() as f64 / span * (W - LEFT - RIGHT);
    let y = |p: f64| TOP + (100.0 - p) / 100.0 * (H - TOP - BOTTOM);
    for tick in [0.0, 25.0, 50.0, 75.0, 100.0] {
        out.push_str(&format!(
            r#"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="{GRID}"/><text x="{}" y="{:.1}" text-anchor="end">{tick:.0}%</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            y(tick) + 4.0,
            y = y(tick)
        ));
    }
    let line: Vec<String> = points
        .iter()
        .filter_map(|p| date(&p.date).map(|d| format!("{:.1},{:.1}", x(d), y(pct(p)))))
        .collect();
    out.push_str(&format!(
        r#"<polyline points="{}" fill="none" stroke="{LINE}" stroke-width="2.5"/>"#,
        line.join(" ")
    ));
    for p in points {
        if let Some(d) = date(&p.date) {
            out.push_str(&format!(
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{LINE}"/>"#,
                x(d),
                y(pct(p))
            ));
        }
    }
    let dx = x(dl);
    out.push_str(&format!(
        r#"<line x1="{dx:.1}" x2="{dx:.1}" y1="{TOP}" y2="{}" stroke="{DEADLINE}" stroke-width="2" stroke-dasharray="6 4"/><text x="{:.1}" y="{}" text-anchor="end" fill="{DEADLINE}">{}</text>"#,
        H - BOTTOM,
        dx - 4.0,
        TOP + 12.0,
        esc(if ja { "2027-04-01 義務化" } else { "2027-04-01 required" })
    ));
    for (d, anchor) in [(first, "start"), (last, "middle")] {
        out.push_str(&format!(
            r#"<text x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
            x(d),
            H - BOTTOM + 16.0,
            d.format("%Y-%m")
        ));
    }
    out.push_str("</svg>");
    out
}

/// A panel's Japanese and English names and its (clinic, outside) counts of a day.
type Panel = (&'static str, &'static str, fn(&DailyFailures) -> (u64, u64));

/// Failed sign-ins (top) and locks (bottom) per day for 30 days, stacked by zone.
pub fn failures(days: &[DailyFailures], ja: bool) -> String {
    let (fails, locks) = days.iter().fold((0, 0), |(f, l), d| {
        (
            f + d.failures_trusted + d.failures_external,
            l + d.locks_trusted + d.locks_external,
        )
    });
    let title = if ja {
        "直近30日のサインイン失敗とロック（院内・院外別）"
    } else {
        "Failed sign-ins and locks per day, last 30 days, by zone"
    };
    let desc = if ja {
        format!("失敗 合計{fails}件、ロック 合計{locks}件")
    } else {
        format!("{fails} failed sign-ins and {locks} locks in total")
    };
    let mut out = open(title, &desc, "chart-failures");
    let n = days.len().max(1) as f64;
    let slot = (W - LEFT - RIGHT) / n;
    let bar = (slot * 0.7).max(1.0);
    let panel = (H - TOP - BOTTOM - 18.0) / 2.0;
    let panels: [Panel; 2] = [
        ("失敗", "failures", |d| {
            (d.failures_trusted, d.failures_external)
        }),
        ("ロック", "locks", |d| {
            (d.locks_trusted, d.locks_external)
        }),
    ];
    for (i, (ja_name, en_name, get)) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (panel + 18.0);
        let max = days
            .iter()
            .map(|d| get(d).0 + get(d).1)
            .max()
            .unwrap_or(0)
            .max(1);
        let scale = panel / max as f64;
        out.push_str(&format!(
            r#"<line x1="{LEFT}" x2="{}" y1="{b:.1}" y2="{b:.1}" stroke="{GRID}"/><text x="{}" y="{:.1}" text-anchor="end">{max}</text><text x="{}" y="{:.1}" text-anchor="end">0</text><text x="{LEFT}" y="{:.1}">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            top + 8.0,
            LEFT - 6.0,
            top + panel,
            top - 4.0,
            esc(if ja { ja_name } else { en_name }),
            b = top + panel
        ));
        for (k, d) in days.iter().enumerate() {
            let (t, e) = get(d);
            let x0 = LEFT + k as f64 * slot + (slot - bar) / 2.0;
            let ht = t as f64 * scale;
            let he = e as f64 * scale;
            if t > 0 {
                out.push_str(&format!(
                    r#"<rect x="{x0:.1}" y="{:.1}" width="{bar:.1}" height="{ht:.1}" fill="{TRUSTED}"><title>{} {}: {t}</title></rect>"#,
                    top + panel - ht,
                    d.date,
                    if ja { "院内" } else { "clinic" }
                ));
            }
            if e > 0 {
                out.push_str(&format!(
                    r#"<rect x="{x0:.1}" y="{:.1}" width="{bar:.1}" height="{he:.1}" fill="{EXTERNAL}"><title>{} {}: {e}</title></rect>"#,
                    top + panel - ht - he,
                    d.date,
                    if ja { "院外" } else { "outside" }
                ));
            }
        }
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        out.push_str(&format!(
            r#"<text x="{LEFT}" y="{}">{}</text><text x="{}" y="{}" text-anchor="end">{}</text>"#,
            H - BOTTOM + 16.0,
            first.date,
            W - RIGHT,
            H - BOTTOM + 16.0,
            last.date
        ));
    }
    let legend_y = H - 8.0;
    out.push_str(&format!(
        r#"<rect x="{LEFT}" y="{}" width="10" height="10" fill="{TRUSTED}"/><text x="{}" y="{legend_y}">{}</text><rect x="{}" y="{}" width="10" height="10" fill="{EXTERNAL}"/><text x="{}" y="{legend_y}">{}</text>"#,
        legend_y - 9.0,
        LEFT + 14.0,
        if ja { "院内" } else { "Clinic network" },
        LEFT + 120.0,
        legend_y - 9.0,
        LEFT + 134.0,
        if ja { "院外" } else { "Outside" }
    ));
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_without_script_or_style() {
        let points = vec![
            CoveragePoint {
                date: "2026-10-01".into(),
                accounts: 4,
                with_second_factor: 1,
            },
            CoveragePoint {
                date: "2026-12-06".into(),
                accounts: 4,
                with_second_factor: 3,
            },
        ];
        let days = vec![
            DailyFailures {
                date: "2026-12-05".into(),
                failures_trusted: 2,
                failures_external: 5,
                locks_trusted: 0,
                locks_external: 1,
            },
            DailyFailures {
                date: "2026-12-06".into(),
                ..DailyFailures::default()
            },
        ];
        for svg in [
            coverage(&points, "2027-04-01", true),
            failures(&days, false),
        ] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
            assert!(!svg.contains("<script") && !svg.contains("style="), "{svg}");
            assert!(svg.contains("<title"), "{svg}");
        }
        let c = coverage(&points, "2027-04-01", true);
        assert!(
            c.contains("75%（3/4）") && c.contains("2027-04-01 義務化"),
            "{c}"
        );
        let f = failures(&days, false);
        assert!(f.contains("7 failed sign-ins and 1 locks"), "{f}");
        assert!(f.contains("2026-12-05 outside: 5"), "{f}");
    }
}
