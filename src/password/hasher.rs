//! Hashing on a pool of its own: argon2id at 19 MiB is ~20-60 ms of CPU, so it runs on
//! dedicated worker threads (one per core by default) at a lower scheduling priority than the
//! threads that answer requests (nice 19 by default, `SCHED_IDLE` if asked). Sign-ins use
//! the idle cycles, and forward-auth still comes first. Each hash's working memory is mapped for it and unmapped
//! after (`crypto::hash`), so resident memory is the base plus one argon2 area per busy
//! worker, and back at the base when sign-ins stop. The pepper never leaves this type.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use crate::crypto::SecretString;
use crate::crypto::hash::{self, HashError, HashParams, Verified};
use crate::crypto::secret::SecretBytes;

/// How the hashing workers are scheduled against the threads that answer requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashPriority {
    /// `SCHED_IDLE`: a hash runs only on a core nothing else on the host wants.
    Idle,
    /// Nice 19: the lowest ordinary priority; the default, because it still guarantees
    /// progress when other processes keep the host busy.
    #[default]
    Low,
    /// The same as every other thread.
    Normal,
}

impl HashPriority {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "idle" => Some(Self::Idle),
            "low" => Some(Self::Low),
            "normal" => Some(Self::Normal),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Low => "low",
            Self::Normal => "normal",
        }
    }

    /// Apply to the calling thread. A refusal (a sandbox forbidding it) is logged and
    /// the worker hashes at normal priority rather than not at all.
    fn apply(self) {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        use thread_priority::{ThreadPriority, set_current_thread_priority};
        let applied = match self {
            Self::Normal => Ok(()),
            Self::Idle => set_thread_priority_and_policy(
                thread_native_id(),
                ThreadPriority::Min,
                ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
            ),
            Self::Low => set_current_thread_priority(ThreadPriority::Min),
        };
        if let Err(e) = applied {
            tracing::warn!(priority = self.as_str(), error = ?e, "hashing worker priority not set");
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, Clone)]
pub struct Hasher {
    params: HashParams,
    pepper: Option<Arc<SecretBytes>>,
    jobs: mpsc::Sender<Job>,
    workers: usize,
    /// Hashes computed so far (a metric; the lockout race test reads it).
    computed: Arc<AtomicU64>,
}

impl Hasher {
    /// A pool of `workers` threads (at least one) at `priority`. The threads end when the
    /// last clone of the hasher is dropped.
    pub fn new(
        params: HashParams,
        pepper: Option<SecretBytes>,
        workers: usize,
        priority: HashPriority,
    ) -> Result<Self, HashError> {
        hash::validate_params(params)?;
        let workers = workers.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..workers {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("sekimori-hash-{i}"))
                .spawn(move || {
                    priority.apply();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| HashError::Compute(format!("starting a hashing worker: {e}")))?;
        }
        Ok(Self {
            params,
            pepper: pepper.map(Arc::new),
            jobs,
            workers,
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

    /// How many hashes run at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(HashParams, Option<&SecretBytes>) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let params = self.params;
        let pepper = self.pepper.clone();
        let computed = self.computed.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        crate::metrics::hash_queue(1.0);
        let job: Job = Box::new(move || {
            computed.fetch_add(1, Ordering::Relaxed);
            let started = std::time::Instant::now();
            let result = job(params, pepper.as_deref());
            crate::metrics::hash_time(started.elapsed());
            crate::metrics::hash_queue(-1.0);
            // The caller may have gone away; the hash was still counted.
            let _ = tx.send(result);
        });
        if self.jobs.send(job).is_err() {
            crate::metrics::hash_queue(-1.0);
            return Err(HashError::Compute("hashing pool closed".into()));
        }
        rx.await
            .map_err(|_| HashError::Compute("a hashing worker stopped".into()))?
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
        let h = Hasher::new(params, None, 1, HashPriority::Idle).unwrap();
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

    /// The workers run under the policy asked for, and hashes run side by side on them.
    #[tokio::test]
    async fn workers_hash_at_idle_priority_side_by_side() {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
        };
        let params = HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let h = Hasher::new(params, None, 2, HashPriority::Idle).unwrap();
        assert_eq!(h.workers(), 2);
        let policy = h
            .run(|_, _| Ok(thread_schedule_policy().ok()))
            .await
            .unwrap();
        assert_eq!(
            policy,
            Some(ThreadSchedulePolicy::Normal(
                NormalThreadSchedulePolicy::Idle
            ))
        );
        // Two jobs that each wait for the other can only finish on two workers at once.
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let (a, b) = (barrier.clone(), barrier);
        let (x, y) = tokio::join!(
            h.run(move |_, _| Ok(a.wait().is_leader())),
            h.run(move |_, _| Ok(b.wait().is_leader()))
        );
        assert_ne!(
            x.unwrap(),
            y.unwrap(),
            "one of the two is the barrier's leader"
        );
        let normal = Hasher::new(params, None, 1, HashPriority::Normal).unwrap();
        let policy = normal
            .run(|_, _| Ok(thread_schedule_policy().ok()))
            .await
            .unwrap();
        assert_ne!(
            policy,
            Some(ThreadSchedulePolicy::Normal(
                NormalThreadSchedulePolicy::Idle
            ))
        );
    }

    #[test]
    fn refuses_impossible_parameters() {
        let bad = HashParams {
            memory_kib: 1,
            iterations: 0,
            parallelism: 1,
        };
        assert!(Hasher::new(bad, None, 1, HashPriority::Normal).is_err());
    }
}
