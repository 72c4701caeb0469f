//! The report as HTML: the body the console's `/report` page shows, and a standalone document
//! (`report guideline --format html`) with its styles inside, to archive or print. Both print
//! on A4 with page breaks between parts, the facility and date at the top of every page and
//! page numbers at the bottom.

use super::charts;
use super::evidence::{account_type, system_kind};
use super::model::{AccountFigure, GuidelineReport, Section, Status};
use crate::clock::readable;
use crate::http::pages::layout::esc;

/// The report's own styles (screen and print).
pub const STYLE: &str = include_str!("report.css");

/// The page margin boxes for print: the facility and date at the top, page numbers below.
pub fn print_css(facility: &str, date: &str, ja: bool) -> String {
    let css_str = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let page = if ja { "ページ" } else { "Page" };
    format!(
        "@page {{ size: A4; margin: 18mm 14mm 18mm 14mm;\n  @top-left {{ content: \"{}\"; font-size: 9pt; color: #57606a; }}\n  @top-right {{ content: \"{}\"; font-size: 9pt; color: #57606a; }}\n  @bottom-center {{ content: \"{page} \" counter(page) \" / \" counter(pages); font-size: 9pt; color: #57606a; }}\n}}\n",
        css_str(facility),
        css_str(date)
    )
}

fn t<'a>(ja: bool, j: &'a str, e: &'a str) -> &'a str {
    if ja { j } else { e }
}

fn badge(s: Status, label: &str) -> String {
    format!(r#"<span class="badge {}">{}</span>"#, s.code(), esc(label))
}

fn table(caption: &str, headers: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    if rows.is_empty() {
        return format!(
            r#"<p class="empty"><strong>{}</strong>: {}</p>"#,
            esc(caption),
            esc(empty)
        );
    }
    let head: String = headers
        .iter()
        .map(|h| format!(r#"<th scope="col">{}</th>"#, esc(h)))
        .collect();
    let body: String = rows
        .iter()
        .map(|r| {
            let cells: String = r.iter().map(|c| format!("<td>{}</td>", esc(c))).collect();
            format!("<tr>{cells}</tr>")
        })
        .collect();
    format!(
        r#"<div class="table"><table><caption>{}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"#,
        esc(caption)
    )
}

fn section_html(s: &Section, ja: bool) -> String {
    let evidence: String = s
        .evidence
        .iter()
        .map(|e| format!("<li>{}</li>", esc(e)))
        .collect();
    let actions = if s.actions.is_empty() {
        String::new()
    } else {
        let items: String = s
            .actions
            .iter()
            .map(|a| format!("<li>{}</li>", esc(a)))
            .collect();
        format!(
            r#"<h4>{}</h4><ul class="actions">{items}</ul>"#,
            t(ja, "対応すること", "What to do")
        )
    };
    let refs = if s.refs.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p class="refs">{} {}</p>"#,
            t(ja, "関連:", "See also:"),
            esc(&s.refs.join(", "))
        )
    };
    format!(
        r#"<section class="item {code}" id="{id}"><h3><span class="num">{num}</span> {title} {badge}</h3><h4>{ev}</h4><ul class="evidence">{evidence}</ul>{actions}{refs}</section>"#,
        code = s.status.code(),
        id = esc(&s.id),
        num = esc(&s.number),
        title = esc(&s.title),
        badge = badge(s.status, s.status_label),
        ev = t(ja, "根拠", "Evidence"),
    )
}

fn accounts_table(caption: &str, list: &[AccountFigure], ja: bool, empty: &str) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.username.clone(),
                a.display_name.clone(),
                account_type(ja, &a.account_type),
                roles(ja, &a.roles),
                if a.factors.is_empty() {
                    "—".into()
                } else {
                    a.factors.join(", ")
                },
                a.last_sign_in
                    .as_deref()
                    .map_or(t(ja, "なし", "never").to_owned(), readable),
                a.days_unused.to_string(),
            ]
        })
        .collect();
    table(
        caption,
        &[
            t(ja, "利用者ID", "Username"),
            t(ja, "氏名", "Name"),
            t(ja, "種別", "Type"),
            t(ja, "職種", "Roles"),
            t(ja, "二要素", "Factors"),
            t(ja, "最終サインイン", "Last sign-in"),
            t(ja, "未使用日数", "Days unused"),
        ],
        &rows,
        empty,
    )
}

fn exemption_kind(ja: bool, kind: &str) -> &'static str {
    match kind {
        "two_factor" => t(ja, "二要素の例外", "Two-factor exemption"),
        _ => t(ja, "登録済み二要素の省略", "Enrolled factors optional"),
    }
}

/// Role codes, with their Japanese labels in a Japanese report.
fn roles(ja: bool, codes: &[String]) -> String {
    codes
        .iter()
        .map(|c| match crate::account::Role::parse(c) {
            Ok(r) if ja => r.label_ja().to_owned(),
            _ => c.clone(),
        })
        .collect::<Vec<_>>()
        .join(if ja { "、" } else { ", " })
}

