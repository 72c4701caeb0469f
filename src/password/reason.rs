//! Why a password was refused: a stable code for programs and a message in Japanese and
//! English for people (NIST: say why a password was refused).

use serde::Serialize;

/// One reason a candidate password was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RejectReason {
    Empty,
    TooShort { min: usize, actual: usize },
    TooLong { max: usize },
    ControlCharacter,
    MissingLetter,
    MissingDigit,
    TooGuessable { score: u8, min_score: u8 },
    ContainsPersonalInfo,
    Blocklisted,
    Breached,
    ReusedRecent { depth: usize },
    ReusedOtherAccount,
    SameAsCurrent,
}

impl RejectReason {
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::Empty => "empty",
            RejectReason::TooShort { .. } => "too_short",
            RejectReason::TooLong { .. } => "too_long",
            RejectReason::ControlCharacter => "control_character",
            RejectReason::MissingLetter => "missing_letter",
            RejectReason::MissingDigit => "missing_digit",
            RejectReason::TooGuessable { .. } => "too_guessable",
            RejectReason::ContainsPersonalInfo => "contains_personal_info",
            RejectReason::Blocklisted => "blocklisted",
            RejectReason::Breached => "breached",
            RejectReason::ReusedRecent { .. } => "reused_recent",
            RejectReason::ReusedOtherAccount => "reused_other_account",
            RejectReason::SameAsCurrent => "same_as_current",
        }
    }

    pub fn message_ja(&self) -> String {
        match self {
            RejectReason::Empty => "パスワードを入力してください。".into(),
            RejectReason::TooShort { min, actual } => {
                format!("パスワードは{min}文字以上にしてください（現在{actual}文字）。")
            }
            RejectReason::TooLong { max } => format!("パスワードは{max}文字以内にしてください。"),
            RejectReason::ControlCharacter => "パスワードに制御文字は使えません。".into(),
            RejectReason::MissingLetter => "英字を1文字以上含めてください。".into(),
            RejectReason::MissingDigit => "数字を1文字以上含めてください。".into(),
            RejectReason::TooGuessable { .. } => {
                "推測されやすいパスワードです。単語を組み合わせた長いパスフレーズにしてください。"
                    .into()
            }
            RejectReason::ContainsPersonalInfo => {
                "利用者ID・氏名・カナ氏名・施設名などの個人情報を含むパスワードは使えません。"
                    .into()
            }
            RejectReason::Blocklisted => "よく使われるパスワードのため使えません。".into(),
            RejectReason::Breached => {
                "過去に漏えいしたパスワードの一覧に含まれるため使えません。".into()
            }
            RejectReason::ReusedRecent { depth } => {
                format!("直近{depth}回以内に使用したパスワードは再利用できません。")
            }
            RejectReason::ReusedOtherAccount => {
                "ご本人の別のアカウントで使っているパスワードは使えません（使い回しの禁止）。"
                    .into()
            }
            RejectReason::SameAsCurrent => "現在のパスワードと同じです。".into(),
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            RejectReason::Empty => "Enter a password.".into(),
            RejectReason::TooShort { min, actual } => {
                format!("Use at least {min} characters (this one has {actual}).")
            }
            RejectReason::TooLong { max } => format!("Use at most {max} characters."),
            RejectReason::ControlCharacter => "Passwords cannot contain control characters.".into(),
            RejectReason::MissingLetter => "Include at least one letter.".into(),
            RejectReason::MissingDigit => "Include at least one digit.".into(),
            RejectReason::TooGuessable { .. } => {
                "This password is easy to guess. Try a longer passphrase of several words.".into()
            }
            RejectReason::ContainsPersonalInfo => {
                "Passwords cannot contain your user id, name, kana name or the facility name."
                    .into()
            }
            RejectReason::Blocklisted => "This is a commonly used password.".into(),
            RejectReason::Breached => {
                "This password appears in a list of breached passwords.".into()
            }
            RejectReason::ReusedRecent { depth } => {
                format!("You cannot reuse any of your last {depth} passwords.")
            }
            RejectReason::ReusedOtherAccount => {
                "This password is used by another of your accounts; reuse is prohibited.".into()
            }
            RejectReason::SameAsCurrent => "This is your current password.".into(),
        }
    }
}

/// A reason with its messages, the shape the API and the CLI show.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Explained {
    pub code: &'static str,
    pub message_ja: String,
    pub message_en: String,
}

impl From<&RejectReason> for Explained {
    fn from(r: &RejectReason) -> Self {
        Self {
            code: r.code(),
            message_ja: r.message_ja(),
            message_en: r.message_en(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_code_and_both_languages() {
        let all = [
            RejectReason::Empty,
            RejectReason::TooShort { min: 8, actual: 7 },
            RejectReason::TooLong { max: 128 },
            RejectReason::ControlCharacter,
            RejectReason::MissingLetter,
            RejectReason::MissingDigit,
            RejectReason::TooGuessable {
                score: 1,
                min_score: 3,
            },
            RejectReason::ContainsPersonalInfo,
            RejectReason::Blocklisted,
            RejectReason::Breached,
            RejectReason::ReusedRecent { depth: 5 },
            RejectReason::ReusedOtherAccount,
            RejectReason::SameAsCurrent,
        ];
        let mut codes = std::collections::HashSet::new();
        for r in &all {
            assert!(codes.insert(r.code()), "duplicate code {}", r.code());
            assert!(
                !r.message_ja().is_ascii(),
                "{} has no Japanese message",
                r.code()
            );
            assert!(r.message_en().is_ascii(), "{} English message", r.code());
        }
        assert!(
            RejectReason::TooShort { min: 15, actual: 9 }
                .message_ja()
                .contains("15文字以上")
        );
    }
}
