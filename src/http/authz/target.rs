//! The request a proxy asks about, rebuilt from its headers and normalised before anything is
//! matched against it. Normalisation refuses what two parsers could read differently (encoded
//! slashes and backslashes, `..;`, fragments, double encoding, control characters, dot
//! segments above the root) instead of guessing: an ambiguous request is never allowed.

use percent_encoding::percent_decode_str;

/// A normalised target: host without port, lower case; path decoded, with `//`, `.` and `..`
/// resolved and `;params` removed; the query kept apart for the return URL only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
    pub path: String,
    pub query: Option<String>,
    pub method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the forwarded request is missing {0}")]
    Missing(&'static str),
    #[error("the forwarded host is not a host name")]
    BadHost,
    #[error("the forwarded method is not an HTTP method")]
    BadMethod,
    #[error("the forwarded scheme is not http or https")]
    BadScheme,
    #[error("the forwarded path is ambiguous: {0}")]
    Ambiguous(&'static str),
}

impl Target {
    /// The URL to come back to after login.
    pub fn url(&self) -> String {
        let mut u = format!("{}://{}", self.scheme, self.host);
        if let Some(p) = self.port {
            u.push_str(&format!(":{p}"));
        }
        u.push_str(&self.raw_path_for_url());
        if let Some(q) = &self.query {
            u.push('?');
            u.push_str(q);
        }
        u
    }

    fn raw_path_for_url(&self) -> String {
        percent_encoding::utf8_percent_encode(&self.path, PATH_SET).to_string()
    }
}

const PATH_SET: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'%');

pub fn normalise_method(m: &str) -> Result<String, TargetError> {
    let m = m.trim();
    if m.is_empty() || m.len() > 16 || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(TargetError::BadMethod);
    }
    Ok(m.to_ascii_uppercase())
}

pub fn normalise_scheme(s: &str) -> Result<String, TargetError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "http" => Ok("http".into()),
        "https" => Ok("https".into()),
        _ => Err(TargetError::BadScheme),
    }
}

/// `Host` → (host, port). IPv6 literals keep their brackets.
pub fn normalise_host(h: &str) -> Result<(String, Option<u16>), TargetError> {
    let h = h.trim().to_ascii_lowercase();
    if h.is_empty() || h.len() > 255 || h.contains('@') {
        return Err(TargetError::BadHost);
    }
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').ok_or(TargetError::BadHost)?;
        inner
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| TargetError::BadHost)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse::<u16>().map_err(|_| TargetError::BadHost)?),
            None if after.is_empty() => None,
            None => return Err(TargetError::BadHost),
        };
        (format!("[{inner}]"), port)
    } else {
        let (host, port) = match h.rsplit_once(':') {
            Some((host, p)) => (
                host,
                Some(p.parse::<u16>().map_err(|_| TargetError::BadHost)?),
            ),
            None => (h.as_str(), None),
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        let ok = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !ok {
            return Err(TargetError::BadHost);
        }
        (host.to_owned(), port)
    };
    Ok((host, port))
}

/// Split `path?query` and normalise the path.
pub fn normalise_uri(uri: &str) -> Result<(String, Option<String>), TargetError> {
    if uri.contains('#') {
        return Err(TargetError::Ambiguous("a fragment was sent"));
    }
    let (raw_path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (uri, None),
    };
    if !raw_path.starts_with('/') {
        return Err(TargetError::Ambiguous("the path does not start with /"));
    }
    if raw_path.contains('\\') {
        return Err(TargetError::Ambiguous("backslash in the path"));
    }
    let mut out: Vec<String> = Vec::new();
    for raw in raw_path.split('/').skip(1) {
        let decoded = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| TargetError::Ambiguous("percent-encoding that is not UTF-8"))?;
        if decoded.contains('/') || decoded.contains('\\') {
            return Err(TargetError::Ambiguous("an encoded slash or backslash"));
        }
        if decoded.contains('%')
            && percent_decode_str(&decoded)
                .decode_utf8()
                .is_ok_and(|d| d != decoded)
        {
            return Err(TargetError::Ambiguous("double percent-encoding"));
        }
        if decoded.chars().any(char::is_control) {
            return Err(TargetError::Ambiguous("a control character"));
        }
        let segment = decoded.split(';').next().unwrap_or_default();
        if segment != decoded && (segment == "." || segment == ".." || segment.is_empty()) {
            return Err(TargetError::Ambiguous(
                "a path parameter on a dot or empty segment",
            ));
        }
        match segment {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(TargetError::Ambiguous("`..` above the root"));
                }
            }
            s => out.push(s.to_owned()),
        }
    }
    let mut path = String::from("/");
    path.push_str(&out.join("/"));
    if raw_path.len() > 1 && raw_path.ends_with('/') && path.len() > 1 {
        path.push('/');
    }
    Ok((path, query))
}

