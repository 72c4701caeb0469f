//! One reading of a request target, or a refusal. The path a proxy forwards is read by more
//! than one server: nginx, the upstream application's framework, IIS on Windows, a Java
//! container. Wherever two of them could land on different paths, the target is refused with
//! a stable reason instead of guessed at; what remains is decided on the spelling a real
//! server would serve.
//!
//! The steps, in order (each refusal is a [`Refusal`] with a code for the audit log):
//! 1. the raw target is printable ASCII without spaces, at most [`MAX_TARGET_BYTES`];
//! 2. no fragment, no backslash, no `,` joining two values (`,/` or `,http`), origin-form;
//! 3. every `%` is followed by two hex digits (so `%u` escapes, which IIS decodes, are
//!    refused), and the escapes never encode a separator, a dot, a control character or a
//!    second escape (double encoding); the decoded bytes are UTF-8 (overlong forms are not);
//! 4. no doubled slash, no `;`, no `:`, no segment ending in a dot or a space, no `~digit`
//!    (Windows short names);
//! 5. characters outside ASCII are Japanese kana and kanji only, unchanged by NFKC; anything
//!    that a server could fold to ASCII (full-width forms, ligatures, `İ`, `ı`, `ſ`, the
//!    Kelvin sign, accented Latin letters, `¥` that Japanese Windows reads as `\`) is refused;
//! 6. `.` and `..` segments are resolved as every reader resolves them; `..` above the root is
//!    refused.
//!
//! The result keeps its letter case (`path`); rules that ignore case compare `folded`, the
//! ASCII lower-case form, which is the full case fold since every other character left is
//! caseless. The table in the README lists each refusal with the readers that disagree.

use unicode_normalization::UnicodeNormalization;

/// Longest raw target (path and query) accepted; longer ones get `414`.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;

/// Why a target has no single reading. `code` is stable: it is the audit record's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub code: &'static str,
    pub message: &'static str,
}

macro_rules! refusals {
    ($($name:ident = $code:literal, $message:literal;)+) => {
        impl Refusal {
            $(pub const $name: Refusal = Refusal { code: $code, message: $message };)+
            /// Every refusal, for the documentation test.
            pub const ALL: &'static [Refusal] = &[$(Refusal::$name,)+];
        }
    };
}

refusals! {
    MISSING_HEADER = "missing_header", "a header that describes the request is missing";
    REPEATED_HEADER = "repeated_header", "a header that describes the request was sent more than once";
    EMPTY_HEADER = "empty_header", "a header that describes the request is empty";
    JOINED_VALUES = "joined_values", "a header holds two comma-joined values";
    TOO_LONG = "target_too_long", "the request target is longer than 8 KiB";
    NON_ASCII_BYTE = "non_ascii_byte", "the raw target holds a byte outside printable ASCII (a control byte or one above 0x7e)";
    SPACE = "space", "the raw target holds a space";
    FRAGMENT = "fragment", "the target holds a fragment (#)";
    BACKSLASH = "backslash", "the path holds a backslash, which IIS and WHATWG URL read as /";
    NOT_ORIGIN_FORM = "not_origin_form", "the path does not start with /";
    BAD_ESCAPE = "bad_percent_escape", "a % is not followed by two hex digits (this includes IIS %u escapes)";
    ENCODED_SEPARATOR = "encoded_separator", "an escape encodes / \\ . ; : ? or #, which servers decode at different stages";
    ENCODED_CONTROL = "encoded_control", "an escape encodes a control character or NUL";
    DOUBLE_ENCODING = "double_encoding", "an escape encodes another escape (double encoding)";
    INVALID_UTF8 = "invalid_utf8", "escaped bytes are not UTF-8 (overlong forms included)";
    DOUBLE_SLASH = "double_slash", "the path holds //, which nginx merges and WHATWG URL and routers keep";
    PATH_PARAMETER = "path_parameter", "the path holds ;, which Java servers strip and nginx keeps";
    COLON = "colon", "the path holds :, which Windows reads as a file's alternate data stream";
    WINDOWS_NAME = "windows_name", "a segment ends in a dot or a space, or holds ~digit: Windows reads it as another name";
    ASCII_LOOKALIKE = "ascii_lookalike", "a character folds to ASCII under NFKC, case mapping or Windows best-fit";
    UNSUPPORTED_CHARACTER = "unsupported_character", "a character outside ASCII, kana and kanji";
    ABOVE_ROOT = "above_root", "a .. segment climbs above the root";
    BAD_HOST = "bad_host", "the host is not a host name";
    BAD_METHOD = "bad_method", "the method is not an upper-case HTTP method";
    BAD_SCHEME = "bad_scheme", "the scheme is not http or https";
    NOT_ABSOLUTE = "not_absolute_url", "X-Original-URL is not an absolute http(s) URL";
    MIXED_DESCRIPTION = "mixed_description", "a header of another description scheme (or Forwarded) names a different method, scheme, host or target, or cannot be read";
}

