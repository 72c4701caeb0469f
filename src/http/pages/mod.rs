//! The pages people use: the login portal (`/login`, see `login`), the security-key page
//! (`/factors/security-keys`), and their static files (`/static/webauthn.js`,
//! `/static/portal.css`). Japanese and English by `Accept-Language`, `?lang=` switches; the
//! only script is a static file, so the CSP allows no inline script.

pub mod account;
pub mod admin;
pub mod admin_devices;
mod admin_door;
pub mod admin_vendors;
pub mod audit;
pub mod banner;
pub mod device;
pub mod guard;
pub mod i18n;
pub mod labels;
pub mod layout;
pub mod login;
pub mod report;
pub mod terminal;
pub(crate) mod views;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use i18n::{Lang, M};
use layout::{Csrf, document, esc, html};

const SCRIPT: &str = include_str!("webauthn.js");
const STYLE: &str = include_str!("portal.css");

fn security_keys_body(lang: Lang) -> String {
    format!(
        r#"<section aria-labelledby="register-h">
<h2 id="register-h">{register_h}</h2>
<p>{register_p}</p>
<label for="label">{label}</label>
<input id="label" name="label" maxlength="64" autocomplete="off">
<button type="button" id="register-security-key">{register_key}</button>
<button type="button" id="register-passkey">{register_passkey}</button>
</section>
<section aria-labelledby="signin-h">
<h2 id="signin-h">{signin_h}</h2>
<label for="username">{username}</label>
<input id="username" name="username" autocomplete="username webauthn">
<button type="button" id="passkey-sign-in">{signin}</button>
</section>
{msgs}"#,
        register_h = esc(M::Register.get(lang)),
        register_p = esc(M::RegisterLead.get(lang)),
        label = esc(M::KeyName.get(lang)),
        register_key = esc(M::RegisterSecurityKey.get(lang)),
        register_passkey = esc(M::RegisterPasskey.get(lang)),
        signin_h = esc(M::SignInWithPasskey.get(lang)),
        username = esc(M::UsernameOptional.get(lang)),
        signin = esc(M::SignInWithPasskey.get(lang)),
        msgs = views::script_messages(lang),
    )
}

#[derive(Debug, serde::Deserialize)]
pub struct LangQuery {
    pub lang: Option<String>,
}

pub async fn get_security_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let lang = Lang::choose(query.lang.as_deref(), &headers);
    let csrf = Csrf::for_request(&state, &headers);
    let doc = document(
        lang,
        M::SecurityKeysTitle,
        "/factors/security-keys",
        &security_keys_body(lang),
    );
    html(StatusCode::OK, doc, &csrf)
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

pub async fn get_script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

pub async fn get_style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_label_every_control() {
        for lang in [Lang::Ja, Lang::En] {
            let html = document(lang, M::SecurityKeysTitle, "/x", &security_keys_body(lang));
            for id in ["label", "username"] {
                assert!(html.contains(&format!("<label for=\"{id}\">")), "{id}");
            }
            assert!(!html.contains("<script>"), "no inline script");
        }
    }
}
