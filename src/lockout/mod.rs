//! Account lockout (guideline 7.0: 一定回数、認証に失敗した場合には、以降一定時間ログイン試行が
//! 不能となる仕組み; NIST SP 800-63B: at most 100 consecutive failures).
//!
//! This module is the reference model: pure, clock-free, with `now` as an argument. The state
//! stores implement the same transitions atomically (in-process under a lock, in Redis as a Lua
//! script) and are tested against this model.
//!
//! ```text
//!            begin_attempt (slot reserved BEFORE any hash is computed)
//!   Open ───────────────────────────────────────────────► Open (count+1)
//!     │  count reaches `threshold` within `window`              │
//!     ▼                                                          │ success: reset
//!   Locked(until = now + base·2^(locks-1), capped at `max_lock`) ◄┘
//!     │  until passes                     consecutive reaches `hard_threshold`
//!     ▼                                                          ▼
//!   Open (window reset, escalation kept)                  HardLocked (admin unlock only)
//! ```
//!
//! An attempt is counted as a failure when its slot is reserved, so N parallel wrong attempts
//! can pass the check at most `threshold` times: every later one finds the account locked
//! without a hash being computed (Keycloak CVE-2024-4629 was the opposite). A success
//! resets the state, and earlier failures are disregarded (NIST).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Where an attempt comes from. Failures are counted per zone, so attempts from outside
/// cannot lock a clinician out at a registered terminal or on the clinic network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    /// A registered terminal or a configured clinic network.
    Trusted,
    /// Anywhere else.
    External,
}

impl Zone {
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::Trusted => "trusted",
            Zone::External => "external",
        }
    }
}

/// The lockout settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub window: Duration,
    pub base_lock: Duration,
    pub max_lock: Duration,
    pub hard_threshold: u32,
}

impl Default for LockoutPolicy {
    /// 5 failures in 15 minutes → 15 minutes, doubling per repeat up to 24 hours;
    /// 100 consecutive failures → locked until an administrator unlocks.
    fn default() -> Self {
        Self {
            threshold: 5,
            window: Duration::minutes(15),
            base_lock: Duration::minutes(15),
            max_lock: Duration::hours(24),
            hard_threshold: 100,
        }
    }
}

impl LockoutPolicy {
    /// Lock duration for the `n`th lock (1-based): base · 2^(n-1), capped.
    pub fn lock_duration(&self, n: u32) -> Duration {
        let factor = 1i64
            .checked_shl(n.saturating_sub(1).min(30))
            .unwrap_or(i64::MAX);
        let ms = self.base_lock.num_milliseconds().saturating_mul(factor);
        Duration::milliseconds(ms.min(self.max_lock.num_milliseconds()))
    }

    /// How long a counter must be kept: the longest it can still matter.
    pub fn retention(&self) -> Duration {
        self.max_lock + self.window
    }
}

/// Per username-and-zone counter state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockState {
    /// Start of the current counting window (ms since epoch), 0 when none.
    pub window_start_ms: i64,
    /// Attempts counted in the current window.
    pub in_window: u32,
    /// Attempts since the last success, across windows.
    pub consecutive: u32,
    /// Temporary locks since the last success (drives escalation).
    pub locks: u32,
    /// End of the current temporary lock (ms since epoch), 0 when none.
    pub locked_until_ms: i64,
    pub hard_locked: bool,
}

/// Why an attempt may not proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Until(DateTime<Utc>),
    UntilAdminUnlock,
}

