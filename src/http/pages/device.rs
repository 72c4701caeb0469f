//! `/device`: where a person approves a sign-in at a server or terminal that has no security
//! key of its own (the PAM device flow). The code the server shows names the sign-in; the
//! page shows who, where and from where, and the security key of that account approves it
//! (`/static/webauthn.js` calls `/api/v1/device/challenge` and `/approve`). No session is
//! needed: the key is the proof.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::i18n::{Lang, M};
use super::layout::{Csrf, document, esc, html};
use super::views;
use crate::app::AppState;
use crate::auth::device_flow::Pending;
use crate::http::client::Client;

#[derive(Debug, Deserialize)]
pub struct DeviceQuery {
    lang: Option<String>,
    code: Option<String>,
}

fn lookup_form(lang: Lang, code: &str, error: bool) -> String {
    let err = if error {
        format!(
            r#"<p id="code-error" class="error" role="alert">{}</p>"#,
            esc(M::DeviceUnknown.get(lang))
        )
    } else {
        String::new()
    };
    format!(
        r#"<p>{lead}</p>
<form method="get" action="/device">
<input type="hidden" name="lang" value="{lang}">
<label for="code">{label}</label>
<input id="code" name="code" value="{code}" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="16"{described} required>
{err}<button type="submit">{look}</button>
</form>"#,
        lead = esc(M::DeviceLead.get(lang)),
        lang = lang.code(),
        label = esc(M::DeviceCode.get(lang)),
        code = esc(code),
        described = if error {
            r#" aria-describedby="code-error" aria-invalid="true""#
        } else {
            ""
        },
        look = esc(M::DeviceLookUp.get(lang)),
    )
}

fn pending_view(lang: Lang, p: &Pending) -> String {
    let row = |m: M, v: &str| views::fact_row(lang, m, v);
    format!(
        r#"<section aria-labelledby="waiting-h">
<h2 id="waiting-h">{h}</h2>
<table id="pending">
{user}{device}{service}{from}{expires}
</table>
<button type="button" data-action="device-approve" data-code="{code}">{approve}</button>
<button type="button" data-action="device-deny" data-code="{code}">{deny}</button>
<div id="messages" hidden data-working="{working}" data-refused="{refused}" data-approved="{approved}" data-denied="{denied}"></div>
</section>"#,
        h = esc(M::DeviceWaiting.get(lang)),
        user = row(M::DeviceUser, &p.username),
        device = row(M::DeviceName, &p.device),
        service = row(M::DeviceService, &p.service),
        from = row(M::DeviceFrom, &p.from),
        expires = row(M::DeviceExpires, &p.expires_at),
        code = esc(&p.user_code),
        approve = esc(M::DeviceApprove.get(lang)),
        deny = esc(M::DeviceDeny.get(lang)),
        working = esc(M::Working.get(lang)),
        refused = esc(M::BrowserRefused.get(lang)),
        approved = esc(M::DeviceApproved.get(lang)),
        denied = esc(M::DeviceRefused.get(lang)),
    )
}

pub async fn get_device(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<DeviceQuery>,
) -> Response {
    let lang = Lang::choose(query.lang.as_deref(), &headers);
    let csrf = Csrf::for_request(&state, &headers);
    let code = query.code.as_deref().unwrap_or("").trim();
    let (status, body) = if code.is_empty() {
        (StatusCode::OK, lookup_form(lang, "", false))
    } else {
        match state
            .login
            .device_flow_pending(code, client.origin.ip)
            .await
        {
            Ok(p) => (StatusCode::OK, pending_view(lang, &p)),
            Err(crate::error::Error::Refused {
                code: "too_many_attempts",
                ..
            }) => (
                StatusCode::TOO_MANY_REQUESTS,
                views::message(lang, M::DeviceTooMany, None),
            ),
            Err(crate::error::Error::Refused { .. }) => {
                (StatusCode::NOT_FOUND, lookup_form(lang, code, true))
            }
            Err(e) => {
                tracing::warn!(error = %e, "the device approval page failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    views::message(lang, M::ServiceUnavailable, None),
                )
            }
        }
    };
    let here = if code.is_empty() {
        "/device".to_owned()
    } else {
        format!("/device?code={}", super::layout::q(code))
    };
    html(status, document(lang, M::DeviceTitle, &here, &body), &csrf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_label_the_code_and_show_the_sign_in() {
        let p = Pending {
            user_code: "BCDF-GHJK".into(),
            username: "nurse1".into(),
            device: "srv-1".into(),
            service: "sshd".into(),
            from: "192.0.2.7".into(),
            expires_at: "2026-11-22T10:00:00+09:00".into(),
        };
        for lang in [Lang::Ja, Lang::En] {
            let form = lookup_form(lang, "<x>", true);
            assert!(form.contains(r#"<label for="code">"#));
            assert!(form.contains("&lt;x&gt;"), "escaped");
            assert!(form.contains(r#"aria-describedby="code-error""#));
            let view = pending_view(lang, &p);
            for v in [
                "nurse1",
                "srv-1",
                "sshd",
                "192.0.2.7",
                r#"data-code="BCDF-GHJK""#,
            ] {
                assert!(view.contains(v), "{v}");
            }
            assert!(!view.contains("<script>"));
        }
    }
}