impl Refusal {
    /// 414 for a target over the limit, 400 for everything else.
    pub fn status(&self) -> u16 {
        if self.code == Refusal::TOO_LONG.code {
            414
        } else {
            400
        }
    }
}

/// A canonical path and the raw query beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath {
    /// Decoded, dot segments resolved, case kept.
    pub path: String,
    /// `path` in ASCII lower case: the case fold (every other character left is caseless).
    pub folded: String,
    /// The raw query, for the return URL only; nothing decides on it.
    pub query: Option<String>,
}

/// What a canonical path escapes to be spelled as a target: controls, space, the characters
/// a URL cannot hold raw, `%`, and `,` (which a joined header would read as two values).
const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'%')
    .add(b',');

/// A canonical path spelled as a request target (the return URL after login): it reads back
/// as the same path, which the property tests check for every path [`canonicalise`] gives.
pub fn encode(path: &str) -> String {
    percent_encoding::utf8_percent_encode(path, ESCAPED).to_string()
}

/// Checks on the raw bytes before anything is split or decoded.
pub fn check_raw(raw: &[u8]) -> Result<&str, Refusal> {
    if raw.len() > MAX_TARGET_BYTES {
        return Err(Refusal::TOO_LONG);
    }
    // Bytes above 0x7e (obs-text) and control bytes, CR and LF included.
    if raw.iter().any(|b| !(0x20..0x7f).contains(b)) {
        return Err(Refusal::NON_ASCII_BYTE);
    }
    let s = std::str::from_utf8(raw).map_err(|_| Refusal::NON_ASCII_BYTE)?;
    if s.contains(' ') {
        return Err(Refusal::SPACE);
    }
    if s.contains('#') {
        return Err(Refusal::FRAGMENT);
    }
    let lower = s.to_ascii_lowercase();
    if s.contains(",/") || lower.contains(",http:") || lower.contains(",https:") {
        return Err(Refusal::JOINED_VALUES);
    }
    Ok(s)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decode one raw segment. Escapes of separators, dots, controls and `%` followed by
/// something a second decoding would change are refused here.
fn decode_segment(raw: &str) -> Result<String, Refusal> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let (Some(h), Some(l)) = (
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) else {
            return Err(Refusal::BAD_ESCAPE);
        };
        let v = h * 16 + l;
        match v {
            b'/' | b'\\' | b'.' | b';' | b':' | b'?' | b'#' => {
                return Err(Refusal::ENCODED_SEPARATOR);
            }
            0x00..=0x1f | 0x7f => return Err(Refusal::ENCODED_CONTROL),
            _ => {}
        }
        out.push(v);
        i += 3;
    }
    // A `%` that a second decoding would read as an escape: judged on the decoded bytes, so
    // `%254%31` (once `%41`, twice `A`) is caught as well as `%2541`.
    for (j, _) in out.iter().enumerate().filter(|(_, b)| **b == b'%') {
        let next = out.get(j + 1).copied();
        let after = out.get(j + 2).copied();
        if matches!(next, Some(b'u' | b'U' | b'%'))
            || (next.and_then(hex).is_some() && after.and_then(hex).is_some())
        {
            return Err(Refusal::DOUBLE_ENCODING);
        }
    }
    // Rust's UTF-8 validation refuses overlong forms and surrogates.
    let s = String::from_utf8(out).map_err(|_| Refusal::INVALID_UTF8)?;
    if s.chars().any(char::is_control) {
        return Err(Refusal::ENCODED_CONTROL);
    }
    Ok(s)
}

