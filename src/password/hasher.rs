//! Hashing off the async runtime on a bounded pool: argon2id at 19 MiB is ~20-60 ms of CPU,
//! so at most `max_concurrent` hashes run at once and the rest wait their turn rather than
//! starving request handling. The pepper, when configured, never leaves this type.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;

use crate::crypto::SecretString;
use crate::crypto::hash::{self, HashError, HashParams, Verified};
use crate::crypto::secret::SecretBytes;

/// Leaves the hash queue gauge when the hash is done or its caller went away.
struct Queued;

impl Drop for Queued {
    fn drop(&mut self) {
        crate::metrics::hash_queue(-1.0);
    }
}

#[derive(Debug, Clone)]
pub struct Hasher {
    params: HashParams,
    pepper: Option<Arc<SecretBytes>>,
    permits: Arc<Semaphore>,
    /// Hashes computed so far (a metric; the lockout race test reads it).
    computed: Arc<AtomicU64>,
}

impl Hasher {
    pub fn new(
        params: HashParams,
        pepper: Option<SecretBytes>,
        max_concurrent: usize,
    ) -> Result<Self, HashError> {
        hash::validate_params(params)?;
        Ok(Self {
            params,
            pepper: pepper.map(Arc::new),
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            computed: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many hashes (and verifications) this pool has computed.
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    pub fn params(&self) -> HashParams {
        self.params
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(HashParams, Option<&SecretBytes>) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        crate::metrics::hash_queue(1.0);
        let _queued = Queued;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Compute("hashing pool closed".into()))?;
        let params = self.params;
        let pepper = self.pepper.clone();
        self.computed.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || job(params, pepper.as_deref()))
            .await
            .map_err(|e| HashError::Compute(format!("hashing task failed: {e}")))?;
        crate::metrics::hash_time(started.elapsed());
        result
    }

    /// Hash an already-normalised password.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        self.run(move |params, pepper| hash::hash_password(password.expose(), params, pepper))
            .await
    }

    /// Verify an already-normalised password against a PHC string.
    pub async fn verify(&self, password: SecretString, phc: String) -> Result<Verified, HashError> {
        self.run(move |params, pepper| {
            hash::verify_password(password.expose(), &phc, params, pepper)
        })
        .await
    }

    /// Verify against several hashes (history), stopping at the first match. Returns the index.
    pub async fn find_match(
        &self,
        password: SecretString,
        phcs: Vec<String>,
    ) -> Result<Option<usize>, HashError> {
        self.run(move |params, pepper| {
            for (i, phc) in phcs.iter().enumerate() {
                if hash::verify_password(password.expose(), phc, params, pepper)?.is_match() {
                    return Ok(Some(i));
                }
            }
            Ok(None)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_pool_hashes_and_verifies() {
        let params = HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let h = Hasher::new(params, None, 1).unwrap();
        let phc = h.hash("s3cret".into()).await.unwrap();
        assert_eq!(
            h.verify("s3cret".into(), phc.clone()).await.unwrap(),
            Verified::Match
        );
        let other = h.hash("other".into()).await.unwrap();
        assert_eq!(
            h.find_match("s3cret".into(), vec![other, phc])
                .await
                .unwrap(),
            Some(1)
        );
        assert_eq!(h.find_match("nope".into(), vec![]).await.unwrap(), None);
    }

    #[test]
    fn refuses_impossible_parameters() {
        let bad = HashParams {
            memory_kib: 1,
            iterations: 0,
            parallelism: 1,
        };
        assert!(Hasher::new(bad, None, 1).is_err());
    }
}
