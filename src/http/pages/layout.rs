//! What every page shares: the HTML frame (language switch, stylesheet, the one script),
//! escaping, the response headers (a CSP without inline scripts, no caching), and the CSRF
//! guard of the forms: a nonce in a `SameSite=Strict` cookie, a token bound to it and to the
//! session that each form repeats, and the `Origin` of a form post, when the browser sends
//! one, must be the gateway's own.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::{Lang, M};
use crate::crypto::{constant_time_eq, is_token, random_token};
use crate::http::client::cookie;

pub const CSRF_COOKIE: &str = "sekimori_csrf";
const CSRF_COOKIE_SECURE: &str = "__Host-sekimori_csrf";
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// Text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Everything but RFC 3986 unreserved characters is encoded.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encoding for a query value or a path segment.
pub fn q(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

/// A whole document. `here` is the path and query of this page without `lang`, for the
/// language switch.
pub fn document(lang: Lang, title: M, here: &str, body: &str) -> String {
    frame(lang, title, here, "", "", body)
}

/// The consoles' pages, in the order of the navigation bar, and the roles that open them
/// (none: any signed-in account).
const CONSOLE: &[(&str, M, &[&str])] = &[
    ("/account", M::AccountTitle, &[]),
    ("/audit", M::AuditTitle, &["auditor"]),
    ("/report", M::ReportTitle, &["auditor", "it_admin"]),
    ("/admin", M::AdminTitle, &["it_admin"]),
    ("/admin/devices", M::DevicesTitle, &["it_admin"]),
    ("/admin/vendors", M::VendorsTitle, &["it_admin"]),
];

/// One navigation bar for every console page: the pages `roles` may open, the current one
/// marked.
pub fn nav(lang: Lang, roles: &[String], here: &str) -> String {
    let path = here.split('?').next().unwrap_or(here);
    let items: String = CONSOLE
        .iter()
        .filter(|(_, _, need)| need.is_empty() || need.iter().any(|r| roles.iter().any(|x| x == r)))
        .map(|(href, m, _)| {
            let current = if *href == path {
                r#" aria-current="page""#
            } else {
                ""
            };
            format!(
                r#"<li><a href="{href}?lang={}"{current}>{}</a></li>"#,
                lang.code(),
                esc(m.get(lang))
            )
        })
        .collect();
    format!(
        r#"<nav class="site" aria-label="{}"><ul>{items}</ul></nav>"#,
        esc(M::NavLabel.get(lang))
    )
}

/// A console page: the document with the navigation bar for the signed-in roles.
pub fn console(lang: Lang, title: M, here: &str, roles: &[String], body: &str) -> String {
    frame(lang, title, here, &nav(lang, roles, here), "", body)
}

/// The same with an extra stylesheet (the report's).
pub fn console_with_style(
    lang: Lang,
    title: M,
    here: &str,
    roles: &[String],
    styles: &[&str],
    body: &str,
) -> String {
    let links: String = styles
        .iter()
        .map(|s| format!(r#"<link rel="stylesheet" href="{}">"#, esc(s)))
        .collect();
    frame(lang, title, here, &nav(lang, roles, here), &links, body)
}

fn frame(lang: Lang, title: M, here: &str, nav: &str, head: &str, body: &str) -> String {
    let sep = if here.contains('?') { '&' } else { '?' };
    format!(
        r#"<!doctype html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — Sekimori</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/portal.css">
<script src="/static/webauthn.js" defer></script>
{head}
</head>
<body>
<header><span class="brand">関守 Sekimori</span>
<a class="lang" href="{here}{sep}lang={other}" hreflang="{other}" lang="{other}">{other_name}</a></header>
{nav}
<main>
<h1>{title}</h1>
{body}
<p id="status" role="status" aria-live="polite"></p>
</main>
</body>
</html>
"#,
        code = lang.code(),
        title = esc(title.get(lang)),
        here = esc(here),
        other = lang.other().code(),
        other_name = esc(M::LanguageName.get(lang)),
    )
}

/// A page response: HTML, the page CSP, and the CSRF cookie when it was just made.
pub fn html(status: StatusCode, doc: String, csrf: &Csrf) -> Response {
    let mut res = (status, doc).into_response();
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
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Some(c) = &csrf.set_cookie
        && let Ok(v) = HeaderValue::from_str(c)
    {
        h.append(header::SET_COOKIE, v);
    }
    res
}

/// The CSRF guard of this browser's forms, OWASP's signed double-submit: the cookie holds a
/// random nonce, and the token each form repeats is a hash of the nonce and of the session
/// the page was made for (its secret id), or of nothing before a session exists. A token
/// pair planted from elsewhere (a sibling host of the same site, a plain-HTTP moment) was
/// made for another session, or none, and is refused; where cookies are `Secure` the cookie is
/// `__Host-`, which neither a sibling host nor plain HTTP can set, so a sign-in form cannot be
/// planted either.
#[derive(Debug, Clone)]
pub struct Csrf {
    pub token: String,
    nonce: String,
    set_cookie: Option<String>,
}

/// The CSRF cookie's name: `__Host-` wherever cookies are `Secure`.
pub fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure {
        CSRF_COOKIE_SECURE
    } else {
        CSRF_COOKIE
    }
}

/// The token for a nonce and the session a page is made for.
pub fn csrf_token(nonce: &str, session: Option<&str>) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(
        Sha256::new()
            .chain_update(b"sekimori form token v1\0")
            .chain_update(nonce.as_bytes())
            .chain_update(b"\0")
            .chain_update(session.unwrap_or("").as_bytes())
            .finalize(),
    )
}

impl Csrf {
    /// The token for this request's browser and session (the cookie is `Secure` and
    /// `__Host-` unless the gateway allows insecure cookies on localhost).
    pub fn for_request(state: &crate::app::AppState, headers: &HeaderMap) -> Self {
        let (secure, session) = binding(state, headers);
        Self::of(headers, secure, session)
    }

    pub fn of(headers: &HeaderMap, secure: bool, session: Option<&str>) -> Self {
        let name = csrf_cookie_name(secure);
        match cookie(headers, name).filter(|t| is_token(t)) {
            Some(nonce) => Self {
                token: csrf_token(nonce, session),
                nonce: nonce.to_owned(),
                set_cookie: None,
            },
            None => {
                let nonce = random_token();
                let mut c = format!("{name}={nonce}; Path=/; HttpOnly; SameSite=Strict");
                if secure {
                    c.push_str("; Secure");
                }
                Self {
                    token: csrf_token(&nonce, session),
                    nonce,
                    set_cookie: Some(c),
                }
            }
        }
    }

    /// The same browser's token for a session this response starts (the page that follows a
    /// sign-in carries forms the new session will post).
    pub fn for_session(&self, session: &str) -> Self {
        Self {
            token: csrf_token(&self.nonce, Some(session)),
            nonce: self.nonce.clone(),
            set_cookie: self.set_cookie.clone(),
        }
    }

    /// The hidden field every form carries.
    pub fn field(&self) -> String {
        format!(
            r#"<input type="hidden" name="csrf" value="{}">"#,
            esc(&self.token)
        )
    }
}

/// Does a form post carry the token made for this browser and this session, from this
/// gateway's own pages? (Cross-site and same-site posts are refused before any handler, by
/// the `cross_site` guard.)
pub fn form_is_ours(state: &crate::app::AppState, headers: &HeaderMap, form_token: &str) -> bool {
    let (secure, session) = binding(state, headers);
    form_matches(
        headers,
        form_token,
        &state.config.server.public_url,
        secure,
        session,
    )
}

/// What a request's token is bound to: whether cookies are `Secure` (which names the nonce
/// cookie) and the session cookie's value, if one came along.
fn binding<'a>(state: &crate::app::AppState, headers: &'a HeaderMap) -> (bool, Option<&'a str>) {
    (
        !state.config.server.danger_insecure_cookies,
        cookie(headers, &state.config.session.cookie_name),
    )
}

