//! The password rules of guideline 7.0, as a pure function of the candidate, the policy and
//! the account's context. No hashing, no storage: reuse checks live in `password::service`.
//!
//! Order of checks: input sanity (empty, control characters, maximum length), then length
//! by second-factor state, composition profile, personal information, blocklist, breach
//! filter, and zxcvbn strength. Every failing rule is reported, not only the first, so a
//! person sees everything to fix at once.

use unicode_normalization::UnicodeNormalization;

use super::blocklist::Blocklist;
use super::breach::BreachFilter;
use super::reason::RejectReason;
use crate::account::username::normalise;

/// Raw input beyond this many bytes is refused before normalisation or zxcvbn run
/// (128 characters of 4-byte UTF-8 plus NFKC expansion headroom).
const MAX_RAW_BYTES: usize = 4096;
/// zxcvbn's matchers are super-linear; beyond this many characters a password's length alone
/// puts it far above any score threshold, so only this prefix is scored.
const ZXCVBN_MAX_CHARS: usize = 64;
/// User inputs shorter than this are too common to refuse on (`li`, `ito`).
const MIN_PERSONAL_INPUT_CHARS: usize = 4;

/// Composition profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Composition {
    /// Guideline 7.0 wording: letters and digits mixed (case not required).
    Mhlw,
    /// NIST SP 800-63B: no composition rules.
    Nist,
}

/// The configured rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub composition: Composition,
    pub min_length_with_second_factor: usize,
    pub min_length_without_second_factor: usize,
    pub max_length: usize,
    pub min_score: u8,
    pub history_depth: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            composition: Composition::Mhlw,
            min_length_with_second_factor: 8,
            min_length_without_second_factor: 15,
            max_length: 128,
            min_score: 3,
            history_depth: 5,
        }
    }
}

/// Who the password is for.
#[derive(Debug, Clone, Default)]
pub struct RuleContext {
    /// A second factor is enforced for the account (decides the minimum length).
    pub second_factor_enforced: bool,
    /// Username, names, kana, email, facility name.
    pub personal_inputs: Vec<String>,
}

/// The verdict of the pure rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub reasons: Vec<RejectReason>,
    /// zxcvbn score 0-4, when it was computed.
    pub score: Option<u8>,
    /// The NFKC form that will be hashed.
    pub normalised_len: usize,
}

