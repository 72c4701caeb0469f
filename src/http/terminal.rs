//! The terminal cookie's rotation: a response that starts a session for a browser carrying a
//! registered terminal's cookie also carries that cookie's next secret. One layer covers every
//! way a session starts (the JSON login, the portal's pages, enrolment inside a login, passkeys).

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::AppState;
use crate::device::browser::set_cookie;
use crate::device::terminal::COOKIE;
use crate::http::client::cookie;

pub async fn rotate_after_sign_in(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let presented = cookie(req.headers(), COOKIE).map(str::to_owned);
    let ip = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| {
            c.0.ip()
        });
    let mut res = next.run(req).await;
    let Some(presented) = presented else {
        return res;
    };
    let session = format!("{}=", state.config.session.cookie_name);
    let signed_in = res.headers().get_all(header::SET_COOKIE).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.starts_with(&session) && !v.starts_with(&format!("{session};")))
    });
    if !signed_in {
        return res;
    }
    let rotated = match state.devices.recognise(&presented, ip).await {
        Ok(Some(name)) => state.devices.rotate_browser(&name).await,
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    match rotated {
        Ok(Some(value)) => {
            let secure = !state.config.server.danger_insecure_cookies;
            if let Ok(v) = HeaderValue::from_str(&set_cookie(value.expose(), secure)) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        Ok(None) => {}
        // The session stands; the old secret keeps working within its grace and the next
        // sign-in tries again.
        Err(e) => tracing::warn!(error = %e, "rotating a terminal cookie failed"),
    }
    res
}
