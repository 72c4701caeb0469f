//! The security-key page (`GET /factors/security-keys`) and its script
//! (`GET /static/webauthn.js`): register a security key or a passkey, and sign in with a
//! passkey, in Japanese or English by `Accept-Language` (`?lang=` switches). The portal of the
//! login issue builds on the same script. No inline script: the page's CSP allows scripts
//! from this origin only.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const SCRIPT: &str = include_str!("webauthn.js");
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    /// `?lang=` first, then the first of ja/en in `Accept-Language`; Japanese by default.
    pub fn choose(query: Option<&str>, headers: &HeaderMap) -> Self {
        match query {
            Some("en") => return Lang::En,
            Some("ja") => return Lang::Ja,
            _ => {}
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        for part in accept.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("ja") {
                return Lang::Ja;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::Ja
    }

    fn pick(self, ja: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

fn page(lang: Lang) -> String {
    let t = |ja, en| lang.pick(ja, en);
    format!(
        r#"<!doctype html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — Sekimori</title>
<link rel="icon" href="data:,">
<script src="/static/webauthn.js" defer></script>
</head>
<body>
<main>
<h1>{title}</h1>
<p><a href="?lang={other_code}" hreflang="{other_code}">{other}</a></p>
<section aria-labelledby="register-h">
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
<p id="status" role="status" aria-live="polite"></p>
</main>
</body>
</html>
"#,
        code = lang.pick("ja", "en"),
        other_code = lang.pick("en", "ja"),
        other = lang.pick("English", "日本語"),
        title = t("セキュリティキーとパスキー", "Security keys and passkeys"),
        register_h = t("登録", "Register"),
        register_p = t(
            "サインイン中のアカウントに登録します。",
            "Registers a key for the account you are signed in to."
        ),
        label = t("名前（例: 診察室の鍵）", "Name (e.g. consulting-room key)"),
        register_key = t("セキュリティキーを登録", "Register a security key"),
        register_passkey = t("パスキーを登録", "Register a passkey"),
        signin_h = t("パスキーでサインイン", "Sign in with a passkey"),
        username = t("利用者ID（省略可）", "Username (optional)"),
        signin = t("パスキーでサインイン", "Sign in with a passkey"),
    )
}

pub async fn get_security_keys(
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let lang_q = query.as_deref().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("lang="))
            .map(str::to_owned)
    });
    let lang = Lang::choose(lang_q.as_deref(), &headers);
    let mut res = (StatusCode::OK, page(lang)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    res
}

pub async fn get_script() -> Response {
    let mut res = (StatusCode::OK, SCRIPT).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn language_follows_the_switch_then_the_browser() {
        assert_eq!(
            Lang::choose(None, &accept("en-US,en;q=0.9,ja;q=0.8")),
            Lang::En
        );
        assert_eq!(Lang::choose(None, &accept("ja-JP,en;q=0.5")), Lang::Ja);
        assert_eq!(Lang::choose(Some("en"), &accept("ja")), Lang::En);
        assert_eq!(Lang::choose(None, &HeaderMap::new()), Lang::Ja);
    }

    #[test]
    fn both_languages_label_every_control() {
        for lang in [Lang::Ja, Lang::En] {
            let html = page(lang);
            for id in ["label", "username"] {
                assert!(html.contains(&format!("<label for=\"{id}\">")), "{id}");
            }
            assert!(!html.contains("<script>"), "no inline script");
        }
        assert!(page(Lang::Ja).contains("パスキーでサインイン"));
        assert!(page(Lang::En).contains("Sign in with a passkey"));
    }
}