/// Japanese kana and kanji that are their own NFKC form and have no case. Everything else
/// outside ASCII is refused: the EMRs behind the gateway serve ASCII and Japanese paths.
fn allowed_non_ascii(c: char) -> bool {
    matches!(c,
        '\u{3005}'..='\u{3007}'         // 々 〆 〇
        | '\u{3041}'..='\u{3096}'       // hiragana
        | '\u{309D}'..='\u{309E}'       // ゝ ゞ
        | '\u{30A1}'..='\u{30FA}'       // katakana
        | '\u{30FC}'..='\u{30FE}'       // ー ヽ ヾ
        | '\u{3400}'..='\u{4DBF}'       // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'       // CJK unified ideographs
    )
}

/// Characters that Windows' best-fit mapping (code pages 932 and 1252) turns into ASCII and
/// that no decomposition reveals: `¥` and `₩` become `\` in Japanese and Korean code pages.
const BEST_FIT_TO_ASCII: &[char] = &[
    '\u{00A5}', '\u{20A9}', '\u{203E}', '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}',
    '\u{2015}', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201C}', '\u{201D}', '\u{201E}', '\u{2032}',
    '\u{2033}', '\u{2039}', '\u{203A}', '\u{2044}', '\u{2215}', '\u{2216}', '\u{2223}', '\u{2236}',
    '\u{02C6}', '\u{02DC}', '\u{00B7}', '\u{00AD}', '\u{00A0}', '\u{3000}', '\u{29F5}', '\u{FE68}',
    '\u{00D7}', '\u{00F7}', '\u{00B4}', '\u{00B8}', '\u{2024}', '\u{2025}', '\u{2026}', '\u{0131}',
];

/// Would some server read this non-ASCII character as ASCII?
pub fn folds_to_ascii(c: char) -> bool {
    fn has_ascii(mut it: impl Iterator<Item = char>) -> bool {
        it.any(|x| x.is_ascii())
    }
    BEST_FIT_TO_ASCII.contains(&c)
        || has_ascii(std::iter::once(c).nfkc())
        // Accented letters: best-fit drops the accent (`é` → `e`).
        || has_ascii(
            std::iter::once(c)
                .nfkd()
                .filter(|x| !unicode_normalization::char::is_combining_mark(*x)),
        )
        || has_ascii(c.to_uppercase())
        || has_ascii(c.to_lowercase())
        || has_ascii(caseless::default_case_fold_str(c.encode_utf8(&mut [0; 4])).chars())
}

fn check_characters(segment: &str) -> Result<(), Refusal> {
    for c in segment.chars().filter(|c| !c.is_ascii()) {
        if folds_to_ascii(c) {
            return Err(Refusal::ASCII_LOOKALIKE);
        }
        let mut buf = [0; 4];
        if !allowed_non_ascii(c) || !unicode_normalization::is_nfkc(c.encode_utf8(&mut buf)) {
            return Err(Refusal::UNSUPPORTED_CHARACTER);
        }
    }
    if segment.contains(':') {
        return Err(Refusal::COLON);
    }
    let windows = segment.ends_with('.') && segment != "." && segment != ".."
        || segment.ends_with(' ')
        || segment
            .as_bytes()
            .windows(2)
            .any(|w| w[0] == b'~' && w[1].is_ascii_digit());
    if windows {
        return Err(Refusal::WINDOWS_NAME);
    }
    Ok(())
}

/// Canonicalise an origin-form target (`/path?query`).
pub fn canonicalise(raw: &[u8]) -> Result<CanonicalPath, Refusal> {
    let s = check_raw(raw)?;
    let (raw_path, query) = match s.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (s, None),
    };
    path_only(raw_path).map(|(path, folded)| CanonicalPath {
        path,
        folded,
        query,
    })
}

