//! Password hashing with argon2id. Parameters live in the PHC string, so a hash made with
//! weaker parameters still verifies and is flagged for upgrade.
//!
//! Each hash runs in a working area this module allocates ([`WorkArea`]) rather than argon2's
//! own: one sized so that the C library always maps it for this hash and unmaps it when the
//! hash ends, instead of keeping 19 MiB per thread in its arenas after every sign-in.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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
    instance(Algorithm::Argon2id, Version::V0x13, p, pepper)
}

/// An argon2 instance, keyed with the pepper when there is one.
fn instance(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    pepper: Option<&SecretBytes>,
) -> Result<Argon2<'_>, HashError> {
    match pepper {
        Some(secret) => Argon2::new_with_secret(secret.expose(), algorithm, version, params)
            .map_err(|e| HashError::Params(e.to_string())),
        None => Ok(Argon2::new(algorithm, version, params)),
    }
}

/// Check that parameters are acceptable to argon2 before anything is hashed with them.
pub fn validate_params(params: HashParams) -> Result<(), HashError> {
    argon2(params, None).map(|_| ())
}

/// glibc maps an allocation of at least its mmap threshold on its own and unmaps it on free;
/// but freeing a mapped block of up to 32 MiB raises that threshold to the block's size, after
/// which the next 19 MiB comes from (and stays in) a thread's arena. A capacity just over
/// 32 MiB is always mapped and never moves the threshold. Only the blocks argon2 uses are
/// written, so the pages beyond them are never resident.
const ALWAYS_MAPPED_BLOCKS: usize = 32 * 1024 + 1;

/// One hash's argon2 memory, returned to the system when dropped.
struct WorkArea(Vec<Block>);

impl WorkArea {
    fn new(blocks: usize) -> Self {
        let mut area = Vec::with_capacity(blocks.max(ALWAYS_MAPPED_BLOCKS));
        area.resize(blocks, Block::new());
        Self(area)
    }
}

/// argon2 of `password` with `salt` into `out`, in a working area of its own.
fn compute(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    let mut area = WorkArea::new(argon.params().block_count());
    argon
        .hash_password_into_with_memory(password, salt, out, &mut area.0[..])
        .map_err(|e| HashError::Compute(e.to_string()))
}

/// Hash a password (already NFKC-normalised by the caller) into a PHC string.
pub fn hash_password(
    password: &str,
    params: HashParams,
    pepper: Option<&SecretBytes>,
) -> Result<String, HashError> {
    let salt = super::random_bytes::<16>();
    let hasher = argon2(params, pepper)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&hasher, password.as_bytes(), &salt, &mut out)?;
    let phc = |e: argon2::password_hash::phc::Error| HashError::Compute(e.to_string());
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(hasher.params())
            .map_err(|e| HashError::Compute(e.to_string()))?,
        salt: Some(Salt::new(&salt).map_err(phc)?),
        hash: Some(Output::new(&out).map_err(phc)?),
    };
    Ok(hash.to_string())
}

/// Verify a password against a PHC string and say whether the hash should be upgraded.
pub fn verify_password(
    password: &str,
    phc: &str,
    current: HashParams,
    pepper: Option<&SecretBytes>,
) -> Result<Verified, HashError> {
    let malformed = HashError::Malformed;
    let parsed = PasswordHash::new(phc).map_err(|e| malformed(e.to_string()))?;
    let algorithm = match parsed.algorithm.as_str() {
        "argon2id" => Algorithm::Argon2id,
        "argon2i" => Algorithm::Argon2i,
        "argon2d" => Algorithm::Argon2d,
        other => return Err(malformed(format!("unsupported algorithm {other}"))),
    };
    let version = match parsed.version {
        None | Some(0x13) => Version::V0x13,
        Some(0x10) => Version::V0x10,
        Some(v) => return Err(malformed(format!("unsupported argon2 version {v}"))),
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(malformed("the PHC string has no salt or no hash".into()));
    };
    // Algorithm, version and cost come from the PHC string; only the pepper is ours.
    let written = Params::try_from(&parsed).map_err(|e| malformed(e.to_string()))?;
    let stored = Params::new(
        written.m_cost(),
        written.t_cost(),
        written.p_cost(),
        Some(expected.len()),
    )
    .map_err(|e| malformed(e.to_string()))?;
    let verifier = instance(algorithm, version, stored.clone(), pepper)?;
    let mut out = vec![0u8; expected.len()];
    compute(&verifier, password.as_bytes(), salt, &mut out)?;
    let computed = Output::new(&out).map_err(|e| HashError::Compute(e.to_string()))?;
    // Output's equality is constant-time.
    if computed != *expected {
        return Ok(Verified::Mismatch);
    }
    let same = algorithm == Algorithm::Argon2id
        && stored.m_cost() == current.memory_kib
        && stored.t_cost() == current.iterations
        && stored.p_cost() == current.parallelism;
    Ok(if same {
        Verified::Match
    } else {
        Verified::MatchNeedsRehash
    })
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

    /// Hashes stored before the working area was ours (made by argon2's own hasher) still
    /// verify, and argon2's own verifier accepts ours.
    #[test]
    fn the_crate_s_own_hasher_and_verifier_agree() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let pepper = SecretBytes::new(b"0123456789abcdef".to_vec());
        for pepper in [None, Some(&pepper)] {
            let theirs = argon2(CHEAP, pepper)
                .unwrap()
                .hash_password_with_salt(b"correct horse", b"salt-of-16-bytes")
                .unwrap()
                .to_string();
            assert_eq!(
                verify_password("correct horse", &theirs, CHEAP, pepper).unwrap(),
                Verified::Match
            );
            assert_eq!(
                verify_password("correct horsE", &theirs, CHEAP, pepper).unwrap(),
                Verified::Mismatch
            );
            let ours = hash_password("correct horse", CHEAP, pepper).unwrap();
            let parsed = PasswordHash::new(&ours).unwrap();
            assert!(
                argon2(CHEAP, pepper)
                    .unwrap()
                    .verify_password(b"correct horse", &parsed)
                    .is_ok()
            );
            assert!(
                argon2(CHEAP, pepper)
                    .unwrap()
                    .verify_password(b"correct horsE", &parsed)
                    .is_err()
            );
        }
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
