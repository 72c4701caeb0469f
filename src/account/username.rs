//! Usernames: what a person types, and the normalised form that decides uniqueness.
//!
//! Normalisation is NFKC, then Unicode case folding, then NFKC again (the Unicode
//! `NFKC_Casefold` recipe). It makes full-width `ＹＡＭＡＤＡ` and `yamada` one name, and folds
//! half-width katakana (`ﾔﾏﾀﾞ`) into full-width (`ヤマダ`).

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Longest normalised username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Raw input beyond this many bytes is refused before any normalisation work.
const MAX_RAW_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("username is empty")]
    Empty,
    #[error("username is longer than {max} characters")]
    TooLong { max: usize },
    #[error("username contains a control character (such as NUL)")]
    ControlCharacter,
    #[error("username contains white space")]
    Whitespace,
    #[error("username contains a character that is not allowed: {0:?}")]
    Forbidden(char),
}

impl UsernameError {
    pub fn code(&self) -> &'static str {
        match self {
            UsernameError::Empty => "username_empty",
            UsernameError::TooLong { .. } => "username_too_long",
            UsernameError::ControlCharacter => "username_control_character",
            UsernameError::Whitespace => "username_whitespace",
            UsernameError::Forbidden(_) => "username_forbidden_character",
        }
    }
}

/// A normalised username: the key for uniqueness, lockout counters and look-ups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Normalise and validate what a person typed.
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        if raw.len() > MAX_RAW_BYTES {
            return Err(UsernameError::TooLong {
                max: MAX_USERNAME_CHARS,
            });
        }
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(UsernameError::Empty);
        }
        let folded = normalise(trimmed);
        for c in folded.chars() {
            if c.is_control() {
                return Err(UsernameError::ControlCharacter);
            }
            if c.is_whitespace() {
                return Err(UsernameError::Whitespace);
            }
            // Format characters (zero-width joiners, bidi overrides) let two names look the same.
            if is_invisible(c) || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
            {
                return Err(UsernameError::Forbidden(c));
            }
        }
        if folded.chars().count() > MAX_USERNAME_CHARS {
            return Err(UsernameError::TooLong {
                max: MAX_USERNAME_CHARS,
            });
        }
        Ok(Self(folded))
    }

    /// Rebuild from a value the store wrote (already normalised).
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// NFKC_Casefold: also used for matching passwords against user attributes.
pub fn normalise(s: &str) -> String {
    let nfkc: String = s.nfkc().collect();
    let folded = caseless::default_case_fold_str(&nfkc);
    folded.nfkc().collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_case_fold_to_one_name() {
        let table = [
            ("ＹＡＭＡＤＡ", "yamada"),
            ("Yamada", "yamada"),
            ("  yamada  ", "yamada"),
            ("ﾔﾏﾀﾞ", "ヤマダ"),
            ("ヤマダ", "ヤマダ"),
            ("山田", "山田"),
            ("STRASSE", "strasse"),
            ("Straße", "strasse"),
            ("ｄｒ．ｓａｔｏ", "dr.sato"),
            ("①", "1"),
        ];
        for (raw, want) in table {
            assert_eq!(
                Username::parse(raw).unwrap().as_str(),
                want,
                "input {raw:?}"
            );
        }
    }

    #[test]
    fn bad_names_get_precise_errors() {
        let long = "a".repeat(10_000);
        let table: [(&str, UsernameError); 7] = [
            ("", UsernameError::Empty),
            ("   ", UsernameError::Empty),
            (
                &long,
                UsernameError::TooLong {
                    max: MAX_USERNAME_CHARS,
                },
            ),
            ("ya\u{0}mada", UsernameError::ControlCharacter),
            ("yama da", UsernameError::Whitespace),
            ("yama\u{200B}da", UsernameError::Forbidden('\u{200B}')),
            ("a/b", UsernameError::Forbidden('/')),
        ];
        for (raw, want) in table {
            assert_eq!(Username::parse(raw).unwrap_err(), want, "input {raw:?}");
        }
        assert!(Username::parse(&"あ".repeat(64)).is_ok());
        assert_eq!(
            Username::parse(&"あ".repeat(65)).unwrap_err(),
            UsernameError::TooLong {
                max: MAX_USERNAME_CHARS
            }
        );
    }

    #[test]
    fn ideographic_space_is_white_space() {
        assert_eq!(
            Username::parse("山田\u{3000}太郎").unwrap_err(),
            UsernameError::Whitespace
        );
    }
}