/// The path part alone (already checked by [`check_raw`]).
fn path_only(raw_path: &str) -> Result<(String, String), Refusal> {
    if raw_path.contains('\\') {
        return Err(Refusal::BACKSLASH);
    }
    if !raw_path.starts_with('/') {
        return Err(Refusal::NOT_ORIGIN_FORM);
    }
    if raw_path.contains(';') {
        return Err(Refusal::PATH_PARAMETER);
    }
    let segments: Vec<&str> = raw_path.split('/').skip(1).collect();
    let mut out: Vec<String> = Vec::with_capacity(segments.len());
    let last = segments.len().saturating_sub(1);
    for (i, raw) in segments.iter().enumerate() {
        // `/` alone, and a trailing slash, are the only empty segments.
        if raw.is_empty() && i != last {
            return Err(Refusal::DOUBLE_SLASH);
        }
        let decoded = decode_segment(raw)?;
        check_characters(&decoded)?;
        match decoded.as_str() {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(Refusal::ABOVE_ROOT);
                }
            }
            _ => out.push(decoded),
        }
    }
    let mut path = String::with_capacity(raw_path.len());
    path.push('/');
    path.push_str(&out.join("/"));
    // A trailing slash (or a trailing dot segment) is kept: `/admin/` is a directory.
    let dir = raw_path.ends_with('/') || matches!(segments.last(), Some(&"." | &".."));
    if dir && path.len() > 1 {
        path.push('/');
    }
    let folded = path.to_ascii_lowercase();
    Ok((path, folded))
}

/// A path pattern from the configuration (`[[access.rules]] paths`): the same reading as a
/// request, with `*` allowed as a wildcard; refused when no request could ever be read so.
pub fn canonical_pattern(pattern: &str) -> Result<String, Refusal> {
    // A `*` is no legal path character here, so stand it in by a letter, canonicalise, and
    // put it back: the wildcard survives and everything else is read as a request would be.
    const STAND_IN: &str = "zq9zq9zq";
    if pattern.contains(STAND_IN) {
        return Err(Refusal::UNSUPPORTED_CHARACTER);
    }
    let raw = pattern.replace('*', STAND_IN);
    check_raw(raw.as_bytes())?;
    if raw.contains('?') {
        return Err(Refusal::FRAGMENT);
    }
    let (path, _) = path_only(&raw)?;
    Ok(path.replace(STAND_IN, "*"))
}

/// A short token value (method, scheme, host): printable ASCII, one value.
fn token(bytes: &[u8]) -> Result<&str, Refusal> {
    if bytes.contains(&b',') {
        return Err(Refusal::JOINED_VALUES);
    }
    if bytes.iter().any(|b| !(0x21..0x7f).contains(b)) {
        return Err(Refusal::NON_ASCII_BYTE);
    }
    std::str::from_utf8(bytes).map_err(|_| Refusal::NON_ASCII_BYTE)
}

/// Methods are case-sensitive tokens: `get` is not `GET` to a server, so only upper case
/// (and `-`, `_` for WebDAV's) is read.
pub fn method(m: &[u8]) -> Result<String, Refusal> {
    let m = token(m)?;
    let ok = (1..=20).contains(&m.len())
        && m.starts_with(|c: char| c.is_ascii_uppercase())
        && m.bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_');
    if ok {
        Ok(m.to_owned())
    } else {
        Err(Refusal::BAD_METHOD)
    }
}

pub fn scheme(s: &[u8]) -> Result<String, Refusal> {
    match token(s)?.to_ascii_lowercase().as_str() {
        "http" => Ok("http".into()),
        "https" => Ok("https".into()),
        _ => Err(Refusal::BAD_SCHEME),
    }
}

