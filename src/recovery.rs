//! Recovery codes: 10 single-use codes that stand in for a lost second factor. They are shown
//! once, stored only as keyed hashes (one row each, so spending one is a single atomic
//! delete), and people read them from paper: full-width characters, capitals, spaces and
//! hyphens are folded away before comparing.

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::account::AccountId;
use crate::crypto::{SecretString, random_bytes};
use crate::totp::CodeError;

/// The credential kind the codes are stored under.
pub const KIND: &str = "recovery";
/// Codes in a set.
pub const COUNT: usize = 10;
/// Fewer than this many left: the sign-in says so.
pub const LOW_WATER: usize = 3;
const LEN: usize = 12;
/// 32 symbols (5 bits each, so a byte maps without bias), without 0/o and 1/l.
const ALPHABET: &[u8; 32] = b"23456789abcdefghijkmnpqrstuvwxyz";

/// A new set, formatted `xxxx-xxxx-xxxx` (60 bits each).
pub fn generate() -> Vec<SecretString> {
    generate_n(COUNT)
}

/// `n` new codes of the same form (break-glass codes share it).
pub fn generate_n(n: usize) -> Vec<SecretString> {
    (0..n)
        .map(|_| {
            let bytes = random_bytes::<LEN>();
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
                .collect();
            let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
            SecretString::new(groups.join("-"))
        })
        .collect()
}

/// The canonical form of a typed code: NFKC, lower case, without spaces and hyphens.
pub fn normalise(input: &str) -> Result<String, CodeError> {
    let folded: String = input
        .nfkc()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    if folded.is_empty() {
        return Err(CodeError::Empty);
    }
    if folded.chars().count() != LEN || !folded.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err(CodeError::RecoveryMalformed);
    }
    Ok(folded)
}

/// The stored form: keyed by the account, so equal codes of two accounts differ and a row
/// copied to another account matches nothing.
pub fn hash(account: &AccountId, normalised: &str) -> String {
    keyed_hash(b"sekimori recovery v1\x00", account, normalised)
}

/// A code's stored form under a domain of its own (recovery and break-glass codes differ).
pub fn keyed_hash(domain: &[u8], account: &AccountId, normalised: &str) -> String {
    hex::encode(
        Sha256::new()
            .chain_update(domain)
            .chain_update(account.0.as_bytes())
            .chain_update(normalised.as_bytes())
            .finalize(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_has_ten_distinct_well_formed_codes() {
        let set = generate();
        assert_eq!(set.len(), COUNT);
        let mut seen: Vec<String> = set.iter().map(|c| c.expose().to_owned()).collect();
        for c in &seen {
            assert_eq!(c.len(), 14, "{c}");
            assert_eq!(normalise(c).unwrap().len(), 12);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), COUNT);
    }

    #[test]
    fn typed_codes_are_folded_before_comparing() {
        assert_eq!(normalise("ABCD-EFGH-JKMN").unwrap(), "abcdefghjkmn");
        assert_eq!(normalise(" abcd efgh jkmn ").unwrap(), "abcdefghjkmn");
        // Full-width letters and full-width hyphens.
        assert_eq!(
            normalise("ＡＢＣＤ－ＥＦＧＨ－ＪＫＭＮ").unwrap(),
            "abcdefghjkmn"
        );
        assert_eq!(normalise(""), Err(CodeError::Empty));
        assert_eq!(
            normalise("abcd-efgh-jkm"),
            Err(CodeError::RecoveryMalformed)
        );
        assert_eq!(
            normalise("abcd-efgh-jkm0"),
            Err(CodeError::RecoveryMalformed)
        );
        assert_eq!(normalise("123456"), Err(CodeError::RecoveryMalformed));
    }

    #[test]
    fn hashes_are_per_account() {
        let a = AccountId(uuid::Uuid::from_u128(1));
        let b = AccountId(uuid::Uuid::from_u128(2));
        assert_eq!(hash(&a, "abcdefghjkmn"), hash(&a, "abcdefghjkmn"));
        assert_ne!(hash(&a, "abcdefghjkmn"), hash(&b, "abcdefghjkmn"));
    }
}
