//! The Redis state store, for several gateway replicas sharing one Redis. Uses a lazily
//! connecting `ConnectionManager` (reconnects by itself) with short timeouts, so a Redis
//! outage turns into `StateError::Unavailable` quickly instead of hanging requests.
//! Counters, single-use values and the lockout model run as Lua scripts: atomic on the server.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, Script};

use super::{StateError, StateKey, StateStore, lockout_retention};
use crate::lockout::{Blocked, LockState, LockoutPolicy, Reserved};

/// The lockout model of `crate::lockout::LockState::begin_attempt`, transition for transition.
/// Returns {status, a, in_window, consecutive, locks, locked_until, hard, hard_now} where
/// status 0 = reserved (a = end of a lock this attempt started, or 0), 1 = blocked until a,
/// 2 = blocked until an administrator unlocks.
const LOCKOUT_BEGIN: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local threshold = tonumber(ARGV[3])
local base = tonumber(ARGV[4])
local maxlock = tonumber(ARGV[5])
local hard = tonumber(ARGV[6])
local retention = tonumber(ARGV[7])
local s = redis.call('HMGET', KEYS[1], 'ws', 'iw', 'c', 'l', 'lu', 'h')
local ws = tonumber(s[1]) or 0
local iw = tonumber(s[2]) or 0
local c = tonumber(s[3]) or 0
local l = tonumber(s[4]) or 0
local lu = tonumber(s[5]) or 0
local h = tonumber(s[6]) or 0
if h == 1 then return {2, 0, iw, c, l, lu, h, 0} end
if lu > now then return {1, lu, iw, c, l, lu, h, 0} end
if lu ~= 0 then lu = 0; iw = 0; ws = 0 end
if ws == 0 or now >= ws + window then ws = now; iw = 0 end
iw = iw + 1
c = c + 1
local started = 0
local hard_now = 0
if c >= hard then
  h = 1
  hard_now = 1
elseif iw >= threshold then
  l = l + 1
  local d = base * math.pow(2, math.min(l - 1, 30))
  if d > maxlock then d = maxlock end
  lu = now + d
  started = lu
end
redis.call('HSET', KEYS[1], 'ws', ws, 'iw', iw, 'c', c, 'l', l, 'lu', lu, 'h', h)
if h == 1 then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], retention) end
return {0, started, iw, c, l, lu, h, hard_now}
";

const INCR_WINDOW: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

const ADVANCE_IF_GREATER: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]))
local v = tonumber(ARGV[1])
if cur == nil or v > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

#[derive(Clone)]
pub struct RedisState {
    conn: ConnectionManager,
    url_for_logs: String,
    lockout_begin: Script,
    incr_window: Script,
    advance: Script,
}

impl std::fmt::Debug for RedisState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisState")
            .field("url", &self.url_for_logs)
            .finish_non_exhaustive()
    }
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
        _ => url.to_owned(),
    }
}

