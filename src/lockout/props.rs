//! Property tests of the lockout model: for any policy and any schedule of wrong attempts,
//! no more than the threshold get through — in a burst, in a window, during a lock, or over
//! time — and the hard threshold holds until an administrator unlocks.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::{Blocked, LockState, LockoutPolicy};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 4, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn policy() -> impl Strategy<Value = LockoutPolicy> {
    (1u32..12, 1i64..3600, 1i64..3600, 1u32..60, 1u32..300).prop_map(
        |(threshold, window_s, base_s, max_factor, hard)| LockoutPolicy {
            threshold,
            window: Duration::seconds(window_s),
            base_lock: Duration::seconds(base_s),
            max_lock: Duration::seconds(base_s * i64::from(max_factor)),
            hard_threshold: hard,
        },
    )
}

fn config() -> ProptestConfig {
    crate::test_support::proptest_config(2048)
}

proptest! {
    #![proptest_config(config())]

    /// N wrong attempts at once, or all within less than a window and a lock: exactly
    /// min(N, threshold) get through (or the hard threshold, if that is lower).
    #[test]
    fn a_burst_lets_exactly_the_threshold_through(
        p in policy(),
        offsets in proptest::collection::vec(0u32..1000, 1..300),
    ) {
        let span = p.window.min(p.base_lock).num_milliseconds();
        let mut times: Vec<i64> = offsets
            .iter()
            .map(|o| i64::from(*o) * (span - 1) / 1000)
            .collect();
        times.sort_unstable();
        let mut s = LockState::default();
        let through = times
            .iter()
            .filter(|ms| s.begin_attempt(t0() + Duration::milliseconds(**ms), &p).is_ok())
            .count();
        let limit = p.threshold.min(p.hard_threshold) as usize;
        prop_assert_eq!(through, times.len().min(limit));
    }

    /// Any schedule of attempts, with an occasional success: a window never counts more
    /// than the threshold, nothing gets through a lock or a hard lock, no more than the hard
    /// threshold get through between successes, and over a span D at most
    /// threshold · (⌊D / min(window, base_lock)⌋ + 1) wrong attempts get through.
    #[test]
    fn no_schedule_gets_more_than_the_threshold_through(
        p in policy(),
        steps in proptest::collection::vec((0u64..7_200_000, 0u8..40), 1..400),
    ) {
        let mut s = LockState::default();
        let mut now = t0();
        let mut locked_until: Option<DateTime<Utc>> = None;
        let mut hard = false;
        let mut since_success = 0u32;
        // Wrong attempts that got through since the last success, and when the first did.
        let mut through: Vec<DateTime<Utc>> = Vec::new();
        for (gap, roll) in steps {
            // Gaps from nothing to two hours, mostly short.
            now += Duration::milliseconds(i64::try_from(gap >> (roll % 12)).unwrap_or(0));
            if roll == 0 {
                s.succeed();
                (locked_until, hard, since_success) = (None, false, 0);
                through.clear();
                continue;
            }
            match s.begin_attempt(now, &p) {
                Ok(r) => {
                    prop_assert!(!hard, "through a hard lock");
                    prop_assert!(locked_until.is_none_or(|u| now >= u), "through a lock");
                    prop_assert!(r.in_window <= p.threshold);
                    since_success += 1;
                    prop_assert!(since_success <= p.hard_threshold);
                    prop_assert_eq!(r.hard_locked, since_success == p.hard_threshold);
                    if let Some(u) = r.locks_until {
                        prop_assert_eq!(r.in_window, p.threshold);
                        locked_until = Some(u);
                    }
                    hard |= r.hard_locked;
                    through.push(now);
                    let span = (now - through[0]).num_milliseconds();
                    let epoch = p.window.min(p.base_lock).num_milliseconds();
                    let bound = u64::from(p.threshold) * (u64::try_from(span / epoch).unwrap_or(0) + 1);
                    prop_assert!(through.len() as u64 <= bound,
                        "{} through in {} ms (bound {})", through.len(), span, bound);
                }
                Err(Blocked::UntilAdminUnlock) => prop_assert!(hard),
                Err(Blocked::Until(u)) => {
                    prop_assert!(!hard);
                    prop_assert_eq!(Some(u), locked_until);
                    prop_assert!(now < u);
                }
            }
        }
    }
}
