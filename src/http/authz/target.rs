//! The request a proxy asks about, rebuilt from its headers into exactly one canonical
//! [`Target`] or refused. Nothing is filled in by default and nothing downstream looks at the
//! raw headers again: every header that describes the request must be sent once, non-empty,
//! and hold one value (a comma-joined pair is two values), and the path is read by
//! [`canon`](crate::canon) the way real servers read it.

use axum::http::HeaderMap;

use crate::canon::{self, Refusal, host, method, scheme};

/// A canonical target: scheme and host in lower case, the host without its port; the path
/// decoded with dot segments resolved (and its case fold); the query kept apart for the
/// return URL only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
    pub path: String,
    /// `path` case-folded: what case-insensitive rules compare.
    pub folded: String,
    pub query: Option<String>,
    pub method: String,
}

/// A refusal and the header it concerns, for the answer and the audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", .refusal.message, .header.map(|h| format!(" ({h})")).unwrap_or_default())]
pub struct Refused {
    pub refusal: Refusal,
    pub header: Option<&'static str>,
}

impl Refused {
    fn at(header: &'static str) -> impl Fn(Refusal) -> Refused {
        move |refusal| Refused {
            refusal,
            header: Some(header),
        }
    }
}

/// Which description a proxy sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// nginx `auth_request`: `X-Original-URL` and `X-Original-Method`.
    AuthRequest,
    /// Traefik and Caddy: `X-Forwarded-Method`, `-Proto`, `-Host` and `-Uri`.
    ForwardAuth,
}

impl Target {
    /// The URL to come back to after login.
    pub fn url(&self) -> String {
        let mut u = format!("{}://{}", self.scheme, self.host);
        if let Some(p) = self.port {
            u.push_str(&format!(":{p}"));
        }
        u.push_str(&crate::canon::encode(&self.path));
        if let Some(q) = &self.query {
            u.push('?');
            u.push_str(q);
        }
        u
    }
}

/// The one value of a header: sent exactly once and not empty.
fn one<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a [u8], Refused> {
    let mut values = headers.get_all(name).iter();
    let at = Refused::at(name);
    let value = values.next().ok_or(at(Refusal::MISSING_HEADER))?;
    if values.next().is_some() {
        return Err(at(Refusal::REPEATED_HEADER));
    }
    let bytes = value.as_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(at(Refusal::EMPTY_HEADER));
    }
    Ok(bytes)
}

fn assemble(
    scheme: String,
    (host, port): (String, Option<u16>),
    path: canon::CanonicalPath,
    method: String,
) -> Target {
    Target {
        scheme,
        host,
        port,
        path: path.path,
        folded: path.folded,
        query: path.query,
        method,
    }
}

/// `scheme://host[:port]/path?query` (nginx `X-Original-URL`, and return URLs).
pub fn parse_url(url: &[u8], method_bytes: &[u8]) -> Result<Target, Refusal> {
    let text = canon::check_raw(url)?;
    let (scheme_text, rest) = text.split_once("://").ok_or(Refusal::NOT_ABSOLUTE)?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(split);
    let target = match target.chars().next() {
        None => "/".to_owned(),
        Some('?') => format!("/{target}"),
        Some(_) => target.to_owned(),
    };
    Ok(assemble(
        scheme(scheme_text.as_bytes()).map_err(|_| Refusal::NOT_ABSOLUTE)?,
        host(authority.as_bytes())?,
        canon::canonicalise(target.as_bytes())?,
        method(method_bytes)?,
    ))
}

/// Read the target a proxy describes, or refuse it.
pub fn from_headers(mode: Mode, h: &HeaderMap) -> Result<Target, Refused> {
    let target = own_scheme(mode, h)?;
    others_agree(mode, h, &target)?;
    Ok(target)
}

/// Every header that some scheme reads as the request's description: the Traefik/Caddy
/// four, nginx's two, and those that either may meet (`X-Original-URI` and `X-Rewrite-URL`
/// are read as the target by PHP and .NET frameworks behind nginx and IIS). Beside an
/// endpoint's own, each other one present must name exactly what the own scheme named, since
/// an upstream (or a framework in it) may read it instead.
pub const DESCRIBING: &[&str] = &[
    "x-forwarded-method",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-uri",
    "x-original-url",
    "x-original-method",
    "x-original-uri",
    "x-rewrite-url",
    "forwarded",
];

