//! The few seconds' memory of browser cookies already recognised as registered terminals,
//! so that the forward-auth path does not read the register on every request. A leaf: the
//! register holds one, and the browser use cases read and fill it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::Device;

/// How long a recognised cookie is trusted without reading the register again (a disable or
/// a revocation on this gateway forgets it at once; on another replica within this time).
const RECOGNITION_TTL: Duration = Duration::seconds(10);
const CACHE_LIMIT: usize = 10_000;

/// A recognised cookie: the device's id and name, and until when it is trusted unread.
type Entry = (Uuid, String, DateTime<Utc>);

/// Cookies recognised lately, by the hash of the cookie.
#[derive(Debug, Clone, Default)]
pub struct Recognised(Arc<Mutex<HashMap<String, Entry>>>);

impl Recognised {
    pub(super) fn get(&self, key: &str, now: DateTime<Utc>) -> Option<String> {
        let map = self.0.lock().ok()?;
        map.get(key)
            .filter(|(_, _, until)| now < *until)
            .map(|(_, name, _)| name.clone())
    }

    pub(super) fn put(&self, key: String, device: &Device, now: DateTime<Utc>) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= CACHE_LIMIT {
                map.clear();
            }
            map.insert(key, (device.id, device.name.clone(), now + RECOGNITION_TTL));
        }
    }

    /// Drop every cached cookie of a device.
    pub fn forget(&self, device: Uuid) {
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, (id, _, _)| *id != device);
        }
    }
}
