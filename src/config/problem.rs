//! One problem in the configuration, the leaf every section's check builds on: the key path,
//! what is wrong, and how to fix it.

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Dotted key path, e.g. `password.min_length_with_second_factor`.
    pub key: String,
    pub message: String,
    pub fix: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}\n    fix: {}", self.key, self.message, self.fix)
    }
}

/// A problem at `key`.
pub(super) fn problem(key: &str, message: impl Into<String>, fix: impl Into<String>) -> Problem {
    Problem {
        key: key.to_owned(),
        message: message.into(),
        fix: fix.into(),
    }
}