fn appendix(r: &GuidelineReport, ja: bool) -> String {
    let f = &r.figures;
    let none = t(ja, "該当なし", "None");
    let mut out = String::new();
    let coverage = |rows: &[super::model::Coverage], by_type: bool| -> Vec<Vec<String>> {
        rows.iter()
            .map(|c| {
                vec![
                    if by_type {
                        account_type(ja, &c.group)
                    } else {
                        system_kind(ja, &c.group)
                    },
                    c.total.to_string(),
                    c.with_second_factor.to_string(),
                    c.percent.map_or("—".into(), |p| format!("{p}%")),
                ]
            })
            .collect()
    };
    out.push_str(&table(
        t(
            ja,
            "二要素の登録率（アカウント種別）",
            "Second-factor coverage by account type",
        ),
        &[
            t(ja, "種別", "Type"),
            t(ja, "アカウント", "Accounts"),
            t(ja, "二要素あり", "With a second factor"),
            "%",
        ],
        &coverage(&f.coverage_by_account_type, true),
        none,
    ));
    out.push_str(&table(
        t(
            ja,
            "直近30日のサインインの二要素利用（システム種別）",
            "Sign-ins of the last 30 days with a second factor, by system kind",
        ),
        &[
            t(ja, "システム種別", "System kind"),
            t(ja, "サインイン", "Sign-ins"),
            t(ja, "二要素あり", "With a second factor"),
            "%",
        ],
        &coverage(&f.coverage_by_system_kind, false),
        none,
    ));
    let ex: Vec<Vec<String>> = f
        .exemptions
        .iter()
        .map(|e| {
            vec![
                e.system.clone(),
                exemption_kind(ja, e.kind).to_owned(),
                e.until.clone(),
                format!(
                    "{}{}",
                    e.days_left,
                    if e.ends_within_90_days { " ⚠" } else { "" }
                ),
                e.reason.clone(),
                e.approved_by.clone(),
            ]
        })
        .collect();
    out.push_str(&table(
        t(ja, "記録された例外", "Recorded exemptions"),
        &[
            t(ja, "システム", "System"),
            t(ja, "種類", "Kind"),
            t(ja, "期限", "Until"),
            t(ja, "残り日数", "Days left"),
            t(ja, "理由", "Reason"),
            t(ja, "承認者", "Approved by"),
        ],
        &ex,
        none,
    ));
    out.push_str(&accounts_table(
        t(
            ja,
            "パスワードだけでサインインできるアカウント",
            "Accounts that can sign in with a password alone",
        ),
        &f.password_only_accounts,
        ja,
        none,
    ));
    out.push_str(&accounts_table(
        t(
            ja,
            "特権アカウント（管理者・保守業者・非常時用）",
            "Privileged accounts (admin, vendor, emergency)",
        ),
        &f.privileged_accounts,
        ja,
        none,
    ));
    out.push_str(&accounts_table(
        &if ja {
            format!("{}日以上サインインのないアカウント", f.dormant_after_days)
        } else {
            format!(
                "Accounts without a sign-in for {} days",
                f.dormant_after_days
            )
        },
        &f.dormant_accounts,
        ja,
        none,
    ));
    let devices = |list: &[super::model::DeviceFigure]| -> Vec<Vec<String>> {
        list.iter()
            .map(|d| {
                vec![
                    d.name.clone(),
                    system_kind(ja, &d.kind),
                    d.owner.clone(),
                    d.location.clone(),
                    d.last_seen
                        .as_deref()
                        .map_or(t(ja, "なし", "never").to_owned(), readable),
                ]
            })
            .collect()
    };
    let dh = [
        t(ja, "機器名", "Device"),
        t(ja, "種類", "Kind"),
        t(ja, "管理者", "Owner"),
        t(ja, "設置場所", "Location"),
        t(ja, "最終通信", "Last seen"),
    ];
    out.push_str(&table(
        t(
            ja,
            "管理者・設置場所が未記載の機器",
            "Devices without owner or location",
        ),
        &dh,
        &devices(&f.devices.incomplete),
        none,
    ));
    out.push_str(&table(
        t(
            ja,
            "30日以上通信のない端末・サーバー",
            "Terminals and servers silent for 30 days",
        ),
        &dh,
        &devices(&f.devices.silent_30_days),
        none,
    ));
    let settings: Vec<Vec<String>> = f
        .settings
        .iter()
        .map(|s| {
            vec![
                s.key.to_owned(),
                s.value.clone(),
                s.floor.clone(),
                if s.meets { "✓".into() } else { "✗".into() },
            ]
        })
        .collect();
    out.push_str(&table(
        t(ja, "設定値と基準", "Settings in force beside the floors"),
        &[
            t(ja, "設定", "Setting"),
            t(ja, "値", "Value"),
            t(ja, "基準", "Required"),
            t(ja, "判定", "Meets"),
        ],
        &settings,
        none,
    ));
    out
}