impl Assessment {
    pub fn is_acceptable(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// NFKC is applied before hashing so that a password typed on a full-width IME and the same
/// password typed half-width are the same password.
pub fn normalise_password(raw: &str) -> String {
    raw.nfkc().collect()
}

/// Apply every rule.
pub fn assess(
    raw: &str,
    policy: &PasswordPolicy,
    ctx: &RuleContext,
    blocklist: &Blocklist,
    breach: Option<&BreachFilter>,
) -> Assessment {
    let mut reasons = Vec::new();
    if raw.is_empty() {
        return Assessment {
            reasons: vec![RejectReason::Empty],
            score: None,
            normalised_len: 0,
        };
    }
    if raw.len() > MAX_RAW_BYTES {
        return Assessment {
            reasons: vec![RejectReason::TooLong {
                max: policy.max_length,
            }],
            score: None,
            normalised_len: raw.chars().count(),
        };
    }
    let pw = normalise_password(raw);
    let len = pw.chars().count();
    if pw.chars().any(char::is_control) {
        reasons.push(RejectReason::ControlCharacter);
    }
    if len > policy.max_length {
        reasons.push(RejectReason::TooLong {
            max: policy.max_length,
        });
        return Assessment {
            reasons,
            score: None,
            normalised_len: len,
        };
    }
    let min = if ctx.second_factor_enforced {
        policy.min_length_with_second_factor
    } else {
        policy.min_length_without_second_factor
    };
    if len < min {
        reasons.push(RejectReason::TooShort { min, actual: len });
    }
    if policy.composition == Composition::Mhlw {
        if !pw.chars().any(char::is_alphabetic) {
            reasons.push(RejectReason::MissingLetter);
        }
        if !pw.chars().any(|c| c.is_ascii_digit()) {
            reasons.push(RejectReason::MissingDigit);
        }
    }
    let folded = normalise(&pw);
    let inputs: Vec<String> = ctx
        .personal_inputs
        .iter()
        .flat_map(|s| {
            let n = normalise(s);
            // A name like "山田 太郎" is checked whole and by its parts.
            let mut parts: Vec<String> = n.split(char::is_whitespace).map(str::to_owned).collect();
            parts.push(n.chars().filter(|c| !c.is_whitespace()).collect());
            parts
        })
        .filter(|s| s.chars().count() >= MIN_PERSONAL_INPUT_CHARS)
        .collect();
    if inputs.iter().any(|i| folded.contains(i.as_str())) {
        reasons.push(RejectReason::ContainsPersonalInfo);
    }
    if blocklist.contains(&pw) {
        reasons.push(RejectReason::Blocklisted);
    }
    if breach.is_some_and(|b| b.contains_password(raw) || b.contains_password(&pw)) {
        reasons.push(RejectReason::Breached);
    }
    let scored: String = pw.chars().take(ZXCVBN_MAX_CHARS).collect();
    let input_refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let score = zxcvbn::zxcvbn(&scored, &input_refs).score() as u8;
    if score < policy.min_score {
        reasons.push(RejectReason::TooGuessable {
            score,
            min_score: policy.min_score,
        });
    }
    Assessment {
        reasons,
        score: Some(score),
        normalised_len: len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(a: &Assessment) -> Vec<&'static str> {
        a.reasons.iter().map(RejectReason::code).collect()
    }

    fn run(pw: &str, policy: &PasswordPolicy, mfa: bool) -> Assessment {
        let ctx = RuleContext {
            second_factor_enforced: mfa,
            personal_inputs: vec![],
        };
        assess(pw, policy, &ctx, &Blocklist::bundled(), None)
    }

    #[test]
    fn length_boundaries_by_second_factor() {
        let nist = PasswordPolicy {
            composition: Composition::Nist,
            min_score: 0,
            ..Default::default()
        };
        // Random-looking strings so only length decides.
        let s7 = "q7#Vr9k";
        let s8 = "q7#Vr9kZ";
        let s14 = "q7#Vr9kZ2m$Lp4";
        let s15 = "q7#Vr9kZ2m$Lp4x";
        let table = [
            (s7, true, false),
            (s8, true, true),
            (s14, false, false),
            (s15, false, true),
            (s8, false, false),
        ];
        for (pw, mfa, ok) in table {
            let a = run(pw, &nist, mfa);
            assert_eq!(a.is_acceptable(), ok, "{pw} mfa={mfa}: {:?}", a.reasons);
            if !ok {
                assert!(matches!(a.reasons[0], RejectReason::TooShort { .. }));
            }
        }
        assert_eq!(
            run(s7, &nist, true).reasons,
            vec![RejectReason::TooShort { min: 8, actual: 7 }]
        );
        assert_eq!(
            run(s14, &nist, false).reasons,
            vec![RejectReason::TooShort {
                min: 15,
                actual: 14
            }]
        );
    }

    #[test]
    fn maximum_length_is_128_after_nfkc_and_never_truncated() {
        let policy = PasswordPolicy {
            composition: Composition::Nist,
            min_score: 0,
            ..Default::default()
        };
        let base = "Zq8#tW1!mK3$vB6%";
        let p128: String = base.repeat(8);
        let p129 = format!("{p128}x");
        assert_eq!(p128.chars().count(), 128);
        assert!(run(&p128, &policy, false).is_acceptable());
        assert_eq!(
            run(&p129, &policy, false).reasons,
            vec![RejectReason::TooLong { max: 128 }]
        );
        // Full-width characters count after NFKC: 128 full-width letters are 128 characters.
        let fw: String = "ｚｑ８＃ｔｗ１！".repeat(16);
        assert_eq!(run(&fw, &policy, false).normalised_len, 128);
        // Huge input is refused before any normalisation work.
        assert_eq!(
            run(&"a".repeat(100_000), &policy, false).reasons,
            vec![RejectReason::TooLong { max: 128 }]
        );
    }

    #[test]
    fn composition_profiles() {
        let mhlw = PasswordPolicy {
            min_score: 0,
            ..Default::default()
        };
        let nist = PasswordPolicy {
            composition: Composition::Nist,
            min_score: 0,
            ..Default::default()
        };
        let letters_only = "tsukimidango-veranda";
        let digits_only = "9384710293847561";
        assert_eq!(
            codes(&run(letters_only, &mhlw, false)),
            vec!["missing_digit"]
        );
        assert_eq!(
            codes(&run(digits_only, &mhlw, false)),
            vec!["missing_letter"]
        );
        assert!(run(letters_only, &nist, false).is_acceptable());
        assert!(run(digits_only, &nist, false).is_acceptable());
        // Japanese letters count as letters; case is not required.
        assert!(run("つきみだんごをたべる7回目のよる", &mhlw, false).is_acceptable());
        assert!(run("full-width digits ７ count", &mhlw, false).is_acceptable());
    }

    #[test]
    fn guessable_blocklisted_and_personal_passwords() {
        let policy = PasswordPolicy::default();
        let a = run("password1234567", &policy, false);
        assert!(codes(&a).contains(&"too_guessable"), "{:?}", a.reasons);
        assert!(codes(&run("Password2026!", &policy, true)).contains(&"blocklisted"));
        let ctx = RuleContext {
            second_factor_enforced: true,
            personal_inputs: vec![
                "yamada".into(),
                "山田 太郎".into(),
                "ヤマダ タロウ".into(),
                "Sakura Clinic".into(),
            ],
        };
        let bl = Blocklist::bundled();
        for pw in [
            "yamada-2026-xyz",
            "YAMADA9-kq#Lm",
            "ｙａｍａｄａ7-zzq#Lm",
            "山田太郎7gq#Lm",
            "sakuraclinic9#Q",
        ] {
            let a = assess(pw, &policy, &ctx, &bl, None);
            assert!(
                codes(&a).contains(&"contains_personal_info"),
                "{pw}: {:?}",
                a.reasons
            );
        }
        let good = assess("ocean-walnut-7-lantern", &policy, &ctx, &bl, None);
        assert!(good.is_acceptable(), "{:?}", good.reasons);
        assert!(good.score.unwrap() >= 3);
    }

    #[test]
    fn control_characters_and_empty() {
        let policy = PasswordPolicy {
            composition: Composition::Nist,
            min_score: 0,
            ..Default::default()
        };
        assert_eq!(codes(&run("", &policy, true)), vec!["empty"]);
        assert!(codes(&run("abc\u{0}defghijk", &policy, true)).contains(&"control_character"));
    }

    #[test]
    fn breach_filter_is_consulted() {
        let (f, _) = super::super::breach::BreachFilter::build(
            "ocean-walnut-7-lantern\n".as_bytes(),
            super::super::breach::ListFormat::Plain,
            0,
            |_| {},
        )
        .unwrap();
        let ctx = RuleContext {
            second_factor_enforced: true,
            personal_inputs: vec![],
        };
        let a = assess(
            "ocean-walnut-7-lantern",
            &PasswordPolicy::default(),
            &ctx,
            &Blocklist::bundled(),
            Some(&f),
        );
        assert_eq!(codes(&a), vec!["breached"]);
    }

    #[test]
    fn every_failing_rule_is_reported() {
        let a = run("aaaa", &PasswordPolicy::default(), false);
        let c = codes(&a);
        for want in ["too_short", "missing_digit", "too_guessable"] {
            assert!(c.contains(&want), "{want} missing from {c:?}");
        }
    }
}
