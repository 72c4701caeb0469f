//! The auditor console (role `auditor`, read-only): `GET /audit` shows login and lockout
//! events newest first with filters (user, event type, outcome, zone, address, date range)
//! and keyset paging (`before=SEQ`, so page 1,000 costs what page 1 does), a per-user
//! timeline (`?user=NAME`), and the hash chain's state; `GET /audit/export.csv` exports the
//! filtered view with Japanese (or English) headers. Nothing here writes: the console has no
//! form that changes anything, and the store refuses to update or delete audit rows.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;

use super::guard::{Door, enter};
use super::i18n::{Lang, M};
use super::labels;
use super::layout::{Csrf, console, document, esc, html, q};
use crate::app::AppState;
use crate::audit::export::{Exporter, Format, Lang as ExportLang};
use crate::audit::{AuditRecord, EventKind, Outcome};
use crate::store::AuditQuery;

pub const AUDITOR_ROLE: &str = "auditor";
const PAGE: u64 = 50;
const BATCH: u64 = 5_000;

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    user: Option<String>,
    kind: Option<String>,
    outcome: Option<String>,
    zone: Option<String>,
    ip: Option<String>,
    /// JST dates, inclusive.
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
    lang: Option<String>,
}

fn some(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Midnight JST of a `YYYY-MM-DD` date.
fn jst_midnight(d: &str) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok()?;
    let jst = chrono::FixedOffset::east_opt(9 * 3600)?;
    jst.from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

impl Filters {
    fn query(&self) -> AuditQuery {
        AuditQuery {
            subject: some(&self.user),
            kind: some(&self.kind),
            outcome: some(&self.outcome),
            zone: some(&self.zone),
            ip: some(&self.ip),
            from: some(&self.from).and_then(|d| jst_midnight(&d)),
            // The whole `to` day is included.
            to: some(&self.to)
                .and_then(|d| jst_midnight(&d))
                .map(|t| t + chrono::Duration::days(1)),
            ..AuditQuery::default()
        }
    }

    /// The filters as a query string (without paging and language).
    fn qs(&self) -> String {
        let pairs = [
            ("user", &self.user),
            ("kind", &self.kind),
            ("outcome", &self.outcome),
            ("zone", &self.zone),
            ("ip", &self.ip),
            ("from", &self.from),
            ("to", &self.to),
        ];
        pairs
            .iter()
            .filter_map(|(k, v)| some(v).map(|v| format!("{k}={}", q(&v))))
            .collect::<Vec<_>>()
            .join("&")
    }
}

const DOOR: Door = Door {
    path: "/audit",
    title: M::AuditTitle,
    roles: &[AUDITOR_ROLE],
    refused: M::AuditorOnly,
};

fn options<T: Copy>(
    all: &[T],
    chosen: Option<&str>,
    value: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> String,
    any: &str,
) -> String {
    let mut out = format!(r#"<option value="">{}</option>"#, esc(any));
    for &k in all {
        let v = value(k);
        let sel = if chosen == Some(v) { " selected" } else { "" };
        out.push_str(&format!(
            r#"<option value="{v}"{sel}>{}</option>"#,
            esc(&label(k))
        ));
    }
    out
}

fn filter_form(lang: Lang, f: &Filters) -> String {
    let t = |m: M| esc(m.get(lang));
    let val = |v: &Option<String>| esc(v.as_deref().unwrap_or(""));
    let kinds = options(
        EventKind::ALL,
        f.kind.as_deref(),
        EventKind::as_str,
        |k| labels::event_kind(lang, k),
        M::Any.get(lang),
    );
    let outcomes = options(
        Outcome::ALL,
        f.outcome.as_deref(),
        Outcome::as_str,
        |o| labels::outcome(lang, o),
        M::Any.get(lang),
    );
    let zones = options(
        &["trusted", "external"][..],
        f.zone.as_deref(),
        |z| z,
        |z| labels::zone(lang, z),
        M::Any.get(lang),
    );
    format!(
        r#"<form method="get" action="/audit" class="card filters">
<input type="hidden" name="lang" value="{code}">
<label for="f-user">{user}</label><input id="f-user" name="user" value="{uv}">
<label for="f-kind">{kind}</label><select id="f-kind" name="kind">{kinds}</select>
<label for="f-outcome">{outcome}</label><select id="f-outcome" name="outcome">{outcomes}</select>
<label for="f-zone">{zone}</label><select id="f-zone" name="zone">{zones}</select>
<label for="f-ip">{ip}</label><input id="f-ip" name="ip" value="{ipv}">
<label for="f-from">{from}</label><input id="f-from" name="from" type="date" value="{fromv}">
<label for="f-to">{to}</label><input id="f-to" name="to" type="date" value="{tov}">
<button type="submit">{apply}</button>
</form>"#,
        code = lang.code(),
        user = t(M::Username),
        uv = val(&f.user),
        kind = t(M::EventType),
        outcome = t(M::Outcome),
        zone = t(M::Zone),
        ip = t(M::IpAddress),
        ipv = val(&f.ip),
        from = t(M::DateFrom),
        fromv = val(&f.from),
        to = t(M::DateTo),
        tov = val(&f.to),
        apply = t(M::Filter),
    )
}

fn row_html(lang: Lang, r: &AuditRecord) -> String {
    let e = &r.event;
    let kind = labels::event_kind(lang, e.kind);
    let outcome = labels::outcome(lang, e.outcome);
    let subject = e.subject.as_deref().unwrap_or("");
    let user = if subject.is_empty() {
        String::new()
    } else {
        format!(
            r#"<a href="/audit?user={}&amp;lang={}">{}</a>"#,
            esc(&q(subject)),
            lang.code(),
            esc(subject)
        )
    };
    let zone = e
        .detail
        .get("zone")
        .and_then(|z| z.as_str())
        .map(|z| labels::zone(lang, z))
        .unwrap_or_default();
    // The zone has its own column; the rest of the detail is listed field by field.
    let mut rest = e.detail.clone();
    if let Some(map) = rest.as_object_mut() {
        map.remove("zone");
    }
    format!(
        "<tr><td>{}</td><td><time datetime=\"{}\">{}</time></td><td>{}</td><td>{}</td><td>{user}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        r.seq,
        esc(&r.at_text),
        esc(&crate::clock::to_jst_display(r.at)),
        esc(&kind),
        esc(&outcome),
        esc(e.actor.as_deref().unwrap_or("")),
        esc(&zone),
        esc(e.ip.as_deref().unwrap_or("")),
        labels::detail(lang, &rest),
    )
}

pub async fn get_audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(f): Query<Filters>,
) -> Response {
    let lang = Lang::choose(f.lang.as_deref(), &headers);
    let csrf = Csrf::for_request(&state, &headers);
    let session = match enter(&state, &headers, lang, &csrf, DOOR).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let query = AuditQuery {
        before_seq: f.before,
        limit: Some(PAGE),
        newest_first: true,
        ..f.query()
    };
    let chain = state.chain.view(state.stores.audit.clone()).await;
    let (rows, chain) = match (state.stores.audit.query_audit(&query).await, chain) {
        (Ok(rows), Ok(chain)) => (rows, chain),
        _ => {
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                document(
                    lang,
                    M::AuditTitle,
                    "/audit",
                    &format!("<p>{}</p>", esc(M::ServiceUnavailable.get(lang))),
                ),
                &csrf,
            );
        }
    };
    let t = |m: M| esc(m.get(lang));
    let qs = f.qs();
    let report = &chain.report;
    let chain_line = if !report.is_intact() {
        let first = report
            .problems
            .first()
            .map_or(0, crate::audit::chain::Problem::seq);
        format!(
            r#"<p class="chain error" id="chain">{} {first}</p>"#,
            t(M::ChainBroken)
        )
    } else if chain.complete {
        format!(
            r#"<p class="chain ok" id="chain">{} {}</p>"#,
            t(M::ChainIntact),
            report.verified_up_to
        )
    } else {
        format!(
            r#"<p class="chain" id="chain">{} {}</p>"#,
            t(M::ChainVerifying),
            report.verified_up_to
        )
    };
    let chain_line = format!("{chain_line}{}", checkpoint_line(&state, lang).await);
    let body_rows: String = rows.iter().map(|r| row_html(lang, r)).collect();
    let older = match rows.last() {
        Some(last) if rows.len() as u64 == PAGE => format!(
            r#"<a href="/audit?{qs}&amp;before={}&amp;lang={}" rel="next">{}</a>"#,
            last.seq,
            lang.code(),
            t(M::Older)
        ),
        _ => String::new(),
    };
    let newest = if f.before.is_some() {
        format!(
            r#"<a href="/audit?{qs}&amp;lang={}">{}</a> "#,
            lang.code(),
            t(M::Newest)
        )
    } else {
        String::new()
    };
    let banner = super::banner::break_glass(&state, lang, &csrf, false).await;
    let body = format!(
        r#"{banner}{chain_line}
{form}
<p><a class="button" id="export" href="/audit/export.csv?{qs}&amp;lang={code}" download>{export}</a></p>
<div class="table"><table>
<caption>{caption}</caption>
<thead><tr><th scope="col">{seq}</th><th scope="col">{time}</th><th scope="col">{kind}</th><th scope="col">{outcome}</th><th scope="col">{user}</th><th scope="col">{actor}</th><th scope="col">{zone}</th><th scope="col">{ip}</th><th scope="col">{detail}</th></tr></thead>
<tbody>{body_rows}</tbody>
</table></div>
<nav class="paging">{newest}{older}</nav>"#,
        form = filter_form(lang, &f),
        code = lang.code(),
        export = t(M::ExportCsv),
        caption = t(M::AuditCaption),
        seq = t(M::Seq),
        time = t(M::Time),
        kind = t(M::EventType),
        outcome = t(M::Outcome),
        user = t(M::Username),
        actor = t(M::Actor),
        zone = t(M::Zone),
        ip = t(M::IpAddress),
        detail = t(M::Detail),
    );
    let here = if qs.is_empty() {
        "/audit".to_owned()
    } else {
        format!("/audit?{qs}")
    };
    html(
        StatusCode::OK,
        console(lang, M::AuditTitle, &here, &session.roles, &body),
        &csrf,
    )
}