/// What a reservation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// Attempts counted in this window, including this one.
    pub in_window: u32,
    pub consecutive: u32,
    /// This attempt's failure (if it fails) has started a lock ending then.
    pub locks_until: Option<DateTime<Utc>>,
    /// This attempt reached the hard threshold.
    pub hard_locked: bool,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl LockState {
    /// Whether an attempt may start now, without changing anything.
    pub fn blocked(&self, now: DateTime<Utc>) -> Option<Blocked> {
        if self.hard_locked {
            Some(Blocked::UntilAdminUnlock)
        } else if self.locked_until_ms > ms(now) {
            Some(Blocked::Until(at(self.locked_until_ms)))
        } else {
            None
        }
    }

    /// Reserve an attempt slot: count it as a failure now, before any hash is computed.
    pub fn begin_attempt(
        &mut self,
        now: DateTime<Utc>,
        p: &LockoutPolicy,
    ) -> Result<Reserved, Blocked> {
        if let Some(b) = self.blocked(now) {
            return Err(b);
        }
        let now_ms = ms(now);
        if self.locked_until_ms != 0 {
            // A lock has run out: start a fresh window, keep the escalation level.
            self.locked_until_ms = 0;
            self.in_window = 0;
            self.window_start_ms = 0;
        }
        if self.window_start_ms == 0 || now_ms >= self.window_start_ms + p.window.num_milliseconds()
        {
            self.window_start_ms = now_ms;
            self.in_window = 0;
        }
        self.in_window += 1;
        self.consecutive += 1;
        let mut reserved = Reserved {
            in_window: self.in_window,
            consecutive: self.consecutive,
            locks_until: None,
            hard_locked: false,
        };
        if self.consecutive >= p.hard_threshold {
            self.hard_locked = true;
            reserved.hard_locked = true;
        } else if self.in_window >= p.threshold {
            self.locks += 1;
            let until = now + p.lock_duration(self.locks);
            self.locked_until_ms = ms(until);
            reserved.locks_until = Some(until);
        }
        Ok(reserved)
    }

    /// The attempt succeeded: everything is forgiven.
    pub fn succeed(&mut self) {
        *self = LockState::default();
    }
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 4, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        let p = LockoutPolicy::default();
        let mut s = LockState::default();
        for i in 1..=4 {
            let r = s.begin_attempt(t0() + Duration::seconds(i), &p).unwrap();
            assert_eq!((r.in_window, r.locks_until), (i as u32, None));
        }
        let fifth = s.begin_attempt(t0() + Duration::seconds(5), &p).unwrap();
        assert_eq!(
            fifth.locks_until,
            Some(t0() + Duration::seconds(5) + Duration::minutes(15))
        );
        assert_eq!(
            s.begin_attempt(t0() + Duration::seconds(6), &p),
            Err(Blocked::Until(
                t0() + Duration::seconds(5) + Duration::minutes(15)
            ))
        );
        // After the lock: a fresh window.
        let r = s.begin_attempt(t0() + Duration::minutes(16), &p).unwrap();
        assert_eq!(r.in_window, 1);
    }

    #[test]
    fn locks_double_up_to_a_day() {
        let p = LockoutPolicy::default();
        let mut s = LockState::default();
        let mut now = t0();
        let mut durations = Vec::new();
        for _ in 0..9 {
            let mut until = None;
            for _ in 0..5 {
                until = s.begin_attempt(now, &p).unwrap().locks_until;
            }
            let until = until.unwrap();
            durations.push((until - now).num_minutes());
            now = until;
        }
        assert_eq!(durations, vec![15, 30, 60, 120, 240, 480, 960, 1440, 1440]);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let p = LockoutPolicy::default();
        let mut s = LockState::default();
        for i in 0..4 {
            s.begin_attempt(t0() + Duration::minutes(i), &p).unwrap();
        }
        let r = s.begin_attempt(t0() + Duration::minutes(15), &p).unwrap();
        assert_eq!((r.in_window, r.locks_until), (1, None));
        assert_eq!(r.consecutive, 5);
    }

    #[test]
    fn success_forgives_everything() {
        let p = LockoutPolicy::default();
        let mut s = LockState::default();
        for i in 0..4 {
            s.begin_attempt(t0() + Duration::seconds(i), &p).unwrap();
        }
        s.succeed();
        assert_eq!(s, LockState::default());
        for i in 0..4 {
            assert!(
                s.begin_attempt(t0() + Duration::seconds(10 + i), &p)
                    .unwrap()
                    .locks_until
                    .is_none()
            );
        }
    }

    #[test]
    fn one_hundred_consecutive_failures_need_an_admin() {
        let p = LockoutPolicy {
            threshold: 1000,
            ..LockoutPolicy::default()
        };
        let mut s = LockState::default();
        for i in 1..100 {
            assert!(
                !s.begin_attempt(t0() + Duration::seconds(i), &p)
                    .unwrap()
                    .hard_locked
            );
        }
        assert!(
            s.begin_attempt(t0() + Duration::seconds(100), &p)
                .unwrap()
                .hard_locked
        );
        assert_eq!(
            s.begin_attempt(t0() + Duration::days(365), &p),
            Err(Blocked::UntilAdminUnlock)
        );
        s.succeed(); // what an admin unlock does
        assert!(s.begin_attempt(t0() + Duration::days(365), &p).is_ok());
    }

    #[test]
    fn with_default_policy_the_hard_lock_is_reached_across_temporary_locks() {
        let p = LockoutPolicy::default();
        let mut s = LockState::default();
        let mut now = t0();
        let mut attempts = 0;
        loop {
            match s.begin_attempt(now, &p) {
                Ok(r) => {
                    attempts += 1;
                    if r.hard_locked {
                        break;
                    }
                }
                Err(Blocked::Until(until)) => now = until,
                Err(Blocked::UntilAdminUnlock) => unreachable!(),
            }
        }
        assert_eq!(attempts, 100);
    }

    #[test]
    fn no_more_than_threshold_reservations_pass_in_a_burst() {
        let p = LockoutPolicy::default();
        let mut s = LockState::default();
        let passed = (0..200)
            .filter(|_| s.begin_attempt(t0(), &p).is_ok())
            .count();
        assert_eq!(passed, 5);
    }
}
