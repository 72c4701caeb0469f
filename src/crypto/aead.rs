//! Encryption at rest for second-factor secrets: XChaCha20-Poly1305 with a random 192-bit
//! nonce per value and the owner (account id and credential kind) as associated data, so a
//! ciphertext copied to another account's row does not open. The key lives in a file outside
//! the database (mode 0600), never in it.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use super::random_bytes;
use super::secret::SecretBytes;

const NONCE: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AeadError {
    #[error("the key must be 32 bytes (64 hex characters)")]
    KeyLength,
    #[error("the stored value is too short to be a sealed secret")]
    Truncated,
    #[error("the stored value does not open with this key for this owner")]
    Open,
    #[error("sealing failed")]
    Seal,
}

/// The at-rest key (redacted in `Debug`).
#[derive(Clone)]
pub struct SealKey(XChaCha20Poly1305, [u8; 32]);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(***)")
    }
}

impl SealKey {
    pub fn from_bytes(key: &SecretBytes) -> Result<Self, AeadError> {
        let mut bytes: [u8; 32] = key.expose().try_into().map_err(|_| AeadError::KeyLength)?;
        let cipher = XChaCha20Poly1305::new(&Key::from(bytes));
        // A separate secret for keyed hashes, so the sealing key itself is used for one thing.
        let derived: [u8; 32] = Sha256::new()
            .chain_update(b"sekimori derive v1\x00")
            .chain_update(bytes)
            .finalize()
            .into();
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(Self(cipher, derived))
    }

    /// A 32-byte secret for `label`, stable for this key (e.g. fake credential ids).
    pub fn derive(&self, label: &str) -> [u8; 32] {
        Sha256::new()
            .chain_update(self.1)
            .chain_update(label.as_bytes())
            .finalize()
            .into()
    }

    /// A new random key, hex-encoded for its file.
    pub fn generate_hex() -> SecretBytes {
        SecretBytes::new(hex::encode(random_bytes::<32>()).into_bytes())
    }

    /// Parse a key file's contents: 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &[u8]) -> Result<Self, AeadError> {
        let trimmed = String::from_utf8_lossy(text).trim().to_owned();
        let bytes = hex::decode(trimmed).map_err(|_| AeadError::KeyLength)?;
        Self::from_bytes(&SecretBytes::new(bytes))
    }

    pub fn seal(&self, plaintext: &[u8], owner: &str) -> Result<Vec<u8>, AeadError> {
        let nonce = random_bytes::<NONCE>();
        let ct = self
            .0
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| AeadError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], owner: &str) -> Result<SecretBytes, AeadError> {
        if sealed.len() < NONCE + 16 {
            return Err(AeadError::Truncated);
        }
        let (nonce, ct) = sealed.split_at(NONCE);
        let nonce: [u8; NONCE] = nonce.try_into().map_err(|_| AeadError::Truncated)?;
        self.0
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: owner.as_bytes(),
                },
            )
            .map(SecretBytes::new)
            .map_err(|_| AeadError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealKey {
        SealKey::from_hex(SealKey::generate_hex().expose()).unwrap()
    }

    #[test]
    fn sealed_values_open_only_for_their_owner_and_key() {
        let k = key();
        let sealed = k.seal(b"totp secret", "acc-1:totp").unwrap();
        assert_eq!(
            k.open(&sealed, "acc-1:totp").unwrap().expose(),
            b"totp secret"
        );
        assert_eq!(k.open(&sealed, "acc-2:totp").unwrap_err(), AeadError::Open);
        assert_eq!(
            key().open(&sealed, "acc-1:totp").unwrap_err(),
            AeadError::Open
        );
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert_eq!(k.open(&flipped, "acc-1:totp").unwrap_err(), AeadError::Open);
        assert_eq!(
            k.open(&sealed[..20], "acc-1:totp").unwrap_err(),
            AeadError::Truncated
        );
        assert_ne!(
            k.seal(b"x", "o").unwrap(),
            k.seal(b"x", "o").unwrap(),
            "random nonces"
        );
    }

    #[test]
    fn keys_are_32_bytes_of_hex() {
        assert!(SealKey::from_hex(b"abcd").is_err());
        assert!(SealKey::from_hex(&[b'z'; 64]).is_err());
        assert!(SealKey::from_hex(format!("{}\n", "00".repeat(32)).as_bytes()).is_ok());
        assert_eq!(format!("{:?}", key()), "SealKey(***)");
    }
}
