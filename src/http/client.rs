//! Who is on the other end: the client address (believing `X-Forwarded-For` only from
//! configured proxies), its lockout zone, its user agent and its session cookie.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};

use super::error::ApiError;
use crate::app::AppState;
use crate::auth::{Channel, Origin};
use crate::config::NetworkConfig;
use crate::lockout::Zone;

/// `X-Forwarded-For` from a trusted proxy held something that is not an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedForwardedFor;

/// The client address. From a trusted proxy, the right-most `X-Forwarded-For` entry that is
/// not itself a trusted proxy; otherwise the socket peer. A malformed list from a trusted
/// proxy is refused rather than guessed at.
pub fn client_ip(
    peer: IpAddr,
    forwarded_for: Option<&str>,
    net: &NetworkConfig,
) -> Result<IpAddr, MalformedForwardedFor> {
    if !net.is_trusted_proxy(peer) {
        return Ok(peer);
    }
    let Some(list) = forwarded_for else {
        return Ok(peer);
    };
    let mut last = peer;
    for item in list.rsplit(',') {
        let ip: IpAddr = item.trim().parse().map_err(|_| MalformedForwardedFor)?;
        if !net.is_trusted_proxy(ip) {
            return Ok(ip);
        }
        last = ip;
    }
    Ok(last)
}

pub fn zone_of(ip: IpAddr, net: &NetworkConfig) -> Zone {
    if net.is_clinic(ip) {
        Zone::Trusted
    } else {
        Zone::External
    }
}

/// The request's origin plus whether the direct peer is a trusted proxy.
#[derive(Debug, Clone)]
pub struct Client {
    pub origin: Origin,
    pub peer: IpAddr,
    pub via_trusted_proxy: bool,
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Without socket information (a test calling the router directly) nothing is trusted.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        let net = &state.config.network;
        // Repeated X-Forwarded-For lines are one list in order (RFC 9110 5.3): reading only
        // the first line would take a client's own entry for the proxy's.
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .collect();
        let joined = (!forwarded.is_empty()).then(|| forwarded.join(","));
        let ip = client_ip(peer, joined.as_deref(), net).map_err(|MalformedForwardedFor| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_forwarded_header",
                "X-Forwarded-For from the proxy is not a list of addresses.",
            )
        })?;
        let user_agent: String = header_str(&parts.headers, header::USER_AGENT.as_str())
            .unwrap_or_default()
            .chars()
            .take(256)
            .collect();
        // A registered terminal's browser: its device and the trusted zone. A register that
        // cannot be read leaves the request unrecognised (the less trusted answer).
        let device = match cookie(&parts.headers, crate::device::terminal::COOKIE) {
            Some(c) => state.devices.recognise(c, ip).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "recognising a terminal cookie failed");
                None
            }),
            None => None,
        };
        let zone = if device.is_some() {
            crate::lockout::Zone::Trusted
        } else {
            zone_of(ip, net)
        };
        Ok(Client {
            origin: Origin {
                ip,
                zone,
                user_agent,
                device,
                channel: Channel::Web,
            },
            peer,
            via_trusted_proxy: net.is_trusted_proxy(peer),
        })
    }
}

/// The value of one cookie, if sent exactly once (two copies are ambiguous: none).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(s) = value.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                if found.is_some() {
                    return None;
                }
                found = Some(v.trim_matches('"'));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> NetworkConfig {
        NetworkConfig {
            trusted_proxies: vec!["10.0.0.1/32".parse().unwrap()],
            clinic_networks: vec!["192.168.10.0/24".parse().unwrap()],
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let n = net();
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(stranger, Some("192.168.10.5"), &n), Ok(stranger));
        assert_eq!(
            client_ip(proxy, Some("1.2.3.4, 192.168.10.5"), &n),
            Ok("192.168.10.5".parse().unwrap()),
            "the right-most untrusted entry, not a spoofable left one"
        );
        assert_eq!(client_ip(proxy, Some("10.0.0.1"), &n), Ok(proxy));
        assert_eq!(client_ip(proxy, None, &n), Ok(proxy));
        assert!(client_ip(proxy, Some("garbage"), &n).is_err());
        assert_eq!(zone_of("192.168.10.5".parse().unwrap(), &n), Zone::Trusted);
        assert_eq!(zone_of(stranger, &n), Zone::External);
    }

    #[test]
    fn duplicate_cookies_are_ambiguous() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; s=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, "s"), Some("abc"));
        h.append(header::COOKIE, "s=def".parse().unwrap());
        assert_eq!(cookie(&h, "s"), None);
        assert_eq!(cookie(&HeaderMap::new(), "s"), None);
    }
}