fn form_matches(
    headers: &HeaderMap,
    form_token: &str,
    public_url: &str,
    secure: bool,
    session: Option<&str>,
) -> bool {
    let origin_ok = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(o) => o == public_url.trim_end_matches('/'),
        None => true,
    };
    let token_ok = cookie(headers, csrf_cookie_name(secure))
        .filter(|n| is_token(n))
        .is_some_and(|n| {
            constant_time_eq(csrf_token(n, session).as_bytes(), form_token.as_bytes())
        });
    origin_ok && token_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_form_needs_the_token_of_this_browser_and_session_and_our_origin() {
        let n = random_token();
        let cookie = format!("{CSRF_COOKIE}={n}");
        let url = "https://auth.clinic.example";
        let ok = |h: &HeaderMap, t: &str, sid: Option<&str>| form_matches(h, t, url, false, sid);
        let signed_in = csrf_token(&n, Some("sid-a"));
        let before = csrf_token(&n, None);
        assert!(ok(
            &headers(&[("cookie", &cookie)]),
            &signed_in,
            Some("sid-a")
        ));
        assert!(ok(&headers(&[("cookie", &cookie)]), &before, None));
        assert!(ok(
            &headers(&[("cookie", &cookie), ("origin", url)]),
            &signed_in,
            Some("sid-a")
        ));
        assert!(!ok(
            &headers(&[("cookie", &cookie), ("origin", "https://evil.example")]),
            &signed_in,
            Some("sid-a")
        ));
        assert!(!ok(&headers(&[]), &signed_in, Some("sid-a")), "no cookie");
        // The nonce itself, a token of another session, or one made before the session.
        for wrong in [n.clone(), csrf_token(&n, Some("sid-b")), before] {
            assert!(!ok(&headers(&[("cookie", &cookie)]), &wrong, Some("sid-a")));
        }
        // Secure gateways read only the __Host- cookie.
        assert!(!form_matches(
            &headers(&[("cookie", &cookie)]),
            &signed_in,
            url,
            true,
            Some("sid-a")
        ));
        let host = format!("{CSRF_COOKIE_SECURE}={n}");
        assert!(form_matches(
            &headers(&[("cookie", &host)]),
            &signed_in,
            url,
            true,
            Some("sid-a")
        ));
    }

    #[test]
    fn a_new_browser_gets_a_strict_host_only_cookie() {
        let c = Csrf::of(&HeaderMap::new(), true, Some("sid"));
        let set = c.set_cookie.clone().unwrap();
        assert!(
            set.starts_with("__Host-sekimori_csrf=")
                && set.contains("SameSite=Strict")
                && set.contains("Secure")
                && set.contains("HttpOnly")
                && set.contains("Path=/")
                && !set.contains("Domain")
        );
        assert_eq!(c.token, csrf_token(&c.nonce, Some("sid")));
        assert_eq!(
            c.for_session("new").token,
            csrf_token(&c.nonce, Some("new"))
        );
    }
}