/// The last signed checkpoint, and why the signer could not sign, if so.
async fn checkpoint_line(state: &AppState, lang: Lang) -> String {
    let status = state.signer.as_ref().map(|s| s.status());
    let last = state.stores.audit.last_checkpoint().await.ok().flatten();
    let problem = state
        .audit_key_problem
        .clone()
        .or_else(|| status.and_then(|s| s.refused.or(s.file_error)));
    let mut out = match last {
        Some(c) => format!(
            r#"<p class="checkpoint" id="checkpoint">{}: {} {} · {} · <code>{}</code></p>"#,
            esc(M::LastCheckpoint.get(lang)),
            esc(M::Seq.get(lang)),
            c.seq,
            esc(&crate::clock::readable(&c.at)),
            esc(&c.key_id)
        ),
        None => format!(
            r#"<p class="checkpoint" id="checkpoint">{}</p>"#,
            esc(M::NoCheckpoint.get(lang))
        ),
    };
    if let Some(p) = problem {
        out.push_str(&format!(
            r#"<p class="error">{}: {}</p>"#,
            esc(M::CheckpointProblem.get(lang)),
            esc(&p)
        ));
    }
    out
}

/// The filtered view as CSV (all matching rows, oldest first), headers in the page language.
pub async fn get_export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(f): Query<Filters>,
) -> Response {
    let lang = Lang::choose(f.lang.as_deref(), &headers);
    let csrf = Csrf::for_request(&state, &headers);
    if let Err(r) = enter(&state, &headers, lang, &csrf, DOOR).await {
        return r;
    }
    let export_lang = match lang {
        Lang::Ja => ExportLang::Ja,
        Lang::En => ExportLang::En,
    };
    let mut out = Vec::new();
    let written = async {
        let mut ex = Exporter::new(&mut out, Format::Csv, export_lang)?;
        let mut after = None;
        loop {
            let rows = state
                .stores
                .audit
                .query_audit(&AuditQuery {
                    after_seq: after,
                    limit: Some(BATCH),
                    ..f.query()
                })
                .await
                .map_err(std::io::Error::other)?;
            for r in &rows {
                ex.write(r)?;
            }
            match rows.last() {
                Some(last) if rows.len() as u64 == BATCH => after = Some(last.seq),
                _ => break,
            }
        }
        ex.finish()
    }
    .await;
    if written.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut res = (StatusCode::OK, out).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"sekimori-audit.csv\""),
    );
    res
}
