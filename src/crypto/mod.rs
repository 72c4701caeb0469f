//! Cryptographic primitives: the only module that touches argon2, Ed25519 keys, the RNG and constant-time
//! comparison. Everything here is synchronous and pure apart from the RNG; callers that must
//! not block the async runtime go through `password::hasher`.

pub mod aead;
pub mod ed25519;
pub mod hash;
pub mod seal_ring;
pub mod secret;

pub use secret::SecretString;

/// Fill a buffer from the operating system's CSPRNG (through rand's thread RNG, which is
/// reseeded from it).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::fill(&mut out[..]);
    out
}

/// Bytes of randomness in a token (session ids, login flows, enrolments): 256 bits.
const TOKEN_BYTES: usize = 32;
/// Length of a token as text: 32 bytes in unpadded base64url.
pub const TOKEN_LEN: usize = 43;

/// A random 256-bit token in unpadded base64url, safe in cookies, URLs and JSON.
pub fn random_token() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<TOKEN_BYTES>())
}

/// Whether `s` could be a token at all: cheap rejection of garbage before any look-up.
pub fn is_token(s: &str) -> bool {
    s.len() == TOKEN_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A random one-time password drawn from an alphabet without look-alike characters
/// (no 0/O, 1/l/I), easy to read aloud over a phone to a clinician.
pub fn random_one_time_password(len: usize) -> SecretString {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut out = String::with_capacity(len);
    // Rejection sampling keeps the distribution uniform over the alphabet.
    let limit = 256 - (256 % ALPHABET.len());
    while out.len() < len {
        for b in random_bytes::<32>() {
            if (b as usize) < limit && out.len() < len {
                out.push(ALPHABET[(b as usize) % ALPHABET.len()] as char);
            }
        }
    }
    // Guarantee a letter and a digit so that the `mhlw` composition profile always accepts it.
    if !out.chars().any(|c| c.is_ascii_digit()) {
        out.replace_range(len - 1.., "7");
    }
    SecretString::new(out)
}

/// Compare two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_passwords_are_random_and_mixed() {
        let a = random_one_time_password(20);
        let b = random_one_time_password(20);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().chars().count(), 20);
        assert!(a.expose().chars().any(|c| c.is_ascii_digit()));
        assert!(a.expose().chars().any(|c| c.is_ascii_alphabetic()));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
