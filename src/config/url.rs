//! The two facts the configuration needs of a URL: its scheme and host, and whether the host
//! is this machine (where insecure cookies and http are allowed).

pub(super) fn is_local_host(host: &str) -> bool {
    host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.")
}

/// `scheme://host[:port][/...]` → host, without pulling in a URL crate for one field.
pub(super) fn url_host(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        format!("[{}]", v6.split(']').next()?)
    } else {
        authority.split(':').next()?.to_owned()
    };
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}
