//! WebAuthn security keys and passkeys: what the ceremonies decide, as pure functions. The
//! ceremonies themselves (webauthn-rs, state kept server-side) are in `service`.
//!
//! - `amr` (RFC 8176) from the authenticator's flags: a key that can be synced (backup
//!   eligible) is a software-secured key `swk`, any other one `hwk`; every assertion tests
//!   presence (`user`); a verified user (PIN or biometric on the authenticator) adds `pin`.
//! - Each refusal has a stable code for the client and the audit log.
//! - Unknown usernames get fake credential ids, stable per username, so the options a
//!   username-first ceremony returns do not reveal which accounts exist.

pub mod service;

use sha2::{Digest, Sha256};
use webauthn_rs::prelude::WebauthnError;

/// What was registered: a roaming security key used as a second factor (user verification
/// preferred), or a passkey (a discoverable credential with user verification required).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    SecurityKey,
    Passkey,
}

impl CredentialKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "security_key" => Some(Self::SecurityKey),
            "passkey" => Some(Self::Passkey),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecurityKey => "security_key",
            Self::Passkey => "passkey",
        }
    }
}

/// RFC 8176 methods proven by one assertion.
pub fn amr_of(backup_eligible: bool, user_verified: bool) -> Vec<String> {
    let mut amr = vec![if backup_eligible { "swk" } else { "hwk" }.to_owned()];
    amr.push("user".into());
    if user_verified {
        amr.push("pin".into());
    }
    amr
}

/// Why a ceremony was refused: a stable code (client and audit) and the library's reason
/// (audit and log only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub detail: String,
}

impl Refusal {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    /// The HTTP status of a refused ceremony: an unreadable answer is invalid input, a key
    /// registered twice a conflict, the rest a failed proof.
    pub fn status(&self) -> u16 {
        match self.code {
            "malformed_credential" => 422,
            "credential_already_registered" => 409,
            _ => 401,
        }
    }

    /// The message a person reads.
    pub fn message(&self) -> &'static str {
        match self.code {
            "wrong_origin" => "The security key answered for another site.",
            "wrong_rp_id" => "The security key answered for another relying party.",
            "challenge_mismatch" => "The answer belongs to another sign-in attempt.",
            "user_verification_required" => {
                "The security key did not verify you (PIN or fingerprint); try again."
            }
            "counter_regression" => {
                "This security key may have been copied; it was refused. Contact your administrator."
            }
            "attestation_not_allowed" => "This model of security key is not allowed here.",
            "malformed_credential" => "The security key's answer could not be read.",
            "credential_already_registered" => "This security key is already registered.",
            "unknown_credential" => "This security key is not registered for this account.",
            _ => "The security key's answer was not accepted.",
        }
    }
}

/// The stable code of a webauthn-rs error.
pub fn refusal_of(e: &WebauthnError) -> Refusal {
    use WebauthnError as E;
    let code = match e {
        E::InvalidRPOrigin | E::CredentialCrossOrigin => "wrong_origin",
        E::InvalidRPIDHash => "wrong_rp_id",
        E::MismatchedChallenge | E::ChallengeNotFound | E::InvalidClientDataType => {
            "challenge_mismatch"
        }
        E::UserNotVerified | E::InconsistentUserVerificationPolicy => "user_verification_required",
        E::CredentialPossibleCompromise => "counter_regression",
        E::AttestationUntrustedAaguid
        | E::AttestationTrustFailure
        | E::AttestationChainNotTrusted(_)
        | E::AttestationNotVerifiable
        | E::AttestationFormatMissingAaguid
        | E::AttestationCertificateAAGUIDMismatch
        | E::AttestationCertificateTrustStoreEmpty
        | E::AttestationLeafCertMissing
        | E::AttestationStatementX5CMissing => "attestation_not_allowed",
        E::ParseBase64Failure(_)
        | E::ParseCBORFailure(_)
        | E::ParseJSONFailure(_)
        | E::ParseNOMFailure
        | E::ParseInsufficientBytesAvailable
        | E::COSEKeyInvalidCBORValue
        | E::COSEKeyInvalidType => "malformed_credential",
        E::CredentialAlreadyExists | E::CredentialExcludedFromRequest => {
            "credential_already_registered"
        }
        E::CredentialNotFound => "unknown_credential",
        _ => "webauthn_verification_failed",
    };
    Refusal::new(code, format!("{e:?}"))
}

