//! Who may open a console page: the signed-in session holding one of the page's roles, or
//! the answer that says why not (the sign-in page for nobody signed in, 403 for the wrong
//! roles, 503 when the session store does not answer).

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::{Lang, M};
use super::layout::{Csrf, document, esc, html, q};
use crate::app::AppState;
use crate::http::api::answers::session_from;
use crate::session::SessionRecord;

/// A page and who may open it.
#[derive(Debug, Clone, Copy)]
pub struct Door {
    pub path: &'static str,
    pub title: M,
    /// Any of these roles opens it.
    pub roles: &'static [&'static str],
    /// What the wrong roles are told.
    pub refused: M,
}

/// The session behind `door`, or the answer.
pub async fn enter(
    state: &AppState,
    headers: &HeaderMap,
    lang: Lang,
    csrf: &Csrf,
    door: Door,
) -> Result<Arc<SessionRecord>, Response> {
    let message = |status, m: M| {
        html(
            status,
            document(
                lang,
                door.title,
                door.path,
                &format!("<p>{}</p>", esc(m.get(lang))),
            ),
            csrf,
        )
    };
    match session_from(state, headers).await {
        Ok(Some(s)) if s.roles.iter().any(|r| door.roles.contains(&r.as_str())) => Ok(s),
        Ok(Some(_)) => Err(message(StatusCode::FORBIDDEN, door.refused)),
        Ok(None) => Err((
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                format!(
                    "/login?rd={}",
                    q(&format!("{}{}", state.config.server.public_url, door.path))
                ),
            )],
        )
            .into_response()),
        Err(_) => Err(message(
            StatusCode::SERVICE_UNAVAILABLE,
            M::ServiceUnavailable,
        )),
    }
}
