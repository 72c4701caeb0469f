//! The blocklist of common passwords: a bundled list plus an optional deployment file
//! (vendor defaults, the facility's own words). Compared after NFKC and case folding.

use std::collections::HashSet;
use std::path::Path;

use crate::account::username::normalise;

const BUNDLED: &str = include_str!("data/common-passwords.txt");

#[derive(Debug, Clone)]
pub struct Blocklist {
    words: HashSet<String>,
}

impl Blocklist {
    /// The bundled list only.
    pub fn bundled() -> Self {
        let mut b = Self {
            words: HashSet::with_capacity(12_000),
        };
        b.extend_from_text(BUNDLED);
        b
    }

    /// The bundled list plus a deployment file.
    pub fn with_file(path: &Path) -> std::io::Result<Self> {
        let mut b = Self::bundled();
        let text = std::fs::read_to_string(path)?;
        b.extend_from_text(&text);
        Ok(b)
    }

    fn extend_from_text(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                self.words.insert(normalise(line));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Whether the password, or the password with trailing digits and symbols stripped
    /// (`Password2026!`), is a listed word.
    pub fn contains(&self, password: &str) -> bool {
        let n = normalise(password);
        if self.words.contains(&n) {
            return true;
        }
        let stem = n.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
        stem.chars().count() >= 4 && stem != n && self.words.contains(stem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_list_catches_common_and_local_passwords() {
        let b = Blocklist::bundled();
        assert!(b.len() > 10_000);
        for pw in [
            "password",
            "PASSWORD",
            "ｐａｓｓｗｏｒｄ",
            "qwerty123",
            "sakura",
            "Password2026!",
            "doraemon",
            "karte123",
        ] {
            assert!(b.contains(pw), "{pw} should be blocked");
        }
        for pw in ["tsukimi-dango-on-the-veranda", "Hx9!vQ2#mZ"] {
            assert!(!b.contains(pw), "{pw} should pass");
        }
    }

    #[test]
    fn deployment_file_extends_the_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("extra.txt");
        std::fs::write(&path, "# vendor defaults\nEMRvendor-default\n").unwrap();
        let b = Blocklist::with_file(&path).unwrap();
        assert!(b.contains("emrvendor-default"));
        assert!(b.contains("password"));
    }
}