/// `Host` → (host, port). IPv6 literals keep their brackets.
pub fn host(h: &[u8]) -> Result<(String, Option<u16>), Refusal> {
    let h = token(h)?.to_ascii_lowercase();
    if h.is_empty() || h.len() > 255 || h.contains('@') {
        return Err(Refusal::BAD_HOST);
    }
    let port_of = |p: &str| {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refusal::BAD_HOST);
        }
        p.parse::<u16>().map_err(|_| Refusal::BAD_HOST)
    };
    if let Some(rest) = h.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').ok_or(Refusal::BAD_HOST)?;
        inner
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| Refusal::BAD_HOST)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(port_of(p)?),
            None if after.is_empty() => None,
            None => return Err(Refusal::BAD_HOST),
        };
        return Ok((format!("[{inner}]"), port));
    }
    let (name, port) = match h.rsplit_once(':') {
        Some((name, p)) => (name, Some(port_of(p)?)),
        None => (h.as_str(), None),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok((name.to_owned(), port))
    } else {
        Err(Refusal::BAD_HOST)
    }
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    fn path(u: &str) -> Result<String, &'static str> {
        canonicalise(u.as_bytes())
            .map(|c| c.path)
            .map_err(|r| r.code)
    }

    #[test]
    fn equivalent_spellings_read_as_one_path() {
        for (input, want) in [
            ("/", "/"),
            ("/admin", "/admin"),
            ("/./admin", "/admin"),
            ("/x/../admin", "/admin"),
            ("/%61dmin", "/admin"),
            ("/admin/", "/admin/"),
            ("/admin/.", "/admin/"),
            ("/a/b/..", "/a/"),
            ("/%E3%82%AB%E3%83%AB%E3%83%86", "/カルテ"),
            ("/chart?id=1&x=%2F", "/chart"),
            ("/a%20b", "/a b"),
            ("/100%25off", "/100%off"),
        ] {
            assert_eq!(path(input), Ok(want.to_owned()), "{input}");
        }
        assert_eq!(
            canonicalise(b"/Admin/Users").unwrap().folded,
            "/admin/users"
        );
    }

    #[test]
    fn every_class_is_refused_with_its_reason() {
        for (input, code) in [
            ("/admin%2fsecret", "encoded_separator"),
            ("/admin%2Fsecret", "encoded_separator"),
            ("/%2e%2e/admin", "encoded_separator"),
            ("/%2e/admin", "encoded_separator"),
            ("/a%5cb", "encoded_separator"),
            ("/a%3bb", "encoded_separator"),
            ("/a%3fb", "encoded_separator"),
            ("/a\\b", "backslash"),
            ("/..", "above_root"),
            ("/../etc", "above_root"),
            ("/a/../../etc", "above_root"),
            ("/a/..;/admin", "path_parameter"),
            ("/admin;jsessionid=1", "path_parameter"),
            ("/admin#frag", "fragment"),
            ("/%252e%252e/admin", "double_encoding"),
            ("/%25u002e", "double_encoding"),
            ("/%2561dmin", "double_encoding"),
            // Found by the property tests: the escape after `%25` is decoded too.
            ("/%254%31dmin", "double_encoding"),
            ("/%25%34%31dmin", "double_encoding"),
            ("/%25%75002e", "double_encoding"),
            ("/%00", "encoded_control"),
            ("/%0d%0aSet-Cookie:x", "encoded_control"),
            ("/%ff", "invalid_utf8"),
            ("/%c0%ae%c0%ae/admin", "invalid_utf8"),
            ("/%c0%af", "invalid_utf8"),
            ("/%e0%80%ae", "invalid_utf8"),
            ("/%u002e%u002e/admin", "bad_percent_escape"),
            ("/%zz", "bad_percent_escape"),
            ("/%", "bad_percent_escape"),
            ("/%4", "bad_percent_escape"),
            ("admin", "not_origin_form"),
            ("//admin", "double_slash"),
            ("/a//b", "double_slash"),
            (
                "/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E",
                "ascii_lookalike",
            ),
            ("/%C4%B0", "ascii_lookalike"),
            ("/adm%C4%B1n", "ascii_lookalike"),
            ("/%E2%84%AAey", "ascii_lookalike"),
            ("/%C5%BFecret", "ascii_lookalike"),
            ("/%C3%A9", "ascii_lookalike"),
            ("/%C2%A5..%C2%A5admin", "ascii_lookalike"),
            ("/%EF%BC%8E%EF%BC%8E/admin", "ascii_lookalike"),
            ("/%EF%AC%80", "ascii_lookalike"),
            ("/%EF%BD%B6%EF%BE%99%EF%BE%83", "unsupported_character"),
            ("/%D0%B0dmin", "unsupported_character"),
            ("/%E2%80%AE", "unsupported_character"),
            ("/admin.", "windows_name"),
            ("/admin%20", "windows_name"),
            ("/ADMINI~1/x", "windows_name"),
            ("/web.config::$DATA", "colon"),
            ("/a:b", "colon"),
            ("/x,/admin", "joined_values"),
            ("/x?a=1,/admin", "joined_values"),
            ("/x, /admin", "space"),
            ("/a b", "space"),
        ] {
            assert_eq!(path(input), Err(code), "{input}");
        }
        // Raw (unescaped) bytes outside ASCII: browsers escape them, so only other clients
        // send them, and servers read them in different encodings.
        for raw in ["/ａｄｍｉｎ", "/カルテ"] {
            assert_eq!(
                canonicalise(raw.as_bytes()).map_err(|r| r.code),
                Err("non_ascii_byte")
            );
        }
        assert_eq!(
            canonicalise(b"/admin\xff").map_err(|r| r.code),
            Err("non_ascii_byte")
        );
        assert_eq!(
            canonicalise(b"/a\r\nb").map_err(|r| r.code),
            Err("non_ascii_byte")
        );
        let long = format!("/{}", "a".repeat(MAX_TARGET_BYTES));
        let r = canonicalise(long.as_bytes()).unwrap_err();
        assert_eq!((r.code, r.status()), ("target_too_long", 414));
    }

    #[test]
    fn folding_to_ascii_is_caught_for_every_known_trick() {
        for c in [
            'ａ', 'Ａ', '．', '／', '＼', 'İ', 'ı', 'ſ', '\u{212A}', 'ﬀ', 'é', 'ª', '²', '¥', '₩',
            '\u{2215}', '\u{FE68}', '\u{3000}', '\u{00A0}', '\u{309B}',
        ] {
            assert!(folds_to_ascii(c), "{c} U+{:04X}", c as u32);
        }
        for c in ['カ', 'ル', 'テ', '患', '者', 'ー', 'ゞ', '々'] {
            assert!(!folds_to_ascii(c), "{c}");
            assert!(allowed_non_ascii(c), "{c}");
        }
    }

    #[test]
    fn every_allowed_character_is_stable_and_caseless() {
        for range in [
            0x3005..=0x3007u32,
            0x3041..=0x3096,
            0x309D..=0x309E,
            0x30A1..=0x30FA,
            0x30FC..=0x30FE,
            0x3400..=0x4DBF,
            0x4E00..=0x9FFF,
        ] {
            for cp in range {
                let c = char::from_u32(cp).unwrap();
                let s = c.to_string();
                assert!(unicode_normalization::is_nfkc(&s), "U+{cp:04X}");
                assert!(!folds_to_ascii(c), "U+{cp:04X}");
                assert_eq!(c.to_lowercase().to_string(), s, "U+{cp:04X}");
                assert_eq!(c.to_uppercase().to_string(), s, "U+{cp:04X}");
            }
        }
    }

    #[test]
    fn patterns_read_like_requests() {
        assert_eq!(canonical_pattern("/admin").unwrap(), "/admin");
        assert_eq!(canonical_pattern("/api/*/admin").unwrap(), "/api/*/admin");
        assert_eq!(canonical_pattern("/a/./b/*").unwrap(), "/a/b/*");
        assert_eq!(canonical_pattern("/%61dmin").unwrap(), "/admin");
        assert!(canonical_pattern("/ａｄｍｉｎ").is_err());
        assert!(canonical_pattern("admin").is_err());
        assert!(canonical_pattern("/a;b").is_err());
        assert!(canonical_pattern("/a?b").is_err());
    }
    #[test]
    fn methods_hosts_and_schemes_have_one_spelling() {
        assert_eq!(method(b"PROPFIND").unwrap(), "PROPFIND");
        for bad in [&b"get"[..], b"G ET", b"GET\t", b"", b"1GET", b"GET;"] {
            assert!(method(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            host(b"EMR.Clinic.Example.:8443").unwrap(),
            ("emr.clinic.example".into(), Some(8443))
        );
        assert_eq!(host(b"[::1]:80").unwrap(), ("[::1]".into(), Some(80)));
        for bad in [
            &b""[..],
            b"a@b",
            b"a b",
            b"emr..example",
            b"x:99999",
            b"x:",
            b"x:+80",
            b"[zz]",
            b"ex_ample",
        ] {
            assert!(host(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(scheme(b"HTTPS").unwrap(), "https");
        assert!(scheme(b"ftp").is_err());
    }
}
