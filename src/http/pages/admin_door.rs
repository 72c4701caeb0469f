//! The administrators' door, shared by every console page of role `it_admin` (accounts,
//! devices, vendors' windows, the break-glass banner): the console frame, the session that
//! must hold the role, and the check of a console form post (its token bound to the session,
//! its origin, then the role). A leaf below the pages, so that they never import each other.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::guard::{Door, enter};
use super::i18n::{Lang, M};
use super::layout::{Csrf, console, esc, form_is_ours, html};
use crate::app::AppState;
use crate::http::api::admin::ADMIN_ROLE;
use crate::session::SessionRecord;

#[derive(Debug, Default, Deserialize)]
pub struct AdminQuery {
    pub(super) lang: Option<String>,
    pub(super) done: Option<String>,
    pub(super) error: Option<String>,
}

pub(super) fn page(
    lang: Lang,
    csrf: &Csrf,
    status: StatusCode,
    here: &str,
    roles: &[String],
    body: &str,
) -> Response {
    html(
        status,
        console(lang, M::AdminTitle, here, roles, body),
        csrf,
    )
}

const DOOR: Door = Door {
    path: "/admin",
    title: M::AdminTitle,
    roles: &[ADMIN_ROLE],
    refused: M::AdminOnly,
};

/// The administrator's session, or the answer that says why not.
pub(super) async fn admin(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    csrf: &Csrf,
) -> Result<std::sync::Arc<SessionRecord>, Response> {
    enter(state, headers, lang, csrf, DOOR).await
}

/// A console form post: its language and CSRF token, the form checked as ours (token and
/// origin), and the administrator's session; or the answer that says why not.
pub(super) async fn admin_form(
    state: &AppState,
    headers: &HeaderMap,
    lang: Option<&str>,
    token: &str,
    here: &str,
) -> Result<(Lang, Csrf, std::sync::Arc<SessionRecord>), Response> {
    let lang = Lang::choose(lang, headers);
    let csrf = Csrf::for_request(state, headers);
    if !form_is_ours(state, headers, token) {
        let body = format!("<p>{}</p>", esc(M::FormExpired.get(lang)));
        return Err(page(lang, &csrf, StatusCode::FORBIDDEN, here, &[], &body));
    }
    let session = admin(state, headers, lang, &csrf).await?;
    Ok((lang, csrf, session))
}
