//! The administrators' door, shared by every console page of role `it_admin` (accounts,
//! devices, vendors' windows): the console frame, the administrator behind a page
//! ([`Console`]) or a form post ([`Posted`]: its token bound to the session, its origin, then
//! the role), and the answers after an action (back with `done` or `error`, the failure's
//! text). A leaf below the pages (the banner aside), so that they never import each other.

use axum::extract::{Form, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::guard::{Door, enter};
use super::i18n::{Lang, M};
use super::layout::{Csrf, console, esc, form_is_ours, html, q};
use crate::app::AppState;
use crate::error::Error;
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

/// An administrator at the console: the page's language, its form token, and the session
/// that holds the role. Taken by every console handler, from a page's query
/// ([`FromRequestParts`]) or from a form post ([`Posted`]), so that none spells the checks.
pub struct Console {
    pub(super) lang: Lang,
    pub(super) csrf: Csrf,
    pub(super) session: std::sync::Arc<SessionRecord>,
}

impl Console {
    /// The audit log's actor for what this administrator does.
    pub(super) fn actor(&self) -> String {
        crate::http::api::admin::actor(&self.session)
    }

    /// A message in the page's language, escaped for HTML.
    pub(super) fn t(&self, m: M) -> String {
        esc(m.get(self.lang))
    }

    /// A console page in the frame, its navigation for this administrator's roles.
    pub(super) fn page(&self, status: StatusCode, here: &str, body: &str) -> Response {
        page(
            self.lang,
            &self.csrf,
            status,
            here,
            &self.session.roles,
            body,
        )
    }

    /// A console page that opens with the banner of unacknowledged break-glass uses.
    pub(super) async fn page_with_banner(
        &self,
        state: &AppState,
        here: &str,
        body: &str,
    ) -> Response {
        let banner = super::banner::break_glass(state, self.lang, &self.csrf, true).await;
        self.page(StatusCode::OK, here, &format!("{banner}{body}"))
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // A query that does not parse chooses no language; the page's own `Query` refuses it.
        let aq = Query::<AdminQuery>::try_from_uri(&parts.uri)
            .map(|Query(aq)| aq)
            .unwrap_or_default();
        let lang = Lang::choose(aq.lang.as_deref(), &parts.headers);
        let csrf = Csrf::for_request(state, &parts.headers);
        let session = admin(state, &parts.headers, lang, &csrf).await?;
        Ok(Console {
            lang,
            csrf,
            session,
        })
    }
}

/// A console form's own fields, and the page its refusal is shown on. The form token and the
/// language are read around them by [`Posted`]. Form fields arrive as text: a field of a
/// number type would not read through the flattening, so forms keep to `String`s.
pub trait ConsoleForm: DeserializeOwned {
    const HERE: &'static str;
}

#[derive(Deserialize)]
struct Signed<F> {
    csrf: String,
    lang: Option<String>,
    #[serde(flatten)]
    form: F,
}

/// A console form post: the form read, its token checked as ours (bound to the session, from
/// our origin), then the administrator's session; or the answer that says why not.
pub struct Posted<F>(pub(super) Console, pub(super) F);

impl<F: ConsoleForm + Send> FromRequest<AppState> for Posted<F> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let Form(signed) = Form::<Signed<F>>::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let lang = Lang::choose(signed.lang.as_deref(), &headers);
        let csrf = Csrf::for_request(state, &headers);
        if !form_is_ours(state, &headers, &signed.csrf) {
            let body = format!("<p>{}</p>", esc(M::FormExpired.get(lang)));
            return Err(page(
                lang,
                &csrf,
                StatusCode::FORBIDDEN,
                F::HERE,
                &[],
                &body,
            ));
        }
        let session = admin(state, &headers, lang, &csrf).await?;
        let console = Console {
            lang,
            csrf,
            session,
        };
        Ok(Posted(console, signed.form))
    }
}

/// Back to `base` after an action, its outcome in the query (`done` names the action, `error`
/// is the text the page shows).
pub(super) fn back(base: &str, lang: Lang, outcome: Result<&str, String>) -> Response {
    let location = match outcome {
        Ok(done) => format!("{base}?lang={}&done={}", lang.code(), q(done)),
        Err(text) => format!("{base}?lang={}&error={}", lang.code(), q(&text)),
    };
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// What a failed action shows: the cause where the administrator can act on it, otherwise a
/// general failure (the cause goes to the log, with `what` was tried).
pub(super) fn failure(lang: Lang, e: Error, what: &str) -> String {
    match e {
        Error::ReasonRequired => M::ReasonRequired.get(lang).to_owned(),
        Error::Invalid(m) => m,
        Error::Token(t) => t.to_string(),
        Error::AccountNotFound(_) => M::NoSuchAccount.get(lang).to_owned(),
        other => {
            tracing::warn!(error = %other, "{what} failed");
            M::ActionFailed.get(lang).to_owned()
        }
    }
}
