//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step) as the gateway uses it: secrets of 160
//! bits, `otpauth://` URIs for authenticator apps, strict parsing of what people type, and
//! verification that returns the matched step so that the caller's replay guard can accept
//! each code once. Pure: `now` is an argument, nothing is stored here.

pub mod service;

use totp_rs::{Builder, Secret, Totp};

use crate::crypto::random_bytes;
use crate::crypto::secret::SecretBytes;

/// Issuer shown by authenticator apps.
pub const ISSUER: &str = "Sekimori";
/// Bytes of secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
const DIGITS: usize = 6;
const STEP_SECONDS: u64 = 30;

/// Why a typed code is not even a candidate. Each has a stable code and both languages,
/// because people type codes on phones with Japanese input methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code is empty")]
    Empty,
    #[error("the code contains spaces")]
    Spaces,
    #[error("the code is in full-width digits")]
    FullWidth,
    #[error("the code contains characters other than digits")]
    NotDigits,
    #[error("the code must have exactly 6 digits")]
    WrongLength,
    #[error("a recovery code has 12 letters and digits, e.g. abcd-efgh-jkmn")]
    RecoveryMalformed,
}

impl CodeError {
    pub fn code(self) -> &'static str {
        match self {
            CodeError::Empty => "code_empty",
            CodeError::Spaces => "code_has_spaces",
            CodeError::FullWidth => "code_full_width",
            CodeError::NotDigits => "code_not_digits",
            CodeError::WrongLength => "code_wrong_length",
            CodeError::RecoveryMalformed => "recovery_code_malformed",
        }
    }

    pub fn message_ja(self) -> &'static str {
        match self {
            CodeError::Empty => "確認コードを入力してください。",
            CodeError::Spaces => "確認コードに空白を入れずに入力してください。",
            CodeError::FullWidth => "確認コードは半角数字で入力してください。",
            CodeError::NotDigits => "確認コードは数字だけで入力してください。",
            CodeError::WrongLength => "確認コードは6桁です。",
            CodeError::RecoveryMalformed => {
                "リカバリーコードは英数字12文字です（例: abcd-efgh-jkmn）。"
            }
        }
    }
}

/// The `otpauth://` URI as an SVG QR code, for the enrolment screen.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code =
        qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// Check what was typed: exactly six ASCII digits, nothing else. Nothing is "fixed up"
/// silently, so the answer can say precisely what was wrong.
pub fn parse_code(input: &str) -> Result<&str, CodeError> {
    if input.is_empty() {
        return Err(CodeError::Empty);
    }
    if input.chars().any(char::is_whitespace) {
        return Err(CodeError::Spaces);
    }
    if input
        .chars()
        .any(|c| ('\u{FF10}'..='\u{FF19}').contains(&c))
    {
        return Err(CodeError::FullWidth);
    }
    if !input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::NotDigits);
    }
    if input.len() != DIGITS {
        return Err(CodeError::WrongLength);
    }
    Ok(input)
}

/// A TOTP secret (redacted in `Debug`).
#[derive(Debug, Clone)]
pub struct TotpSecret(SecretBytes);

impl TotpSecret {
    pub fn generate() -> Self {
        Self(SecretBytes::new(random_bytes::<SECRET_BYTES>().to_vec()))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(SecretBytes::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        self.0.expose()
    }

    fn totp(&self, account: &str) -> Option<Totp> {
        Builder::new()
            .with_secret(Secret::from(self.0.expose().to_vec()))
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(STEP_SECONDS)
            .with_account_name(account)
            .with_issuer(Some(ISSUER))
            .build()
            .ok()
    }

    /// Base32 without padding, for typing the key by hand.
    pub fn base32(&self) -> String {
        Secret::from(self.0.expose().to_vec()).to_base32()
    }

    /// `otpauth://totp/Sekimori:NAME?secret=…&issuer=Sekimori` for the QR code.
    pub fn otpauth_uri(&self, account: &str) -> Option<String> {
        self.totp(account)?.to_url().ok()
    }

    /// The step a valid code belongs to (within ±1 step of `now`), or `None`.
    pub fn verify(&self, code: &str, now_unix: u64) -> Option<u64> {
        let code = parse_code(code).ok()?;
        self.totp("")?.check(code, now_unix)
    }

    /// The code for a time (tests, and the enrolment page's self-check).
    pub fn code_at(&self, now_unix: u64) -> Option<String> {
        Some(self.totp("")?.generate(now_unix).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1, truncated to 6 digits.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_vectors() {
        let s = TotpSecret::from_bytes(RFC_SECRET.to_vec());
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(s.code_at(t).as_deref(), Some(code), "t={t}");
            assert_eq!(s.verify(code, t), Some(t / 30));
        }
    }

    #[test]
    fn one_step_either_side_and_no_further() {
        let s = TotpSecret::generate();
        let t = 1_800_000_000;
        let code = s.code_at(t).unwrap();
        assert_eq!(s.verify(&code, t - 30), Some(t / 30));
        assert_eq!(s.verify(&code, t + 30), Some(t / 30));
        assert_eq!(s.verify(&code, t + 60), None);
        assert_eq!(s.verify(&code, t - 60), None);
    }

    #[test]
    fn typed_codes_are_refused_precisely() {
        assert_eq!(parse_code("123456"), Ok("123456"));
        for (input, err) in [
            ("", CodeError::Empty),
            ("123 456", CodeError::Spaces),
            ("123456 ", CodeError::Spaces),
            ("１２３４５６", CodeError::FullWidth),
            ("12a456", CodeError::NotDigits),
            ("١٢٣٤٥٦", CodeError::NotDigits),
            ("12345", CodeError::WrongLength),
            ("1234567", CodeError::WrongLength),
        ] {
            assert_eq!(parse_code(input), Err(err), "{input:?}");
        }
    }

    #[test]
    fn secrets_are_160_bits_and_the_uri_names_the_issuer() {
        let s = TotpSecret::generate();
        assert_eq!(s.expose().len(), 20);
        assert_eq!(s.base32().len(), 32);
        let uri = s.otpauth_uri("yamada").unwrap();
        assert!(uri.starts_with("otpauth://totp/Sekimori:yamada?"), "{uri}");
        assert!(uri.contains("issuer=Sekimori"));
        assert!(uri.contains(&format!("secret={}", s.base32())));
        assert!(!format!("{s:?}").contains(&s.base32()));
    }
}
