//! Vendors' maintenance windows in the administrators' console (role `it_admin`):
//! `GET /admin/vendors` lists the windows with their state and a form to approve one (vendor
//! account, system, start and end in JST, the work, the approver); each upcoming window can
//! be cancelled and each open one ended, with a reason; `GET /admin/vendors/{id}/report.csv`
//! is the window's work report. The same audited use cases as `sekimori vendor window`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, TimeZone as _, Utc};
use serde::Deserialize;

use super::admin_door::{AdminQuery, Console, ConsoleForm, Posted, back, failure};
use super::i18n::{Lang, M};
use super::layout::{Csrf, esc, q};
use super::views;
use crate::account::AccountType;
use crate::app::AppState;
use crate::vendor::{NewWindow, Phase, Window, WindowState};

fn phase(lang: Lang, w: &Window, now: DateTime<Utc>) -> &'static str {
    let m = match (w.state, w.phase(now)) {
        (WindowState::Cancelled, _) => M::PhaseCancelled,
        (WindowState::Ended, _) => M::PhaseEnded,
        (_, Phase::Upcoming) => M::PhaseUpcoming,
        (_, Phase::Open) => M::PhaseOpen,
        (_, Phase::Over) => M::PhaseOver,
    };
    m.get(lang)
}

fn close_form(lang: Lang, csrf: &Csrf, w: &Window, now: DateTime<Utc>) -> String {
    let (action, label) = match (w.state, w.phase(now)) {
        (WindowState::Scheduled, Phase::Upcoming) => ("cancel", M::CancelWindow),
        (WindowState::Scheduled, Phase::Open) => ("end", M::EndWindow),
        _ => return String::new(),
    };
    format!(
        r#"<form method="post" action="/admin/vendors/{id}/{action}" class="inline">{csrf}<input type="hidden" name="lang" value="{code}"><label for="{action}-{id}">{reason}</label><input id="{action}-{id}" name="reason" required maxlength="500"><button type="submit">{label}</button></form>"#,
        id = esc(&w.id),
        csrf = csrf.field(),
        code = lang.code(),
        reason = esc(M::Reason.get(lang)),
        label = esc(label.get(lang)),
    )
}

/// `2026-12-10T09:00` from a `datetime-local` field, read as JST.
fn jst_local(s: &str) -> Option<DateTime<Utc>> {
    let n = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M").ok()?;
    crate::clock::jst()
        .from_local_datetime(&n)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

async fn options(state: &AppState) -> (String, String) {
    let vendors: String = state
        .admin
        .list()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|a| a.account_type == AccountType::Vendor)
        .map(|a| {
            format!(
                r#"<option value="{n}">{n} ({d})</option>"#,
                n = esc(a.username.as_str()),
                d = esc(&a.display_name)
            )
        })
        .collect();
    let mut systems: String = state
        .config
        .systems
        .iter()
        .map(|s| format!(r#"<option value="{id}">{id}</option>"#, id = esc(&s.id)))
        .collect();
    for d in state.devices.list().await.unwrap_or_default() {
        systems.push_str(&format!(
            r#"<option value="device:{n}">device:{n}</option>"#,
            n = esc(&d.name)
        ));
    }
    (vendors, systems)
}

pub async fn get_vendors(
    State(state): State<AppState>,
    c: Console,
    Query(aq): Query<AdminQuery>,
) -> Response {
    let (lang, csrf, t) = (c.lang, &c.csrf, |m: M| c.t(m));
    let now = state.clock.now();
    let list = match state.windows.list(None).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "listing maintenance windows failed");
            let body = format!("<p>{}</p>", t(M::ServiceUnavailable));
            return c.page(StatusCode::SERVICE_UNAVAILABLE, "/admin/vendors", &body);
        }
    };
    let rows: String = list
        .iter()
        .map(|(w, vendor)| {
            format!(
                r#"<tr><td><a href="/admin/vendors/{qid}/report.csv?lang={code}">{id}</a></td><td>{vendor}</td><td>{system}</td><td>{from}</td><td>{to}</td><td>{phase}</td><td>{by}</td><td>{work}</td><td>{close}</td></tr>"#,
                qid = esc(&q(&w.id)),
                code = lang.code(),
                id = esc(&w.id),
                vendor = esc(vendor),
                system = esc(&w.system),
                from = esc(&crate::clock::to_jst_display(w.starts_at)),
                to = esc(&crate::clock::to_jst_display(w.ends_at)),
                phase = esc(phase(lang, w, now)),
                by = esc(&w.approved_by),
                work = esc(&w.reason),
                close = close_form(lang, csrf, w, now),
            )
        })
        .collect();
    let (vendors, systems) = options(&state).await;
    let form = if vendors.is_empty() {
        format!("<p>{}</p>", t(M::NoVendors))
    } else {
        format!(
            r#"<form method="post" action="/admin/vendors" class="card" id="add-window">
<h2>{add}</h2>
{csrf}<input type="hidden" name="lang" value="{code}">
<label for="w-account">{vendor}</label><select id="w-account" name="account" required>{vendors}</select>
<label for="w-system">{system}</label><select id="w-system" name="system" required>{systems}</select>
<label for="w-from">{from} ({jst})</label><input id="w-from" name="from" type="datetime-local" required>
<label for="w-to">{to} ({jst})</label><input id="w-to" name="to" type="datetime-local" required>
<label for="w-reason">{work}</label><input id="w-reason" name="reason" required maxlength="500">
<label for="w-approved">{approved}</label><input id="w-approved" name="approved_by" required maxlength="200">
<button type="submit">{add}</button>
</form>"#,
            add = t(M::AddWindow),
            csrf = csrf.field(),
            code = lang.code(),
            vendor = t(M::VendorAccount),
            system = t(M::System),
            from = t(M::From),
            to = t(M::To),
            jst = t(M::JstHint),
            work = t(M::Work),
            approved = t(M::ApprovedBy),
        )
    };
    let body = format!(
        r#"{flash}<h2>{h}</h2>
<div class="table"><table id="windows"><thead><tr><th scope="col">{id}</th><th scope="col">{vendor}</th><th scope="col">{system}</th><th scope="col">{from}</th><th scope="col">{to}</th><th scope="col">{status}</th><th scope="col">{approved}</th><th scope="col">{work}</th><th scope="col"></th></tr></thead><tbody>{rows}</tbody></table></div>
{form}
<p><a href="/admin?lang={code}">{back}</a></p>"#,
        flash = views::flash(lang, aq_done(&aq), aq_error(&aq)),
        h = t(M::VendorsTitle),
        id = t(M::WindowId),
        vendor = t(M::VendorAccount),
        system = t(M::System),
        from = t(M::From),
        to = t(M::To),
        status = t(M::Status),
        approved = t(M::ApprovedBy),
        work = t(M::Work),
        code = lang.code(),
        back = t(M::Accounts),
    );
    c.page_with_banner(&state, "/admin/vendors", &body).await
}