/// The report's body (without the page frame).
pub fn body(r: &GuidelineReport) -> String {
    let ja = r.lang == "ja";
    let s = &r.summary;
    let checklist: Vec<&Section> = r
        .sections
        .iter()
        .filter(|x| x.group == "checklist")
        .collect();
    let reqs: Vec<&Section> = r
        .sections
        .iter()
        .filter(|x| x.group == "requirement")
        .collect();
    let overview: String = checklist
        .iter()
        .map(|x| {
            format!(
                r##"<tr><td><a href="#{id}">{num}</a></td><td>{title}</td><td>{badge}</td></tr>"##,
                id = esc(&x.id),
                num = esc(&x.number),
                title = esc(&x.title),
                badge = badge(x.status, x.status_label)
            )
        })
        .collect();
    format!(
        r#"<article class="report" lang="{lang}">
<div class="report-head">
<p class="facility">{facility}</p>
<p class="doc-title">{doc_title}</p>
<p class="dates">{generated_l} {generated} · {as_of_l} {as_of}</p>
<p class="counts">{met_l} <strong>{met}</strong> · {act_l} <strong>{act}</strong> · {na_l} <strong>{na}</strong></p>
</div>
<section class="overview"><h2>{overview_h}</h2>
<div class="table"><table><thead><tr><th scope="col">{item_l}</th><th scope="col">{title_l}</th><th scope="col">{status_l}</th></tr></thead><tbody>{overview}</tbody></table></div>
<p class="deadline">{deadline}</p>
</section>
<section class="charts"><h2>{charts_h}</h2>
<figure>{coverage}<figcaption>{coverage_cap}</figcaption></figure>
<figure>{failures}<figcaption>{failures_cap}</figcaption></figure>
</section>
<section class="part" id="checklist"><h2>{checklist_h}</h2>{checklist}</section>
<section class="part" id="requirements"><h2>{reqs_h}</h2>{reqs}</section>
<section class="part" id="figures"><h2>{appendix_h}</h2>{appendix}</section>
</article>"#,
        lang = r.lang,
        facility = esc(&r.facility.name),
        doc_title = t(
            ja,
            "医療情報システムの安全管理に関するガイドライン 第7.0版 対応状況報告書",
            "Guideline for the Security Management of Medical Information Systems 7.0: compliance report"
        ),
        generated_l = t(ja, "作成:", "Generated:"),
        generated = esc(&readable(&r.generated_at)),
        as_of_l = t(ja, "基準日時:", "As of:"),
        as_of = esc(&readable(&r.as_of)),
        met_l = Status::Met.label(ja),
        act_l = Status::ActionRequired.label(ja),
        na_l = Status::NotApplicable.label(ja),
        met = s.met,
        act = s.action_required,
        na = s.not_applicable,
        overview_h = t(ja, "チェックリスト項目の状況", "Checklist at a glance"),
        item_l = t(ja, "項目", "Item"),
        title_l = t(ja, "内容", "Subject"),
        status_l = t(ja, "状況", "Status"),
        deadline = esc(&if r.figures.days_to_deadline > 0 {
            if ja {
                format!(
                    "二要素認証の義務化（2027年4月1日）まで あと{}日",
                    r.figures.days_to_deadline
                )
            } else {
                format!(
                    "{} days until two-factor authentication is required (2027-04-01)",
                    r.figures.days_to_deadline
                )
            }
        } else if ja {
            "二要素認証は2027年4月1日から必須です".to_owned()
        } else {
            "Two-factor authentication is required since 2027-04-01".to_owned()
        }),
        charts_h = t(ja, "グラフ", "Charts"),
        coverage = charts::coverage(
            &r.figures.coverage_over_time,
            r.figures.two_factor_deadline,
            ja
        ),
        coverage_cap = t(
            ja,
            "現在の有効なアカウントについて、各月1日時点の二要素登録率",
            "Coverage of today's live accounts on the first of each month"
        ),
        failures = charts::failures(&r.figures.failures_by_day, ja),
        failures_cap = t(
            ja,
            "院内＝登録端末または院内ネットワーク、院外＝それ以外",
            "Clinic = a registered terminal or a clinic network; outside = anywhere else"
        ),
        checklist_h = t(
            ja,
            "サイバーセキュリティ対策チェックリスト",
            "Cybersecurity checklist"
        ),
        checklist = checklist
            .iter()
            .map(|x| section_html(x, ja))
            .collect::<String>(),
        reqs_h = t(ja, "ガイドラインの要件", "Requirements of the guideline"),
        reqs = reqs.iter().map(|x| section_html(x, ja)).collect::<String>(),
        appendix_h = t(ja, "付録: 数値", "Appendix: figures"),
        appendix = appendix(r, ja),
    )
}

/// A standalone document: styles inside, nothing fetched.
pub fn document(r: &GuidelineReport) -> String {
    let ja = r.lang == "ja";
    let date = readable(&r.as_of);
    format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\n{STYLE}\n{print}</style>\n</head>\n<body class=\"standalone\">\n{body}\n</body>\n</html>\n",
        lang = r.lang,
        title = esc(&format!(
            "{} — {}",
            r.facility.name,
            t(
                ja,
                "ガイドライン対応状況報告書",
                "Guideline compliance report"
            )
        )),
        print = print_css(&r.facility.name, &date, ja),
        body = body(r),
    )
}
