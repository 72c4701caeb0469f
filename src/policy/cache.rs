//! A small in-process cache of `access` decisions, keyed by session, system, method and
//! normalised path. Entries live a few seconds: long enough that a page and its assets cost
//! one evaluation, short enough that a policy reload or a time-of-day rule takes effect soon.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::Decision;

#[derive(Debug)]
pub struct DecisionCache {
    map: RwLock<HashMap<String, (Arc<Decision>, Instant)>>,
    ttl: Duration,
    max: usize,
}

impl DecisionCache {
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            ttl,
            max,
        }
    }

    /// None of the parts can hold a NUL (hex sid, system ids, method tokens, and paths that
    /// normalisation refused control characters in), so NUL separates them unambiguously.
    /// The zone and device are part of the question: one session asked from a registered
    /// terminal and from elsewhere gets two decisions.
    pub fn key(
        sid: &str,
        system: &str,
        method: &str,
        path: &str,
        zone: &str,
        device: &str,
    ) -> String {
        let mut k = String::with_capacity(
            sid.len() + system.len() + method.len() + path.len() + zone.len() + device.len() + 6,
        );
        for part in [sid, system, method, path, zone, device] {
            k.push_str(part);
            k.push('\u{0}');
        }
        k
    }

    pub fn get(&self, key: &str) -> Option<Arc<Decision>> {
        let map = self.map.read().ok()?;
        map.get(key)
            .filter(|(_, t)| t.elapsed() < self.ttl)
            .map(|(d, _)| d.clone())
    }

    pub fn put(&self, key: String, decision: Arc<Decision>) {
        if let Ok(mut map) = self.map.write() {
            if map.len() >= self.max {
                let ttl = self.ttl;
                map.retain(|_, (_, t)| t.elapsed() < ttl);
                if map.len() >= self.max {
                    map.clear();
                }
            }
            map.insert(key, (decision, Instant::now()));
        }
    }

    /// Forget everything about one session (logout, revoke).
    pub fn forget_session(&self, sid: &str) {
        if let Ok(mut map) = self.map.write() {
            let prefix = format!("{sid}\u{0}");
            map.retain(|k, _| !k.starts_with(&prefix));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Verdict;

    #[test]
    fn entries_expire_and_sessions_are_forgotten() {
        let c = DecisionCache::new(Duration::from_millis(50), 10);
        let d = Decision {
            verdict: Verdict::Issue,
            policy_ids: vec!["p".into()],
            errors: vec![],
        };
        let k = DecisionCache::key("s1", "emr", "GET", "/", "external", "");
        assert_ne!(
            k,
            DecisionCache::key("s1", "emr", "GET", "/", "trusted", "ward-pc"),
            "another zone or device is another question"
        );
        let d = Arc::new(d);
        c.put(k.clone(), d.clone());
        assert_eq!(c.get(&k), Some(d.clone()));
        c.forget_session("s1");
        assert_eq!(c.get(&k), None);
        c.put(k.clone(), d);
        std::thread::park_timeout(Duration::from_millis(60));
        assert_eq!(c.get(&k), None);
    }
}
