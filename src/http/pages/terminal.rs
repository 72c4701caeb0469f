//! `/terminal/enrol`: opening an administrator's one-time link in a terminal's browser. The
//! GET only shows which terminal the link is for (link previews must not spend it); the form
//! post binds this browser and sets the long-lived, signed, HttpOnly terminal cookie.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::i18n::{Lang, M};
use super::layout::{Csrf, document, esc, form_is_ours, html};
use super::views;
use crate::app::AppState;
use crate::device::Device;
use crate::device::browser::set_cookie;
use crate::http::client::Client;

#[derive(Debug, Deserialize)]
pub struct EnrolQuery {
    lang: Option<String>,
    #[serde(default)]
    device: String,
    #[serde(default)]
    token: String,
}

#[derive(Debug, Deserialize)]
pub struct EnrolForm {
    csrf: String,
    device: String,
    token: String,
    lang: Option<String>,
}

fn confirm(lang: Lang, csrf: &Csrf, d: &Device, token: &str) -> String {
    let row = |m: M, v: &str| views::fact_row(lang, m, v);
    format!(
        r#"<p>{lead}</p>
<table id="terminal">{name}{location}{owner}</table>
<form method="post" action="/terminal/enrol">
{csrf}<input type="hidden" name="lang" value="{code}">
<input type="hidden" name="device" value="{id}">
<input type="hidden" name="token" value="{token}">
<button type="submit">{register}</button>
</form>"#,
        lead = esc(M::TerminalLead.get(lang)),
        name = row(M::DeviceName, &d.name),
        location = row(M::TerminalLocation, &d.location),
        owner = row(M::TerminalOwner, &d.owner),
        csrf = csrf.field(),
        code = lang.code(),
        id = d.id,
        token = esc(token),
        register = esc(M::TerminalRegister.get(lang)),
    )
}

fn page(lang: Lang, csrf: &Csrf, status: StatusCode, body: &str) -> Response {
    page_at(lang, csrf, status, "/terminal/enrol", body)
}

/// With `here`, the address the language switch keeps (the link's own, on its first page).
fn page_at(lang: Lang, csrf: &Csrf, status: StatusCode, here: &str, body: &str) -> Response {
    html(status, document(lang, M::TerminalTitle, here, body), csrf)
}

/// A spent, expired or unknown link; or the register could not be read or written.
fn failed(lang: Lang, csrf: &Csrf, e: &crate::error::Error) -> Response {
    if let crate::error::Error::Refused { .. } = e {
        return page(
            lang,
            csrf,
            StatusCode::NOT_FOUND,
            &views::message(lang, M::TerminalLinkInvalid, None),
        );
    }
    tracing::warn!(error = %e, "a terminal enrolment step failed");
    page(
        lang,
        csrf,
        StatusCode::SERVICE_UNAVAILABLE,
        &views::message(lang, M::ServiceUnavailable, None),
    )
}

pub async fn get_enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<EnrolQuery>,
) -> Response {
    let lang = Lang::choose(q.lang.as_deref(), &headers);
    let csrf = Csrf::for_request(&state, &headers);
    match state.devices.enrolment_target(&q.device, &q.token).await {
        Ok(d) => page_at(
            lang,
            &csrf,
            StatusCode::OK,
            &format!(
                "/terminal/enrol?device={}&token={}",
                super::layout::q(&q.device),
                super::layout::q(&q.token)
            ),
            &confirm(lang, &csrf, &d, &q.token),
        ),
        Err(e) => failed(lang, &csrf, &e),
    }
}

pub async fn post_enrol(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<EnrolForm>,
) -> Response {
    let lang = Lang::choose(form.lang.as_deref(), &headers);
    let csrf = Csrf::for_request(&state, &headers);
    if !form_is_ours(&state, &headers, &form.csrf) {
        return page(
            lang,
            &csrf,
            StatusCode::FORBIDDEN,
            &views::message(lang, M::FormExpired, None),
        );
    }
    match state
        .devices
        .bind(&form.device, &form.token, client.origin.ip)
        .await
    {
        Ok((_, cookie)) => {
            let mut res = page(
                lang,
                &csrf,
                StatusCode::OK,
                &views::message(lang, M::TerminalDone, Some(("/login", M::SignIn))),
            );
            let secure = !state.config.server.danger_insecure_cookies;
            if let Ok(v) = HeaderValue::from_str(&set_cookie(cookie.expose(), secure)) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => failed(lang, &csrf, &e),
    }
}
