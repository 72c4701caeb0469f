//! Ed25519 key material: generation, PKCS#8 PEM encoding (the form `openssl pkey` reads) and
//! the public half. Assertions are signed through `jsonwebtoken`; audit checkpoints are signed
//! and verified here, over bytes the caller frames.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use super::random_bytes;
use super::secret::SecretBytes;

/// PKCS#8 v1 prefix for an Ed25519 private key (RFC 8410): the 32-byte seed follows.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// An Ed25519 key pair. The private half is a redacted secret.
#[derive(Debug, Clone)]
pub struct Ed25519Key {
    seed: SecretBytes,
    public: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
#[error("not an Ed25519 PKCS#8 private key: {0}")]
pub struct KeyFormatError(String);

impl Ed25519Key {
    pub fn generate() -> Self {
        Self::from_seed(random_bytes::<32>())
    }

    fn from_seed(seed: [u8; 32]) -> Self {
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        Self {
            seed: SecretBytes::new(seed.to_vec()),
            public,
        }
    }

    /// The PKCS#8 DER form `jsonwebtoken::EncodingKey::from_ed_der` takes.
    pub fn pkcs8_der(&self) -> SecretBytes {
        let mut der = PKCS8_PREFIX.to_vec();
        der.extend_from_slice(self.seed.expose());
        SecretBytes::new(der)
    }

    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    /// `-----BEGIN PRIVATE KEY-----` PEM, readable by `openssl pkey`.
    pub fn to_pem(&self) -> String {
        let b64 = STANDARD.encode(self.pkcs8_der().expose());
        let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END PRIVATE KEY-----\n");
        out
    }

    pub fn from_pem(pem: &str) -> Result<Self, KeyFormatError> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .skip_while(|l| *l != "-----BEGIN PRIVATE KEY-----")
            .skip(1)
            .take_while(|l| *l != "-----END PRIVATE KEY-----")
            .collect();
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|e| KeyFormatError(e.to_string()))?;
        // Accept v1 (48 bytes) and v2 with the public key appended (as openssl may write).
        if der.len() < 48 || der[..16] != PKCS8_PREFIX[..] && !is_v2_prefix(&der) {
            return Err(KeyFormatError(format!(
                "unexpected DER of {} bytes",
                der.len()
            )));
        }
        let start = der.len() - 32 - if der.len() == 48 { 0 } else { 35 };
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&der[start..start + 32]);
        Ok(Self::from_seed(seed))
    }

    /// A detached signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(self.seed.expose());
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        ed25519_dalek::Signer::sign(&key, message).to_bytes()
    }

    /// RFC 7638 JWK thumbprint of the public key, base64url: the key id.
    pub fn thumbprint(&self) -> String {
        thumbprint_of(&self.public)
    }
}

/// Whether `signature` is `public`'s signature over `message` (strict verification: no
/// malleable or small-order forms).
pub fn verify(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public) else {
        return false;
    };
    let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else {
        return false;
    };
    key.verify_strict(message, &sig).is_ok()
}

/// SubjectPublicKeyInfo prefix for an Ed25519 public key (RFC 8410): the 32 bytes follow.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// `-----BEGIN PUBLIC KEY-----` PEM of a public key, readable by `openssl pkey -pubin`.
pub fn public_pem(public: &[u8; 32]) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(public);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(der)
    )
}

/// The public key in a PEM written by [`public_pem`] (or `openssl pkey -pubout`).
pub fn public_from_pem(pem: &str) -> Option<[u8; 32]> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN PUBLIC KEY-----")
        .skip(1)
        .take_while(|l| *l != "-----END PUBLIC KEY-----")
        .collect();
    let der = STANDARD.decode(body.as_bytes()).ok()?;
    if der.len() != 44 || der[..12] != SPKI_PREFIX {
        return None;
    }
    der[12..].try_into().ok()
}

/// The key id of a bare public key (the same thumbprint as [`Ed25519Key::thumbprint`]).
pub fn thumbprint_of(public: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn is_v2_prefix(der: &[u8]) -> bool {
    // SEQUENCE, INTEGER 1 (v2), AlgorithmIdentifier Ed25519, OCTET STRING(OCTET STRING seed)
    der.len() == 83 && der.get(4) == Some(&0x01) && der.get(9..12) == Some(&[0x2b, 0x65, 0x70])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_and_thumbprints_are_stable() {
        let k = Ed25519Key::generate();
        let pem = k.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = Ed25519Key::from_pem(&pem).unwrap();
        assert_eq!(back.public_key(), k.public_key());
        assert_eq!(back.thumbprint(), k.thumbprint());
        assert_eq!(k.thumbprint().len(), 43);
        assert!(!format!("{k:?}").contains(&hex::encode(&k.pkcs8_der().expose()[16..])));
    }

    #[test]
    fn rfc8032_test_vector_gives_its_public_key() {
        // RFC 8032 §7.1, TEST 1.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let k = Ed25519Key::from_seed(seed);
        assert_eq!(
            hex::encode(k.public_key()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let k = Ed25519Key::generate();
        let sig = k.sign(b"head 42");
        assert!(verify(k.public_key(), b"head 42", &sig));
        assert!(!verify(k.public_key(), b"head 43", &sig));
        assert!(!verify(
            Ed25519Key::generate().public_key(),
            b"head 42",
            &sig
        ));
        assert!(!verify(k.public_key(), b"head 42", &sig[..63]));
        assert_eq!(thumbprint_of(k.public_key()), k.thumbprint());
        assert_eq!(
            public_from_pem(&public_pem(k.public_key())),
            Some(*k.public_key())
        );
        assert_eq!(public_from_pem(&k.to_pem()), None);
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Ed25519Key::from_pem("nope").is_err());
        assert!(
            Ed25519Key::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
                .is_err()
        );
    }
}