/// `scheme://host[:port]/path?query` (nginx `X-Original-URL`).
pub fn parse_url(url: &str, method: &str) -> Result<Target, TargetError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or(TargetError::Missing("an absolute URL"))?;
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, uri) = rest.split_at(split);
    let uri = if uri.is_empty() { "/" } else { uri };
    let uri = if uri.starts_with('?') {
        format!("/{uri}")
    } else {
        uri.to_owned()
    };
    parts(scheme, authority, &uri, method)
}

pub fn parts(scheme: &str, host: &str, uri: &str, method: &str) -> Result<Target, TargetError> {
    let scheme = normalise_scheme(scheme)?;
    let (host, port) = normalise_host(host)?;
    let (path, query) = normalise_uri(uri)?;
    Ok(Target {
        scheme,
        host,
        port,
        path,
        query,
        method: normalise_method(method)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(u: &str) -> Result<String, TargetError> {
        normalise_uri(u).map(|(p, _)| p)
    }

    #[test]
    fn equivalent_spellings_normalise_to_one_path() {
        for (input, want) in [
            ("/", "/"),
            ("/admin", "/admin"),
            ("//admin", "/admin"),
            ("/./admin", "/admin"),
            ("/x/../admin", "/admin"),
            ("/%61dmin", "/admin"),
            ("/%2e/admin", "/admin"),
            ("/a/%2e%2e/admin", "/admin"),
            ("/admin;jsessionid=1", "/admin"),
            ("/admin/", "/admin/"),
            ("/カルテ", "/カルテ"),
            ("/%E3%82%AB%E3%83%AB%E3%83%86", "/カルテ"),
        ] {
            assert_eq!(path(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        for input in [
            "/admin%2fsecret",
            "/admin%2Fsecret",
            "/a\\b",
            "/a%5cb",
            "/..",
            "/../etc",
            "/a/..;/admin",
            "/.;/admin",
            "/admin#frag",
            "/%252e%252e/admin",
            "/%00",
            "/%ff",
            "admin",
        ] {
            assert!(path(input).is_err(), "{input} should be refused");
        }
    }

    #[test]
    fn hosts_are_lowercased_and_checked() {
        assert_eq!(
            normalise_host("EMR.Clinic.Example.:8443").unwrap(),
            ("emr.clinic.example".into(), Some(8443))
        );
        assert_eq!(
            normalise_host("[::1]:80").unwrap(),
            ("[::1]".into(), Some(80))
        );
        for bad in [
            "",
            "a@b",
            "a b",
            "emr..example",
            "x:99999",
            "[zz]",
            "ex_ample",
        ] {
            assert!(normalise_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn original_urls_parse_and_round_trip() {
        let t = parse_url("HTTPS://EMR.clinic.example/a//b/../c?x=1&y=%2F", "get").unwrap();
        assert_eq!(t.host, "emr.clinic.example");
        assert_eq!(t.path, "/a/c");
        assert_eq!(t.method, "GET");
        assert_eq!(t.url(), "https://emr.clinic.example/a/c?x=1&y=%2F");
        assert!(parse_url("javascript:alert(1)", "GET").is_err());
        assert!(parse_url("https://a@evil.example/", "GET").is_err());
        assert!(parse_url("https://emr.example/", "G ET").is_err());
    }
}
