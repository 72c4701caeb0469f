//! Registered web terminals: the browser of a terminal bound to its device record by a
//! long-lived device cookie. Pure: the cookie's format and signature, and what a presented
//! cookie means for the stored binding at `now`.
//!
//! The cookie is `DEVICE_ID.SECRET.MAC`: the MAC (HMAC-SHA-256 under a key derived from the
//! factor-sealing key) turns away forged and mangled cookies without a database read; the
//! secret is compared with the hash on the device record, so a revoked binding or a disabled
//! device stops counting at once. The secret rotates at each sign-in from the terminal; the
//! previous one is honoured for a short grace (requests already in flight), and after that it
//! can only come from a copy: the binding is revoked and the copy reported.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::crypto::{constant_time_eq, is_token};

/// The cookie's name.
pub const COOKIE: &str = "sekimori_device";
/// Browsers keep a cookie at most 400 days (RFC 6265bis).
pub const COOKIE_MAX_AGE_SECS: i64 = 400 * 24 * 3600;
/// How long an enrolment link works.
pub const ENROLMENT_LINK_TTL: Duration = Duration::hours(24);
/// How long the previous secret still counts after a rotation.
pub const ROTATION_GRACE: Duration = Duration::seconds(60);

/// The terminal binding on a device record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    /// An enrolment link waiting to be opened (hash of its token) and when it stops working.
    pub enrol_hash: Option<String>,
    pub enrol_expires_at: Option<DateTime<Utc>>,
    /// The bound browser's current and previous secret (hashes), and when it last rotated.
    pub browser_hash: Option<String>,
    pub browser_prev_hash: Option<String>,
    pub browser_rotated_at: Option<DateTime<Utc>>,
}

/// What a presented cookie secret is for a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// The current secret.
    Current,
    /// The previous one within the grace after a rotation.
    Previous,
    /// The previous one after the grace: someone kept a copy.
    Reused,
    /// Nothing this binding knows (revoked, re-enrolled, or never bound).
    Unknown,
}

/// The stored form of an enrolment token or a browser secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(
        Sha256::new()
            .chain_update(b"sekimori terminal secret v1\x00")
            .chain_update(secret.as_bytes())
            .finalize(),
    )
}

fn eq(a: &str, b: Option<&String>) -> bool {
    b.is_some_and(|b| constant_time_eq(a.as_bytes(), b.as_bytes()))
}

impl Binding {
    pub fn is_bound(&self) -> bool {
        self.browser_hash.is_some()
    }

    /// What `secret` is for this binding at `now`.
    pub fn presented(&self, secret: &str, now: DateTime<Utc>) -> Presented {
        let h = secret_hash(secret);
        if eq(&h, self.browser_hash.as_ref()) {
            Presented::Current
        } else if eq(&h, self.browser_prev_hash.as_ref()) {
            let in_grace = self
                .browser_rotated_at
                .is_some_and(|t| now - t <= ROTATION_GRACE);
            if in_grace {
                Presented::Previous
            } else {
                Presented::Reused
            }
        } else {
            Presented::Unknown
        }
    }

    /// Does `token` open this binding's enrolment link at `now`?
    pub fn enrolment_open(&self, token: &str, now: DateTime<Utc>) -> bool {
        is_token(token)
            && eq(&secret_hash(token), self.enrol_hash.as_ref())
            && self.enrol_expires_at.is_some_and(|t| now < t)
    }

    /// Bind a browser with `secret` (the link is spent).
    pub fn bind(&mut self, secret: &str, now: DateTime<Utc>) {
        *self = Binding {
            browser_hash: Some(secret_hash(secret)),
            browser_rotated_at: Some(now),
            ..Binding::default()
        };
    }

    /// A new secret; the current one becomes the previous.
    pub fn rotate(&mut self, secret: &str, now: DateTime<Utc>) {
        self.browser_prev_hash = self.browser_hash.take();
        self.browser_hash = Some(secret_hash(secret));
        self.browser_rotated_at = Some(now);
    }

    /// Forget the browser (revoked, or a copy was seen).
    pub fn revoke(&mut self) {
        self.browser_hash = None;
        self.browser_prev_hash = None;
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8; 32], body: &str) -> String {
    let mut m = match <HmacSha256 as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        // A 32-byte key is always accepted by HMAC.
        Err(_) => return String::new(),
    };
    m.update(body.as_bytes());
    hex::encode(&m.finalize().into_bytes()[..16])
}

/// The cookie value for a device and its secret.
pub fn cookie_value(key: &[u8; 32], device: Uuid, secret: &str) -> String {
    let body = format!("{device}.{secret}");
    let tag = mac(key, &body);
    format!("{body}.{tag}")
}

/// The device and secret of a cookie whose MAC holds; None for anything else.
pub fn parse_cookie(key: &[u8; 32], value: &str) -> Option<(Uuid, String)> {
    let (body, tag) = value.rsplit_once('.')?;
    let (id, secret) = body.split_once('.')?;
    let expected = mac(key, body);
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), tag.as_bytes()) {
        return None;
    }
    let id = Uuid::parse_str(id).ok()?;
    is_token(secret).then(|| (id, secret.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::random_token;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_signed_cookie_round_trips_and_any_change_is_refused() {
        let key = [7u8; 32];
        let id = Uuid::now_v7();
        let secret = random_token();
        let v = cookie_value(&key, id, &secret);
        assert_eq!(parse_cookie(&key, &v), Some((id, secret.clone())));
        assert_eq!(parse_cookie(&[8u8; 32], &v), None, "another key");
        let mut flipped = v.clone().into_bytes();
        let i = flipped.len() - 40;
        flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            parse_cookie(&key, &String::from_utf8(flipped).unwrap()),
            None
        );
        assert_eq!(parse_cookie(&key, "garbage"), None);
        assert_eq!(parse_cookie(&key, ""), None);
    }

    #[test]
    fn a_rotated_secret_counts_briefly_then_reveals_a_copy() {
        let mut b = Binding::default();
        let first = random_token();
        b.bind(&first, at(0));
        assert_eq!(b.presented(&first, at(10)), Presented::Current);
        let second = random_token();
        b.rotate(&second, at(100));
        assert_eq!(b.presented(&second, at(101)), Presented::Current);
        assert_eq!(b.presented(&first, at(130)), Presented::Previous);
        assert_eq!(b.presented(&first, at(161)), Presented::Reused);
        assert_eq!(b.presented(&random_token(), at(101)), Presented::Unknown);
        b.revoke();
        assert_eq!(b.presented(&second, at(102)), Presented::Unknown);
        assert!(!b.is_bound());
    }

    #[test]
    fn an_enrolment_link_works_once_and_until_it_expires() {
        let token = random_token();
        let mut b = Binding {
            enrol_hash: Some(secret_hash(&token)),
            enrol_expires_at: Some(at(0) + ENROLMENT_LINK_TTL),
            ..Binding::default()
        };
        assert!(b.enrolment_open(&token, at(60)));
        assert!(!b.enrolment_open(&token, at(0) + ENROLMENT_LINK_TTL));
        assert!(!b.enrolment_open(&random_token(), at(60)));
        b.bind(&random_token(), at(61));
        assert!(!b.enrolment_open(&token, at(62)), "spent");
        assert!(b.is_bound());
    }
}