fn aq_done(aq: &AdminQuery) -> Option<&str> {
    aq.done.as_deref()
}

fn aq_error(aq: &AdminQuery) -> Option<&str> {
    aq.error.as_deref()
}

#[derive(Debug, Deserialize)]
pub struct WindowForm {
    account: String,
    system: String,
    from: String,
    to: String,
    reason: String,
    approved_by: String,
}

impl ConsoleForm for WindowForm {
    const HERE: &'static str = "/admin/vendors";
}

/// Back to the list, with the window's id or the reason it failed.
fn back_to(lang: Lang, outcome: Result<String, crate::error::Error>) -> Response {
    match outcome {
        Ok(id) => back("/admin/vendors", lang, Ok(&id)),
        Err(e) => back(
            "/admin/vendors",
            lang,
            Err(failure(lang, e, "a maintenance-window action")),
        ),
    }
}

pub async fn post_window(
    State(state): State<AppState>,
    Posted(c, form): Posted<WindowForm>,
) -> Response {
    let lang = c.lang;
    let (Some(from), Some(to)) = (jst_local(&form.from), jst_local(&form.to)) else {
        return back(
            "/admin/vendors",
            lang,
            Err(format!("{} / {}", form.from, form.to)),
        );
    };
    let new = NewWindow {
        system: form.system,
        starts_at: from,
        ends_at: to,
        reason: form.reason,
        approved_by: form.approved_by,
    };
    back_to(
        lang,
        state
            .windows
            .add(&form.account, new, &c.actor())
            .await
            .map(|w| w.id),
    )
}

#[derive(Debug, Deserialize)]
pub struct CloseForm {
    reason: String,
}

impl ConsoleForm for CloseForm {
    const HERE: &'static str = "/admin/vendors";
}

pub async fn post_close(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    Posted(c, form): Posted<CloseForm>,
) -> Response {
    let lang = c.lang;
    let end = match action.as_str() {
        "end" => true,
        "cancel" => false,
        _ => {
            return back(
                "/admin/vendors",
                lang,
                Err(M::ActionFailed.get(lang).to_owned()),
            );
        }
    };
    back_to(
        lang,
        state
            .windows
            .close(&id, end, &form.reason, &c.actor())
            .await
            .map(|w| w.id),
    )
}

pub async fn get_report(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<String>,
) -> Response {
    let lang = c.lang;
    let made = match state.windows.report(&id).await {
        Ok((w, vendor, rows)) => crate::vendor::report::csv(&w, &vendor, &rows, lang == Lang::Ja)
            .map(|bytes| (w.id, bytes))
            .map_err(|e| e.to_string()),
        Err(e) => Err(failure(lang, e, "a window's report")),
    };
    match made {
        Ok((wid, bytes)) => {
            let mut res = (StatusCode::OK, bytes).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename=\"{wid}-report.csv\""))
            {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(text) => back("/admin/vendors", lang, Err(text)),
    }
}
