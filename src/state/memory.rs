//! The in-process state store: a map under a mutex, with monotonic expiry. Right for a single
//! gateway; several replicas need the Redis store.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{StateError, StateKey, StateStore, lockout_retention};
use crate::lockout::{Blocked, LockState, LockoutPolicy, Reserved};

#[derive(Debug)]
enum Value {
    Bytes(Vec<u8>),
    Counter(u64),
    Number(i64),
    Lock(LockState),
    Set(std::collections::BTreeSet<String>),
}

#[derive(Debug)]
struct Entry {
    value: Value,
    /// Milliseconds since the store's start; `NEVER` for a hard lockout. Atomic, so that a
    /// sliding session is extended under the read lock.
    expires: AtomicU64,
}

const NEVER: u64 = u64::MAX;

impl Entry {
    fn new(value: Value, expires: u64) -> Self {
        Self {
            value,
            expires: AtomicU64::new(expires),
        }
    }

    fn expired(&self, now: u64) -> bool {
        self.expires.load(Ordering::Relaxed) <= now
    }

    fn extend(&self, until: u64) {
        self.expires.store(until, Ordering::Relaxed);
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(NEVER - 1)
}

/// Reads (the forward-auth path) share a read lock; writes take the write lock.
#[derive(Debug)]
pub struct MemoryState {
    map: RwLock<HashMap<String, Entry>>,
    ops: AtomicU64,
    start: Instant,
}

impl Default for MemoryState {
    fn default() -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            ops: AtomicU64::new(0),
            start: Instant::now(),
        }
    }
}

/// Expired entries are swept every this many writes, so memory stays bounded by live keys.
const SWEEP_EVERY: u64 = 4096;

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    fn now(&self) -> u64 {
        ms(self.start.elapsed())
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, Entry>, u64) -> T,
    ) -> Result<T, StateError> {
        let now = self.now();
        let mut map = self
            .map
            .write()
            .map_err(|_| StateError::Unavailable("state map poisoned".into()))?;
        if self
            .ops
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            map.retain(|_, e| !e.expired(now));
        }
        Ok(f(&mut map, now))
    }

    fn read<T>(&self, f: impl FnOnce(&HashMap<String, Entry>, u64) -> T) -> Result<T, StateError> {
        let now = self.now();
        let map = self
            .map
            .read()
            .map_err(|_| StateError::Unavailable("state map poisoned".into()))?;
        Ok(f(&map, now))
    }

    /// Number of live entries (for tests and metrics).
    pub fn len(&self) -> usize {
        self.read(|m, now| m.values().filter(|e| !e.expired(now)).count())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn live<'a>(map: &'a mut HashMap<String, Entry>, key: &str, now: u64) -> Option<&'a mut Entry> {
    if map.get(key).is_some_and(|e| e.expired(now)) {
        map.remove(key);
    }
    map.get_mut(key)
}

/// The entry unless it has expired (expired entries are removed by writes and sweeps).
fn alive<'a>(map: &'a HashMap<String, Entry>, key: &str, now: u64) -> Option<&'a Entry> {
    map.get(key).filter(|e| !e.expired(now))
}

#[async_trait]
impl StateStore for MemoryState {
    async fn put(&self, key: &StateKey, value: &[u8], ttl: Duration) -> Result<(), StateError> {
        self.with(|m, now| {
            m.insert(
                key.0.clone(),
                Entry::new(Value::Bytes(value.to_vec()), now + ms(ttl)),
            );
        })
    }