/// The describing headers `mode` reads.
pub fn own(mode: Mode) -> &'static [&'static str] {
    match mode {
        Mode::AuthRequest => &DESCRIBING[4..6],
        Mode::ForwardAuth => &DESCRIBING[..4],
    }
}

/// The describing headers that are not `mode`'s own.
fn foreign(mode: Mode) -> impl Iterator<Item = &'static &'static str> {
    let other = match mode {
        Mode::AuthRequest => own(Mode::ForwardAuth),
        Mode::ForwardAuth => own(Mode::AuthRequest),
    };
    other.iter().chain(&DESCRIBING[6..])
}

/// Every describing header of the other scheme (and `Forwarded`) names the same method,
/// scheme, host and target as `t`, or the request is refused: an upstream that reads the
/// other header must not be served a target other than the one decided.
fn others_agree(mode: Mode, h: &HeaderMap, t: &Target) -> Result<(), Refused> {
    for &name in foreign(mode) {
        if !h.contains_key(name) {
            continue;
        }
        let mixed = Refused {
            refusal: Refusal::MIXED_DESCRIPTION,
            header: Some(name),
        };
        let value = one(h, name).map_err(|_| mixed)?;
        if !names_the_same(name, value, t) {
            return Err(mixed);
        }
    }
    Ok(())
}

/// Does one foreign header, read as its own readers read it, name `t`?
fn names_the_same(name: &str, value: &[u8], t: &Target) -> bool {
    let same_target =
        |raw: &[u8]| canon::canonicalise(raw).is_ok_and(|p| p.path == t.path && p.query == t.query);
    match name {
        "x-forwarded-method" | "x-original-method" => method(value).is_ok_and(|m| m == t.method),
        "x-forwarded-proto" => scheme(value).is_ok_and(|s| s == t.scheme),
        "x-forwarded-host" => host(value).is_ok_and(|hp| same_host(hp, t)),
        "x-forwarded-uri" | "x-original-uri" | "x-rewrite-url" => same_target(value),
        "x-original-url" => parse_url(value, t.method.as_bytes()).is_ok_and(|o| {
            o.scheme == t.scheme
                && same_host((o.host.clone(), o.port), t)
                && o.path == t.path
                && o.query == t.query
        }),
        "forwarded" => forwarded_agrees(value, t),
        _ => false,
    }
}

/// The same host name; ports differ only when both name one (a proxy that sends the host
/// without its port still names the same system).
fn same_host((name, port): (String, Option<u16>), t: &Target) -> bool {
    name == t.host && !matches!((port, t.port), (Some(a), Some(b)) if a != b)
}

/// RFC 7239 `Forwarded`: every `host=` and `proto=` in every element names `t`'s; a quoted
/// value holding a separator, an escape, or a pair that does not parse is no agreement.
fn forwarded_agrees(value: &[u8], t: &Target) -> bool {
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    text.split(',')
        .flat_map(|element| element.split(';'))
        .all(|pair| {
            let pair = pair.trim();
            if pair.is_empty() {
                return true;
            }
            let Some((key, raw)) = pair.split_once('=') else {
                return false;
            };
            let v = match raw.strip_prefix('"') {
                Some(quoted) => match quoted.strip_suffix('"') {
                    Some(inner) if !inner.contains(['"', '\\']) => inner,
                    _ => return false,
                },
                None => raw,
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "host" => host(v.as_bytes()).is_ok_and(|hp| same_host(hp, t)),
                "proto" => scheme(v.as_bytes()).is_ok_and(|s| s == t.scheme),
                "for" | "by" => true,
                _ => false,
            }
        })
}

