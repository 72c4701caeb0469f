//! The clock. The system clock is read here and nowhere else (clippy `disallowed-methods`
//! enforces it); domain code takes `now` as an argument, services hold an `Arc<dyn Clock>`.

use std::sync::Mutex;

use chrono::{DateTime, FixedOffset, Utc};

/// Japan Standard Time. Japan has no daylight saving, so a fixed offset is exact.
pub const JST_OFFSET_SECONDS: i32 = 9 * 3600;

/// Something that tells the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; for tests and `--at` style what-if commands.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut guard) = self.0.lock() {
            *guard = at;
        }
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut guard) = self.0.lock() {
            *guard += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        match self.0.lock() {
            Ok(guard) => *guard,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

/// The JST offset as a chrono type.
pub fn jst() -> FixedOffset {
    // 9 hours is always within chrono's ±24h range; the fallback is unreachable but keeps
    // this free of `expect`.
    FixedOffset::east_opt(JST_OFFSET_SECONDS).unwrap_or_else(|| Utc.fix())
}

use chrono::Offset as _;
use chrono::TimeZone as _;

/// Render an instant in JST with its offset, e.g. `2026-11-21T09:00:00.000+09:00`.
pub fn to_jst_string(at: DateTime<Utc>) -> String {
    at.with_timezone(&jst())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// A stored time (`2026-12-06T19:28:48.123+09:00`) as people read it: `2026-12-06 19:28:48
/// JST`; anything else as it is.
pub fn readable(stored: &str) -> String {
    DateTime::parse_from_rfc3339(stored).map_or_else(
        |_| stored.to_owned(),
        |t| to_jst_display(t.with_timezone(&Utc)),
    )
}

/// An instant for people, in the consoles, reports and CLI tables: `2026-12-06 19:28:48 JST`.
pub fn to_jst_display(at: DateTime<Utc>) -> String {
    at.with_timezone(&jst())
        .format("%Y-%m-%d %H:%M:%S JST")
        .to_string()
}

/// Milliseconds since the Unix epoch, the storage form of every timestamp.
pub fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// The inverse of [`to_millis`]; out-of-range values clamp to the epoch rather than panic.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jst_rendering_carries_the_offset() {
        let at = Utc.with_ymd_and_hms(2027, 3, 31, 15, 0, 0).unwrap();
        assert_eq!(to_jst_string(at), "2027-04-01T00:00:00.000+09:00");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(chrono::Duration::minutes(15));
        assert_eq!(clock.now(), start + chrono::Duration::minutes(15));
        assert_eq!(from_millis(to_millis(clock.now())), clock.now());
    }
}
