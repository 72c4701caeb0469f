//! Property tests of the canonicaliser's promises: one reading (idempotent, and every
//! spelling of a path that is accepted reads as that path), and no spelling of a path a rule
//! denies is read as a path the rule does not cover.

use proptest::prelude::*;
use proptest::strategy::ValueTree;

use super::{canonicalise, encode};
use crate::config::Config;
use crate::config::access::{AccessRule, RuleInput};

/// Characters of path segments: plain ASCII, the characters that need escaping, the ones the
/// canonicaliser refuses (`;`, `:`, `\`, look-alikes that fold to ASCII) and Japanese.
const CHARS: &[char] = &[
    'a', 'd', 'm', 'i', 'n', 'B', 'Z', '0', '4', '1', '-', '_', '~', '.', ',', ' ', '%', '!', '$',
    '&', '\'', '(', ')', '*', '+', '=', '@', '"', '<', '{', ';', ':', '\\', '?', '#', 'ア', 'カ',
    '漢', 'ー', 'Ａ', 'ｄ', 'ſ', '¥', '\u{212A}', 'İ', 'é', '\u{3000}',
];

/// A segment: mostly ordinary text, often a dot segment or empty.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec(proptest::sample::select(CHARS), 1..6)
            .prop_map(|v| v.into_iter().collect::<String>()),
        1 => Just(".".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just(String::new()),
        1 => Just("admin".to_owned()),
        1 => Just("ADMIN".to_owned()),
        // Text that looks like an escape once decoded.
        1 => proptest::sample::select(&["%41", "%2e", "%u002e", "%%", "%4", "%2F"][..])
            .prop_map(str::to_owned),
    ]
}

/// A path as a person means it: segments between slashes, before any escaping.
fn logical() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(segment(), 1..6)
}

/// How a character is spelled: raw where a raw character means the same, otherwise (and
/// sometimes anyway) escaped, with hex digits in either case.
fn spell(segments: &[String], choices: &[u8]) -> String {
    let mut out = String::new();
    let mut k = 0usize;
    for seg in segments {
        out.push('/');
        for c in seg.chars() {
            let pick = choices.get(k % choices.len().max(1)).copied().unwrap_or(0);
            k += 1;
            let must_escape = !c.is_ascii_graphic() || matches!(c, '%' | '?' | '#');
            if !must_escape && pick % 3 != 0 {
                out.push(c);
                continue;
            }
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let hex = format!("{b:02X}");
                out.push('%');
                out.push_str(&if pick % 2 == 0 {
                    hex
                } else {
                    hex.to_ascii_lowercase()
                });
            }
        }
    }
    out
}

/// The reading every server agrees on, when one exists: dot segments resolved on the
/// segments as meant. `None` above the root.
fn resolve(segments: &[String]) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for s in segments {
        match s.as_str() {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            other => out.push(other),
        }
    }
    let mut path = format!("/{}", out.join("/"));
    let dir = matches!(segments.last().map(String::as_str), Some("" | "." | ".."));
    if dir && path.len() > 1 {
        path.push('/');
    }
    Some(path)
}

fn deny_admin() -> AccessRule {
    let toml = "[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n\
                [[access.rules]]\npaths = [\"/admin\"]\npolicy = \"deny\"\n";
    let config = Config::from_toml_str(toml).unwrap_or_else(|e| panic!("{e:?}"));
    config.access_rules[0].clone()
}

fn denied(rule: &AccessRule, path: &str) -> bool {
    let folded = path.to_ascii_lowercase();
    rule.matches(&RuleInput {
        host: "emr.clinic.example",
        path,
        folded: &folded,
        method: "GET",
        roles: &[],
        groups: &[],
        zone: "internal",
        device: "",
    })
}

fn config() -> ProptestConfig {
    crate::test_support::proptest_config(4096)
}

proptest! {
    #![proptest_config(config())]

    /// Whatever bytes come in, an accepted path spelled again reads as itself, and a second
    /// decoding does not change it.
    #[test]
    fn the_reading_is_idempotent(
        segments in logical(),
        choices in proptest::collection::vec(any::<u8>(), 1..16),
        noise in proptest::collection::vec(any::<u8>(), 0..24),
    ) {
        let mut raw = spell(&segments, &choices).into_bytes();
        // Sometimes arbitrary bytes: the canonicaliser also sees what no proxy should send.
        if choices[0] % 5 == 0 {
            raw = [b"/".as_slice(), &noise].concat();
        }
        if let Ok(p) = canonicalise(&raw) {
            let again = canonicalise(encode(&p.path).as_bytes());
            prop_assert_eq!(again.as_ref().map(|a| a.path.as_str()), Ok(p.path.as_str()),
                "{:?} read as {:?}", String::from_utf8_lossy(&raw), p.path);
            prop_assert_eq!(&p.folded, &p.path.to_ascii_lowercase());
            // A server that decodes twice (some frameworks do) reads the same path.
            let twice = percent_encoding::percent_decode_str(&p.path).decode_utf8_lossy();
            prop_assert_eq!(twice.as_ref(), p.path.as_str(), "{:?} decodes again", p.path);
        }
    }

    /// Two spellings of one path: when both are accepted they read the same, and what is
    /// read is the path as meant, dot segments resolved.
    #[test]
    fn every_accepted_spelling_reads_as_the_path_meant(
        segments in logical(),
        a in proptest::collection::vec(any::<u8>(), 1..16),
        b in proptest::collection::vec(any::<u8>(), 1..16),
    ) {
        let (sa, sb) = (spell(&segments, &a), spell(&segments, &b));
        let (ra, rb) = (canonicalise(sa.as_bytes()), canonicalise(sb.as_bytes()));
        if let (Ok(pa), Ok(pb)) = (&ra, &rb) {
            prop_assert_eq!(&pa.path, &pb.path, "{} and {}", sa, sb);
        }
        for (spelled, read) in [(&sa, &ra), (&sb, &rb)] {
            if let Ok(p) = read {
                prop_assert_eq!(Some(p.path.clone()), resolve(&segments), "{}", spelled);
            }
        }
    }

    /// A path under `/admin` (in any case), which a rule denies: no spelling of it is read
    /// as a path the rule does not match; and no spelling of another path is read as one
    /// under `/admin`.
    #[test]
    fn no_spelling_escapes_a_deny_rule(
        segments in logical(),
        choices in proptest::collection::vec(any::<u8>(), 1..16),
    ) {
        let rule = deny_admin();
        let spelled = spell(&segments, &choices);
        if let (Ok(p), Some(meant)) = (canonicalise(spelled.as_bytes()), resolve(&segments)) {
            prop_assert_eq!(denied(&rule, &p.path), denied(&rule, &meant), "{}", spelled);
        }
    }
}

#[test]
fn the_generator_reaches_both_answers() {
    // The properties are empty if every spelling were refused: check some are accepted,
    // some refused, and some accepted ones are denied by the rule.
    let rule = deny_admin();
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let (mut ok, mut refused, mut admin) = (0, 0, 0);
    for _ in 0..2000 {
        let segs = logical()
            .new_tree(&mut runner)
            .map(|t| t.current())
            .unwrap_or_default();
        match canonicalise(spell(&segs, &[1, 2, 4, 5]).as_bytes()) {
            Ok(p) => {
                ok += 1;
                admin += usize::from(denied(&rule, &p.path));
            }
            Err(_) => refused += 1,
        }
    }
    assert!(
        ok > 200 && refused > 200 && admin > 20,
        "{ok} {refused} {admin}"
    );
}