    async fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        self.read(|m, now| match alive(m, &key.0, now).map(|e| &e.value) {
            Some(Value::Bytes(b)) => Some(b.clone()),
            _ => None,
        })
    }

    async fn take(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        self.with(|m, now| {
            live(m, &key.0, now)?;
            match m.remove(&key.0).map(|e| e.value) {
                Some(Value::Bytes(b)) => Some(b),
                _ => None,
            }
        })
    }

    async fn delete(&self, key: &StateKey) -> Result<(), StateError> {
        self.with(|m, _| {
            m.remove(&key.0);
        })
    }

    async fn get_touch(
        &self,
        key: &StateKey,
        ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StateError> {
        // The read lock is enough: the expiry is atomic.
        self.read(|m, now| match alive(m, &key.0, now) {
            Some(
                e @ Entry {
                    value: Value::Bytes(b),
                    ..
                },
            ) => {
                e.extend(now + ms(ttl));
                Some(b.clone())
            }
            _ => None,
        })
    }

    async fn set_add(&self, key: &StateKey, member: &str, ttl: Duration) -> Result<(), StateError> {
        self.with(|m, now| match live(m, &key.0, now) {
            Some(Entry {
                value: Value::Set(set),
                expires,
            }) => {
                set.insert(member.to_owned());
                expires.store(now + ms(ttl), Ordering::Relaxed);
            }
            _ => {
                m.insert(
                    key.0.clone(),
                    Entry::new(Value::Set([member.to_owned()].into()), now + ms(ttl)),
                );
            }
        })
    }

    async fn set_members(&self, key: &StateKey) -> Result<Vec<String>, StateError> {
        self.read(|m, now| match alive(m, &key.0, now).map(|e| &e.value) {
            Some(Value::Set(set)) => set.iter().cloned().collect(),
            _ => Vec::new(),
        })
    }

    async fn set_remove(&self, key: &StateKey, member: &str) -> Result<(), StateError> {
        self.with(|m, now| {
            if let Some(Entry {
                value: Value::Set(set),
                ..
            }) = live(m, &key.0, now)
            {
                set.remove(member);
            }
        })
    }

    async fn touch(&self, key: &StateKey, ttl: Duration) -> Result<bool, StateError> {
        self.with(|m, now| match live(m, &key.0, now) {
            Some(e) => {
                e.extend(now + ms(ttl));
                true
            }
            None => false,
        })
    }

    async fn incr_window(&self, key: &StateKey, window: Duration) -> Result<u64, StateError> {
        self.with(|m, now| match live(m, &key.0, now) {
            Some(Entry {
                value: Value::Counter(n),
                ..
            }) => {
                *n += 1;
                *n
            }
            _ => {
                m.insert(
                    key.0.clone(),
                    Entry::new(Value::Counter(1), now + ms(window)),
                );
                1
            }
        })
    }

    async fn counter(&self, key: &StateKey) -> Result<u64, StateError> {
        self.read(|m, now| match alive(m, &key.0, now).map(|e| &e.value) {
            Some(Value::Counter(n)) => *n,
            _ => 0,
        })
    }

    async fn advance_if_greater(
        &self,
        key: &StateKey,
        value: i64,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        self.with(|m, now| {
            let accept = match live(m, &key.0, now).map(|e| &e.value) {
                Some(Value::Number(cur)) => value > *cur,
                _ => true,
            };
            if accept {
                m.insert(
                    key.0.clone(),
                    Entry::new(Value::Number(value), now + ms(ttl)),
                );
            }
            accept
        })
    }

    async fn lockout_begin(
        &self,
        key: &StateKey,
        at: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Result<Result<Reserved, Blocked>, StateError> {
        let retention = lockout_retention(policy);
        self.with(|m, now| {
            let mut state = match live(m, &key.0, now).map(|e| &e.value) {
                Some(Value::Lock(s)) => *s,
                _ => LockState::default(),
            };
            let result = state.begin_attempt(at, policy);
            if result.is_ok() {
                let expires = if state.hard_locked {
                    NEVER
                } else {
                    now + ms(retention)
                };
                m.insert(key.0.clone(), Entry::new(Value::Lock(state), expires));
            }
            result
        })
    }

    async fn lockout_state(&self, key: &StateKey) -> Result<LockState, StateError> {
        self.read(|m, now| match alive(m, &key.0, now).map(|e| &e.value) {
            Some(Value::Lock(s)) => *s,
            _ => LockState::default(),
        })
    }

    async fn lockout_reset(&self, key: &StateKey) -> Result<(), StateError> {
        self.delete(key).await
    }

    async fn count_sessions(&self) -> Result<Option<u64>, StateError> {
        let prefix = StateKey::session("").0;
        self.read(|m, now| {
            Some(
                m.iter()
                    .filter(|(k, e)| k.starts_with(&prefix) && !e.expired(now))
                    .count() as u64,
            )
        })
    }

    async fn ping(&self) -> Result<(), StateError> {
        self.with(|_, _| ())
    }
}
