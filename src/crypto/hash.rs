//! Password hashing with argon2id. Parameters live in the PHC string, so a hash made with
//! weaker parameters still verifies and is flagged for upgrade.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

use super::secret::SecretBytes;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    /// OWASP's argon2id recommendation: m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2 parameters are out of range: {0}")]
    Params(String),
    #[error("stored password hash is not a valid argon2 PHC string: {0}")]
    Malformed(String),
    #[error("hashing failed: {0}")]
    Compute(String),
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Correct; the stored hash uses the current parameters.
    Match,
    /// Correct, but the stored hash uses other parameters or algorithm: re-hash and store.
    MatchNeedsRehash,
    Mismatch,
}

impl Verified {
    pub fn is_match(self) -> bool {
        !matches!(self, Verified::Mismatch)
    }
}

fn argon2(params: HashParams, pepper: Option<&SecretBytes>) -> Result<Argon2<'_>, HashError> {
    let p = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(|e| HashError::Params(e.to_string()))?;
    match pepper {
        Some(secret) => {
            Argon2::new_with_secret(secret.expose(), Algorithm::Argon2id, Version::V0x13, p)
                .map_err(|e| HashError::Params(e.to_string()))
        }
        None => Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p)),
    }
}

/// Check that parameters are acceptable to argon2 before anything is hashed with them.
pub fn validate_params(params: HashParams) -> Result<(), HashError> {
    argon2(params, None).map(|_| ())
}

/// Hash a password (already NFKC-normalised by the caller) into a PHC string.
pub fn hash_password(
    password: &str,
    params: HashParams,
    pepper: Option<&SecretBytes>,
) -> Result<String, HashError> {
    let salt = super::random_bytes::<16>();
    let hasher = argon2(params, pepper)?;
    hasher
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Compute(e.to_string()))
}

/// Verify a password against a PHC string and say whether the hash should be upgraded.
pub fn verify_password(
    password: &str,
    phc: &str,
    current: HashParams,
    pepper: Option<&SecretBytes>,
) -> Result<Verified, HashError> {
    let parsed = PasswordHash::new(phc).map_err(|e| HashError::Malformed(e.to_string()))?;
    if parsed.algorithm.as_str() != "argon2id"
        && parsed.algorithm.as_str() != "argon2i"
        && parsed.algorithm.as_str() != "argon2d"
    {
        return Err(HashError::Malformed(format!(
            "unsupported algorithm {}",
            parsed.algorithm
        )));
    }
    let stored = Params::try_from(&parsed).map_err(|e| HashError::Malformed(e.to_string()))?;
    // The verifier takes algorithm and parameters from the PHC string; our instance only
    // contributes the pepper.
    let verifier = argon2(current, pepper)?;
    match verifier.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => {
            let same = parsed.algorithm.as_str() == "argon2id"
                && stored.m_cost() == current.memory_kib
                && stored.t_cost() == current.iterations
                && stored.p_cost() == current.parallelism;
            Ok(if same {
                Verified::Match
            } else {
                Verified::MatchNeedsRehash
            })
        }
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(Verified::Mismatch),
        Err(e) => Err(HashError::Compute(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn hash_and_verify_round_trip() {
        let phc = hash_password("correct horse", CHEAP, None).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(
            verify_password("correct horse", &phc, CHEAP, None).unwrap(),
            Verified::Match
        );
        assert_eq!(
            verify_password("correct horsE", &phc, CHEAP, None).unwrap(),
            Verified::Mismatch
        );
    }

    #[test]
    fn weaker_stored_parameters_ask_for_a_rehash() {
        let phc = hash_password("pw", CHEAP, None).unwrap();
        let stronger = HashParams {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        };
        assert_eq!(
            verify_password("pw", &phc, stronger, None).unwrap(),
            Verified::MatchNeedsRehash
        );
    }

    #[test]
    fn default_parameters_are_owasp() {
        let phc = hash_password("pw", HashParams::default(), None).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[test]
    fn pepper_changes_the_hash() {
        let pepper = SecretBytes::new(b"0123456789abcdef".to_vec());
        let phc = hash_password("pw", CHEAP, Some(&pepper)).unwrap();
        assert!(
            verify_password("pw", &phc, CHEAP, Some(&pepper))
                .unwrap()
                .is_match()
        );
        assert_eq!(
            verify_password("pw", &phc, CHEAP, None).unwrap(),
            Verified::Mismatch
        );
    }

    #[test]
    fn malformed_hashes_are_errors_not_mismatches() {
        assert!(matches!(
            verify_password("pw", "not-a-hash", CHEAP, None),
            Err(HashError::Malformed(_))
        ));
        assert!(matches!(
            verify_password("pw", "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA", CHEAP, None),
            Err(HashError::Malformed(_))
        ));
    }
}