fn own_scheme(mode: Mode, h: &HeaderMap) -> Result<Target, Refused> {
    match mode {
        Mode::AuthRequest => {
            let url = one(h, "x-original-url")?;
            let m = one(h, "x-original-method")?;
            let m = method(m).map_err(Refused::at("x-original-method"))?;
            parse_url(url, m.as_bytes()).map_err(Refused::at("x-original-url"))
        }
        Mode::ForwardAuth => {
            let m = one(h, "x-forwarded-method")?;
            let p = one(h, "x-forwarded-proto")?;
            let hst = one(h, "x-forwarded-host")?;
            let u = one(h, "x-forwarded-uri")?;
            Ok(assemble(
                scheme(p).map_err(Refused::at("x-forwarded-proto"))?,
                host(hst).map_err(Refused::at("x-forwarded-host"))?,
                canon::canonicalise(u).map_err(Refused::at("x-forwarded-uri"))?,
                method(m).map_err(Refused::at("x-forwarded-method"))?,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    const FULL: [(&str, &[u8]); 4] = [
        ("x-forwarded-method", b"GET"),
        ("x-forwarded-proto", b"https"),
        ("x-forwarded-host", b"emr.clinic.example"),
        ("x-forwarded-uri", b"/chart"),
    ];

    fn code(r: Result<Target, Refused>) -> (&'static str, Option<&'static str>) {
        let e = r.unwrap_err();
        (e.refusal.code, e.header)
    }

    #[test]
    fn nothing_is_filled_in_and_nothing_is_read_twice() {
        assert!(from_headers(Mode::ForwardAuth, &headers(&FULL)).is_ok());
        for missing in 0..4 {
            let mut pairs = FULL.to_vec();
            let (name, _) = pairs.remove(missing);
            assert_eq!(
                code(from_headers(Mode::ForwardAuth, &headers(&pairs))),
                ("missing_header", Some(name))
            );
            let mut twice = FULL.to_vec();
            twice.push(FULL[missing]);
            assert_eq!(
                code(from_headers(Mode::ForwardAuth, &headers(&twice))),
                ("repeated_header", Some(name))
            );
            let mut empty = FULL.to_vec();
            empty[missing].1 = b"";
            assert_eq!(
                code(from_headers(Mode::ForwardAuth, &headers(&empty))),
                ("empty_header", Some(name))
            );
        }
        for (i, joined) in [
            (0, &b"GET, POST"[..]),
            (1, b"https,http"),
            (2, b"emr.clinic.example, portal.clinic.example"),
            (3, b"/public,/admin"),
        ] {
            let mut pairs = FULL.to_vec();
            pairs[i].1 = joined;
            assert_eq!(
                code(from_headers(Mode::ForwardAuth, &headers(&pairs))).0,
                "joined_values",
                "{}",
                String::from_utf8_lossy(joined)
            );
        }
        let mut pairs = FULL.to_vec();
        pairs[3].1 = b"/admin\xff";
        assert_eq!(
            code(from_headers(Mode::ForwardAuth, &headers(&pairs))),
            ("non_ascii_byte", Some("x-forwarded-uri"))
        );
    }

    #[test]
    fn auth_request_needs_its_url_and_method_once() {
        let ok = [
            ("x-original-url", &b"https://emr.clinic.example/a"[..]),
            ("x-original-method", b"POST"),
        ];
        let t = from_headers(Mode::AuthRequest, &headers(&ok)).unwrap();
        assert_eq!((t.method.as_str(), t.path.as_str()), ("POST", "/a"));
        assert_eq!(
            code(from_headers(Mode::AuthRequest, &headers(&ok[..1]))),
            ("missing_header", Some("x-original-method"))
        );
        let twice = [
            ok[0],
            ok[1],
            ("x-original-url", b"https://emr.clinic.example/b"),
        ];
        assert_eq!(
            code(from_headers(Mode::AuthRequest, &headers(&twice))),
            ("repeated_header", Some("x-original-url"))
        );
        let joined = [
            (
                "x-original-url",
                &b"https://emr.clinic.example/a,https://emr.clinic.example/admin"[..],
            ),
            ok[1],
        ];
        assert_eq!(
            code(from_headers(Mode::AuthRequest, &headers(&joined))).0,
            "joined_values"
        );
    }

    #[test]
    fn original_urls_parse_and_round_trip() {
        let t = parse_url(b"HTTPS://EMR.clinic.example/a/b/../c?x=1&y=%2F", b"GET").unwrap();
        assert_eq!(t.host, "emr.clinic.example");
        assert_eq!(t.path, "/a/c");
        assert_eq!(t.url(), "https://emr.clinic.example/a/c?x=1&y=%2F");
        assert_eq!(
            parse_url(b"https://emr.clinic.example?x=1", b"GET")
                .unwrap()
                .url(),
            "https://emr.clinic.example/?x=1"
        );
        assert!(parse_url(b"javascript:alert(1)", b"GET").is_err());
        assert!(parse_url(b"https://a@evil.example/", b"GET").is_err());
        assert!(parse_url(b"https://emr.example/", b"G ET").is_err());
    }
}