/// The AAGUID (authenticator model) in a registration's attestation object, when the
/// authenticator sent one that is not all zeros.
pub fn aaguid_of(attestation_object: &[u8]) -> Option<uuid::Uuid> {
    use serde_cbor_2::Value;
    let Value::Map(map) = serde_cbor_2::from_slice::<Value>(attestation_object).ok()? else {
        return None;
    };
    let auth_data = map.iter().find_map(|(k, v)| match (k, v) {
        (Value::Text(k), Value::Bytes(b)) if k == "authData" => Some(b),
        _ => None,
    })?;
    // rpIdHash (32) · flags (1) · signCount (4) · AAGUID (16), when AT (0x40) is set.
    let flags = *auth_data.get(32)?;
    if flags & 0x40 == 0 {
        return None;
    }
    let bytes: [u8; 16] = auth_data.get(37..53)?.try_into().ok()?;
    let id = uuid::Uuid::from_bytes(bytes);
    (!id.is_nil()).then_some(id)
}

/// Credential ids for a username without credentials: the same every time for one name
/// (keyed, so nobody can tell them from real ones), 1 or 2 of the lengths real keys use.
pub fn fake_credential_ids(key: &[u8; 32], username: &str) -> Vec<Vec<u8>> {
    let seed = Sha256::new()
        .chain_update(key)
        .chain_update(b"\x00fake-credential\x00")
        .chain_update(username.as_bytes())
        .finalize();
    let count = 1 + usize::from(seed[0] % 4 == 0);
    (0..count)
        .map(|i| {
            let len = [16usize, 32, 64][usize::from(seed[1 + i]) % 3];
            let mut out = Vec::with_capacity(len);
            let mut block = 0u8;
            while out.len() < len {
                let d = Sha256::new()
                    .chain_update(seed)
                    .chain_update([u8::try_from(i).unwrap_or(0), block])
                    .finalize();
                out.extend_from_slice(&d);
                block = block.wrapping_add(1);
            }
            out.truncate(len);
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_follow_the_flags() {
        assert_eq!(amr_of(false, true), ["hwk", "user", "pin"]);
        assert_eq!(amr_of(true, true), ["swk", "user", "pin"]);
        assert_eq!(amr_of(false, false), ["hwk", "user"]);
        let kinds = crate::policy::factors::kinds(&amr_of(false, true));
        assert_eq!(kinds.len(), 2, "a verified key is possession + knowledge");
        assert_eq!(
            crate::policy::factors::kinds(&amr_of(false, false)).len(),
            1
        );
    }

    #[test]
    fn fake_ids_are_stable_per_name_and_differ_between_names() {
        let k = [7u8; 32];
        let a = fake_credential_ids(&k, "yamada");
        assert_eq!(a, fake_credential_ids(&k, "yamada"));
        assert_ne!(a, fake_credential_ids(&k, "suzuki"));
        assert_ne!(a, fake_credential_ids(&[8u8; 32], "yamada"));
        assert!(a.iter().all(|id| [16, 32, 64].contains(&id.len())));
    }

    #[test]
    fn aaguid_is_read_from_the_attestation_object() {
        use serde_cbor_2::Value;
        let id = uuid::Uuid::parse_str("0fb9bcbc-a0d4-4042-bbb0-559bc1631e28").unwrap();
        let mut auth = vec![0u8; 32];
        auth.push(0x41);
        auth.extend_from_slice(&[0, 0, 0, 1]);
        auth.extend_from_slice(id.as_bytes());
        let obj = |auth: Vec<u8>| {
            let mut m = std::collections::BTreeMap::new();
            m.insert(Value::Text("fmt".into()), Value::Text("none".into()));
            m.insert(Value::Text("authData".into()), Value::Bytes(auth));
            serde_cbor_2::to_vec(&Value::Map(m)).unwrap()
        };
        assert_eq!(aaguid_of(&obj(auth.clone())), Some(id));
        let mut no_at = auth.clone();
        no_at[32] = 0x01;
        assert_eq!(aaguid_of(&obj(no_at)), None);
        assert_eq!(aaguid_of(&obj(auth[..40].to_vec())), None, "truncated");
        assert_eq!(aaguid_of(b"\xff\x00garbage"), None);
    }

    #[test]
    fn library_errors_map_to_stable_codes() {
        assert_eq!(
            refusal_of(&WebauthnError::InvalidRPOrigin).code,
            "wrong_origin"
        );
        assert_eq!(
            refusal_of(&WebauthnError::CredentialPossibleCompromise).code,
            "counter_regression"
        );
        assert_eq!(
            refusal_of(&WebauthnError::MismatchedChallenge).code,
            "challenge_mismatch"
        );
    }
}
