//! Requests a browser sends on another site's behalf stop here, before any handler. A
//! state-changing request (any method but GET, HEAD and OPTIONS) is refused with
//! `403 cross_site_request` when the browser marks it `Sec-Fetch-Site: cross-site` or
//! `same-site` (a sibling host of the portal's site is another origin: the portal's own pages
//! send `same-origin`), or with a value that is not one of the four, or more than once;
//! whether or not an `Origin` came along. State-changing JSON endpoints (`/api/…`) also
//! require `Content-Type: application/json`, including those that read no body: any page can
//! send `text/plain`, form or multipart bodies without a CORS preflight, never JSON.
//! Forms additionally carry a token bound to the session (the pages' `Csrf`, in their layout).

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Why a request was refused, or `None` to let it through.
pub fn refusal(method: &Method, path: &str, headers: &HeaderMap) -> Option<ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let mut sites = headers.get_all("sec-fetch-site").iter();
    let site = sites.next().map(|v| v.as_bytes());
    let repeated = sites.next().is_some();
    let foreign = match site {
        None | Some(b"same-origin") | Some(b"none") => repeated,
        Some(_) => true,
    };
    if foreign {
        return Some(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "The browser sent this request on behalf of another site; it changes nothing here.",
        ));
    }
    if path.starts_with("/api/") && !is_json(headers) {
        return Some(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "State-changing API requests must be sent as Content-Type: application/json, with or without a body.",
        ));
    }
    None
}

/// `application/json`, with parameters or not, sent once.
fn is_json(headers: &HeaderMap) -> bool {
    let mut types = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(t), None) = (types.next(), types.next()) else {
        return false;
    };
    let Ok(t) = t.to_str() else { return false };
    let essence = t.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The middleware over the whole router.
pub async fn guard(req: Request, next: Next) -> Response {
    match refusal(req.method(), req.uri().path(), req.headers()) {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_str(v).unwrap());
        }
        m
    }

    fn code(method: Method, path: &str, pairs: &[(&'static str, &str)]) -> Option<&'static str> {
        refusal(&method, path, &h(pairs)).map(|e| e.code)
    }

    #[test]
    fn cross_and_same_site_changes_are_refused_whatever_the_origin() {
        for site in ["cross-site", "same-site", "Cross-Site", "other", ""] {
            for origin in [None, Some("https://auth.clinic.example"), Some("null")] {
                let mut pairs = vec![("sec-fetch-site", site)];
                if let Some(o) = origin {
                    pairs.push(("origin", o));
                }
                assert_eq!(
                    code(Method::POST, "/login", &pairs),
                    Some("cross_site_request"),
                    "{site} {origin:?}"
                );
                assert_eq!(code(Method::GET, "/login", &pairs), None, "reads pass");
            }
        }
        let twice = [
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-site", "cross-site"),
        ];
        assert_eq!(
            code(Method::POST, "/login", &twice),
            Some("cross_site_request")
        );
        for ok in ["same-origin", "none"] {
            assert_eq!(
                code(Method::POST, "/login", &[("sec-fetch-site", ok)]),
                None
            );
        }
        assert_eq!(
            code(Method::POST, "/login", &[]),
            None,
            "old browsers, scripts"
        );
        assert_eq!(
            code(
                Method::DELETE,
                "/api/v1/factors/1",
                &[("sec-fetch-site", "same-site")]
            ),
            Some("cross_site_request")
        );
    }

    #[test]
    fn api_changes_need_json_even_without_a_body() {
        for t in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
            Some("text/json"),
        ] {
            let pairs: Vec<_> = t.map(|t| ("content-type", t)).into_iter().collect();
            assert_eq!(
                code(Method::POST, "/api/v1/logout", &pairs),
                Some("unsupported_media_type"),
                "{t:?}"
            );
        }
        for t in ["application/json", "Application/JSON; charset=utf-8"] {
            assert_eq!(
                code(Method::POST, "/api/v1/logout", &[("content-type", t)]),
                None
            );
        }
        let twice = [
            ("content-type", "application/json"),
            ("content-type", "text/plain"),
        ];
        assert_eq!(
            code(Method::POST, "/api/v1/logout", &twice),
            Some("unsupported_media_type")
        );
        assert_eq!(code(Method::GET, "/api/v1/session", &[]), None);
        assert_eq!(
            code(Method::POST, "/login", &[("content-type", "text/plain")]),
            None
        );
    }
}