fn unavailable(e: redis::RedisError) -> StateError {
    crate::metrics::state_error();
    StateError::Unavailable(e.to_string())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisState {
    /// Prepare a client; the connection is made on first use and re-made after failures.
    pub fn connect_lazy(url: &str) -> Result<Self, StateError> {
        let client = redis::Client::open(url).map_err(|e| {
            StateError::Unavailable(format!("invalid Redis URL {}: {e}", redact(url)))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(1500)))
            .set_response_timeout(Some(Duration::from_millis(1500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(Self {
            conn,
            url_for_logs: redact(url),
            lockout_begin: Script::new(LOCKOUT_BEGIN),
            incr_window: Script::new(INCR_WINDOW),
            advance: Script::new(ADVANCE_IF_GREATER),
        })
    }
}

#[async_trait]
impl StateStore for RedisState {
    async fn put(&self, key: &StateKey, value: &[u8], ttl: Duration) -> Result<(), StateError> {
        let mut c = self.conn.clone();
        let opts = redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(millis(ttl)));
        c.set_options::<_, _, ()>(key.as_str(), value, opts)
            .await
            .map_err(unavailable)
    }

    async fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        let mut c = self.conn.clone();
        c.get(key.as_str()).await.map_err(unavailable)
    }

    async fn take(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        let mut c = self.conn.clone();
        c.get_del(key.as_str()).await.map_err(unavailable)
    }

    async fn delete(&self, key: &StateKey) -> Result<(), StateError> {
        let mut c = self.conn.clone();
        c.del::<_, ()>(key.as_str()).await.map_err(unavailable)
    }

    async fn get_touch(
        &self,
        key: &StateKey,
        ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StateError> {
        let mut c = self.conn.clone();
        let ms = millis(ttl);
        c.get_ex(key.as_str(), redis::Expiry::PX(ms))
            .await
            .map_err(unavailable)
    }

    async fn set_add(&self, key: &StateKey, member: &str, ttl: Duration) -> Result<(), StateError> {
        let mut c = self.conn.clone();
        redis::pipe()
            .atomic()
            .sadd(key.as_str(), member)
            .ignore()
            .pexpire(key.as_str(), i64::try_from(millis(ttl)).unwrap_or(i64::MAX))
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn set_members(&self, key: &StateKey) -> Result<Vec<String>, StateError> {
        let mut c = self.conn.clone();
        c.smembers(key.as_str()).await.map_err(unavailable)
    }

    async fn set_remove(&self, key: &StateKey, member: &str) -> Result<(), StateError> {
        let mut c = self.conn.clone();
        c.srem::<_, _, ()>(key.as_str(), member)
            .await
            .map_err(unavailable)
    }

    async fn touch(&self, key: &StateKey, ttl: Duration) -> Result<bool, StateError> {
        let mut c = self.conn.clone();
        let ms = i64::try_from(millis(ttl)).unwrap_or(i64::MAX);
        c.pexpire(key.as_str(), ms).await.map_err(unavailable)
    }

    async fn incr_window(&self, key: &StateKey, window: Duration) -> Result<u64, StateError> {
        let mut c = self.conn.clone();
        self.incr_window
            .key(key.as_str())
            .arg(millis(window))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn counter(&self, key: &StateKey) -> Result<u64, StateError> {
        let mut c = self.conn.clone();
        let v: Option<u64> = c.get(key.as_str()).await.map_err(unavailable)?;
        Ok(v.unwrap_or(0))
    }

    async fn advance_if_greater(
        &self,
        key: &StateKey,
        value: i64,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        let mut c = self.conn.clone();
        let n: i64 = self
            .advance
            .key(key.as_str())
            .arg(value)
            .arg(millis(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn lockout_begin(
        &self,
        key: &StateKey,
        now: DateTime<Utc>,
        p: &LockoutPolicy,
    ) -> Result<Result<Reserved, Blocked>, StateError> {
        let mut c = self.conn.clone();
        let r: Vec<i64> = self
            .lockout_begin
            .key(key.as_str())
            .arg(now.timestamp_millis())
            .arg(p.window.num_milliseconds())
            .arg(p.threshold)
            .arg(p.base_lock.num_milliseconds())
            .arg(p.max_lock.num_milliseconds())
            .arg(p.hard_threshold)
            .arg(millis(lockout_retention(p)))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        let [status, a, in_window, consecutive, ..] = r[..] else {
            return Err(StateError::Invalid(format!(
                "lockout script returned {r:?}"
            )));
        };
        let hard_now = r.get(7).copied().unwrap_or(0) == 1;
        let at = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        let n = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(match status {
            0 => Ok(Reserved {
                in_window: n(in_window),
                consecutive: n(consecutive),
                locks_until: (a != 0).then(|| at(a)),
                hard_locked: hard_now,
            }),
            1 => Err(Blocked::Until(at(a))),
            _ => Err(Blocked::UntilAdminUnlock),
        })
    }

    async fn lockout_state(&self, key: &StateKey) -> Result<LockState, StateError> {
        let mut c = self.conn.clone();
        let v: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(key.as_str())
            .arg(&["ws", "iw", "c", "l", "lu", "h"])
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        let g = |i: usize| v.get(i).copied().flatten().unwrap_or(0);
        let n = |i: usize| u32::try_from(g(i)).unwrap_or(u32::MAX);
        Ok(LockState {
            window_start_ms: g(0),
            in_window: n(1),
            consecutive: n(2),
            locks: n(3),
            locked_until_ms: g(4),
            hard_locked: g(5) == 1,
        })
    }

    async fn lockout_reset(&self, key: &StateKey) -> Result<(), StateError> {
        self.delete(key).await
    }

    /// Counted with `SCAN` (never `KEYS`): cheap enough every few seconds for the number of
    /// sessions a gateway serves.
    async fn count_sessions(&self) -> Result<Option<u64>, StateError> {
        let mut c = self.conn.clone();
        let pattern = format!("{}*", StateKey::session("").0);
        let mut cursor: u64 = 0;
        let mut n: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut c)
                .await
                .map_err(unavailable)?;
            n += keys.len() as u64;
            if next == 0 {
                return Ok(Some(n));
            }
            cursor = next;
        }
    }

    async fn ping(&self) -> Result<(), StateError> {
        let mut c = self.conn.clone();
        let pong: String = redis::cmd("PING")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StateError::Invalid(format!("PING answered {pong}")))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            super::redact("redis://:s3cret@10.0.0.5:6379/0"),
            "redis://***@10.0.0.5:6379/0"
        );
        assert_eq!(
            super::redact("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
