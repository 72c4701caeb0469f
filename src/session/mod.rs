//! Sessions: opaque 256-bit ids handed to the browser in a cookie; the state store keeps only
//! the SHA-256 of the id (so a leaked state dump holds no usable cookie). Idle timeout slides
//! on every request behind the gateway (one `get_touch` round trip); the absolute timeout is
//! fixed at login. Each account has an index of its sessions so that logout everywhere,
//! password change, disable and an administrator's revoke can end them all.

pub mod assertion;
pub mod keys;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::SessionConfig;
use crate::crypto::{SecretString, is_token, random_token};
use crate::lockout::Zone;
use crate::state::{StateError, StateKey, StateStore};

/// Who a session belongs to and how they signed in: what the login step hands over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSubject {
    pub account_id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub account_type: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub facility: String,
    /// RFC 8176 methods presented at login.
    pub amr: Vec<String>,
    pub zone: Zone,
    pub ip: String,
    pub user_agent: String,
    /// The account had an enrolled second factor when the session was made (the gate asks
    /// `issue_session` for every system a request enters).
    #[serde(default)]
    pub has_second_factor: bool,
    /// An administrator had made a second factor mandatory for the account.
    #[serde(default)]
    pub second_factor_required: bool,
    /// A vendor's session: the maintenance window it was made in, and that window's system.
    #[serde(default)]
    pub maintenance_window: Option<String>,
    #[serde(default)]
    pub window_system: Option<String>,
    /// Made with a break-glass code.
    #[serde(default)]
    pub break_glass: bool,
}

/// A session as stored: its subject plus its handle and lifetime. `sid` is the public
/// handle (hash of the cookie value): it appears in assertions, listings and audit records,
/// and cannot be turned back into a cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub sid: String,
    pub subject: SessionSubject,
    // Milliseconds on the wire: parsed on every request behind the gateway.
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub absolute_expiry: DateTime<Utc>,
}

/// Reading a record reads its subject: `record.username`, `record.amr`, …
impl std::ops::Deref for SessionRecord {
    type Target = SessionSubject;

    fn deref(&self) -> &SessionSubject {
        &self.subject
    }
}

impl SessionRecord {
    /// `aal2` when two distinct factor kinds were presented, else `aal1` (NIST SP 800-63B).
    pub fn acr(&self) -> &'static str {
        if crate::policy::factors::kinds(&self.amr).len() >= 2 {
            "aal2"
        } else {
            "aal1"
        }
    }
}

/// The public handle of a session id.
pub fn sid_of(cookie: &str) -> String {
    hex::encode(&Sha256::digest(cookie.as_bytes())[..16])
}

/// A cookie value that could be a session id at all (cheap rejection of garbage before any
/// state lookup).
pub fn plausible_cookie(value: &str) -> bool {
    is_token(value)
}

/// Parsed records by sid, reused while the stored bytes are unchanged: the forward-auth path
/// reads the session on every request, and parsing it was the largest cost of the lookup.
/// Each entry also says when the state store last confirmed it.
type Parsed = std::sync::RwLock<std::collections::HashMap<String, Parsed1>>;

#[derive(Debug)]
struct Parsed1 {
    bytes: Vec<u8>,
    record: Arc<SessionRecord>,
    confirmed: DateTime<Utc>,
}

/// Parsed records kept at most; the cache is emptied when full.
const PARSED_MAX: usize = 50_000;

/// The longest a replica may go on trusting a session another replica revoked.
pub const MAX_LOCAL_TRUST: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct SessionService {
    state: Arc<dyn StateStore>,
    config: SessionConfig,
    parsed: Arc<Parsed>,
    /// How long a confirmation from the state store is trusted without asking again (a
    /// shared store only: it saves a round trip per request). Sessions revoked here are
    /// dropped at once; those revoked by another replica are refused within this time.
    local_trust: Option<chrono::Duration>,
}

impl SessionService {
    pub fn new(state: Arc<dyn StateStore>, config: SessionConfig) -> Self {
        Self {
            state,
            config,
            parsed: Arc::new(Parsed::default()),
            local_trust: None,
        }
    }

    /// Trust the state store's answer about a session for `window` (at most 1 s).
    pub fn with_local_trust(mut self, window: Duration) -> Self {
        let window = window.min(MAX_LOCAL_TRUST);
        self.local_trust = chrono::Duration::from_std(window).ok();
        self
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    fn ttl_at(&self, now: DateTime<Utc>, absolute_expiry: DateTime<Utc>) -> Duration {
        let left = (absolute_expiry - now).to_std().unwrap_or(Duration::ZERO);
        self.config
            .idle_timeout
            .min(left)
            .max(Duration::from_millis(1))
    }

    /// Create a session with a fresh id. The cookie value is returned once and never stored.
    /// It ends after the absolute timeout, or at `ends_at` (a step-up keeps the end of the
    /// session it replaces).
    pub async fn create(
        &self,
        subject: SessionSubject,
        now: DateTime<Utc>,
        ends_at: Option<DateTime<Utc>>,
    ) -> Result<(SecretString, SessionRecord), StateError> {
        let cookie = random_token();
        let sid = sid_of(&cookie);
        let absolute = chrono::Duration::from_std(self.config.absolute_timeout)
            .unwrap_or(chrono::Duration::hours(12));
        let record = SessionRecord {
            sid: sid.clone(),
            subject,
            created_at: now,
            absolute_expiry: ends_at.map_or(now + absolute, |t| t.min(now + absolute)),
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| StateError::Invalid(e.to_string()))?;
        // Index first: a session that exists is always revocable through its account.
        self.state
            .set_add(
                &StateKey::account_sessions(&record.account_id),
                &sid,
                self.config.absolute_timeout,
            )
            .await?;
        self.state
            .put(
                &StateKey::session(&sid),
                &bytes,
                self.ttl_at(now, record.absolute_expiry),
            )
            .await?;
        Ok((SecretString::new(cookie), record))
    }

    /// The live session for a cookie value, extending its idle timeout. `None` for garbage,
    /// unknown, idle-expired and absolutely expired sessions alike.
    pub async fn lookup(
        &self,
        cookie: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<SessionRecord>>, StateError> {
        if !plausible_cookie(cookie) {
            return Ok(None);
        }
        let sid = sid_of(cookie);
        if let Some(window) = self.local_trust {
            let trusted = self.parsed.read().ok().and_then(|p| {
                p.get(&sid)
                    .filter(|e| now >= e.confirmed && now - e.confirmed < window)
                    .map(|e| e.record.clone())
            });
            if let Some(record) = trusted.filter(|r| now < r.absolute_expiry) {
                return Ok(Some(record));
            }
        }
        let key = StateKey::session(&sid);
        // The state store stays the authority: a revoked session is gone from it, whatever
        // the parse cache holds.
        let Some(bytes) = self.state.get_touch(&key, self.config.idle_timeout).await? else {
            self.forget(&sid);
            return Ok(None);
        };
        // The confirmation time matters only with local trust; without it, a read lock.
        let cached = if self.local_trust.is_some() {
            self.parsed.write().ok().and_then(|mut p| {
                p.get_mut(&sid).filter(|e| e.bytes == bytes).map(|e| {
                    e.confirmed = now;
                    e.record.clone()
                })
            })
        } else {
            self.parsed.read().ok().and_then(|p| {
                p.get(&sid)
                    .filter(|e| e.bytes == bytes)
                    .map(|e| e.record.clone())
            })
        };
        let record = match cached {
            Some(r) => r,
            None => {
                let r: Arc<SessionRecord> = Arc::new(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| StateError::Invalid(e.to_string()))?,
                );
                if let Ok(mut p) = self.parsed.write() {
                    if p.len() >= PARSED_MAX {
                        p.clear();
                    }
                    p.insert(
                        sid,
                        Parsed1 {
                            bytes,
                            record: r.clone(),
                            confirmed: now,
                        },
                    );
                }
                r
            }
        };
        if now >= record.absolute_expiry {
            self.revoke(&record.account_id, &record.sid).await?;
            return Ok(None);
        }
        Ok(Some(record))
    }

    fn forget(&self, sid: &str) {
        if let Ok(mut p) = self.parsed.write() {
            p.remove(sid);
        }
    }

    /// Is this session still there (not revoked, not idle-expired)? Does not extend it.
    pub async fn is_live(&self, sid: &str) -> Result<bool, StateError> {
        Ok(self.state.get(&StateKey::session(sid)).await?.is_some())
    }

    /// End one session.
    pub async fn revoke(&self, account_id: &str, sid: &str) -> Result<(), StateError> {
        self.state.delete(&StateKey::session(sid)).await?;
        self.forget(sid);
        self.state
            .set_remove(&StateKey::account_sessions(account_id), sid)
            .await
    }

    /// The account's live sessions, oldest first; dead index entries are pruned on the way.
    pub async fn list(&self, account_id: &str) -> Result<Vec<SessionRecord>, StateError> {
        let index = StateKey::account_sessions(account_id);
        let mut out = Vec::new();
        for sid in self.state.set_members(&index).await? {
            match self.state.get(&StateKey::session(&sid)).await? {
                Some(bytes) => match serde_json::from_slice::<SessionRecord>(&bytes) {
                    Ok(r) => out.push(r),
                    Err(e) => return Err(StateError::Invalid(e.to_string())),
                },
                None => self.state.set_remove(&index, &sid).await?,
            }
        }
        out.sort_by_key(|r| r.created_at);
        Ok(out)
    }

    /// End every session of an account (password change, disable, admin action); returns
    /// how many there were.
    pub async fn revoke_all(&self, account_id: &str) -> Result<usize, StateError> {
        let index = StateKey::account_sessions(account_id);
        let sids = self.state.set_members(&index).await?;
        for sid in &sids {
            self.state.delete(&StateKey::session(sid)).await?;
            self.forget(sid);
        }
        self.state.delete(&index).await?;
        Ok(sids.len())
    }

    /// The `Set-Cookie` value for a new session.
    pub fn cookie_header(&self, value: &SecretString, secure: bool) -> String {
        self.cookie(
            value.expose(),
            self.config.absolute_timeout.as_secs(),
            secure,
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie_header(&self, secure: bool) -> String {
        self.cookie("", 0, secure)
    }

    fn cookie(&self, value: &str, max_age: u64, secure: bool) -> String {
        let mut c = format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax",
            self.config.cookie_name
        );
        if secure {
            c.push_str("; Secure");
        }
        if !self.config.cookie_domain.is_empty() {
            c.push_str("; Domain=");
            c.push_str(&self.config.cookie_domain);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryState;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::TimeZone;

    fn service() -> SessionService {
        let config = crate::config::Config::from_toml_str("").unwrap().session;
        SessionService::new(Arc::new(MemoryState::new()), config)
    }

    fn new_session(account: &str) -> SessionSubject {
        SessionSubject {
            account_id: account.into(),
            username: "yamada".into(),
            display_name: "山田".into(),
            email: None,
            account_type: "staff".into(),
            roles: vec!["nurse".into()],
            groups: vec![],
            facility: "default".into(),
            amr: vec!["pwd".into()],
            zone: Zone::External,
            ip: "192.0.2.1".into(),
            user_agent: "test".into(),
            has_second_factor: false,
            second_factor_required: false,
            maintenance_window: None,
            window_system: None,
            break_glass: false,
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn ids_are_256_bit_and_only_their_hash_is_a_key() {
        let s = service();
        let (a, rec) = s.create(new_session("a1"), t0(), None).await.unwrap();
        let (b, _) = s.create(new_session("a1"), t0(), None).await.unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
        assert_eq!(rec.sid, sid_of(a.expose()));
        assert!(!StateKey::session(&rec.sid).as_str().contains(a.expose()));
        assert_eq!(
            s.lookup(a.expose(), t0()).await.unwrap().unwrap().sid,
            rec.sid
        );
        assert_eq!(s.list("a1").await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn garbage_and_expired_sessions_are_none() {
        let s = service();
        let (a, _) = s.create(new_session("a1"), t0(), None).await.unwrap();
        for junk in ["", "x", &"A".repeat(43), &"é".repeat(43), &"A".repeat(8192)] {
            assert!(s.lookup(junk, t0()).await.unwrap().is_none());
        }
        let late = t0() + chrono::Duration::hours(12);
        assert!(s.lookup(a.expose(), late).await.unwrap().is_none());
        assert!(s.list("a1").await.unwrap().is_empty());
    }

    /// Two replicas on one store: the other's revocation is refused within the trust window,
    /// this one's at once; the absolute end is never trusted past.
    #[tokio::test]
    async fn local_trust_is_bounded_and_own_revocations_are_immediate() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryState::new());
        let config = crate::config::Config::from_toml_str("").unwrap().session;
        let window = Duration::from_millis(500);
        let a = SessionService::new(store.clone(), config.clone()).with_local_trust(window);
        let b = SessionService::new(store, config).with_local_trust(window);
        let (cookie, rec) = a.create(new_session("a1"), t0(), None).await.unwrap();
        assert!(b.lookup(cookie.expose(), t0()).await.unwrap().is_some());
        a.revoke("a1", &rec.sid).await.unwrap();
        assert!(a.lookup(cookie.expose(), t0()).await.unwrap().is_none());
        let later = |ms| t0() + chrono::Duration::milliseconds(ms);
        // B was told 499 ms ago: still trusted; at 500 ms it asks the store and is refused.
        assert!(
            b.lookup(cookie.expose(), later(499))
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            b.lookup(cookie.expose(), later(500))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            b.lookup(cookie.expose(), later(501))
                .await
                .unwrap()
                .is_none()
        );
        // A window over the bound is held to it.
        let c = service().with_local_trust(Duration::from_secs(60));
        assert_eq!(
            c.local_trust,
            chrono::Duration::from_std(MAX_LOCAL_TRUST).ok()
        );
        // Without a window, every lookup asks the store.
        let (cookie, rec) = c.create(new_session("a2"), t0(), None).await.unwrap();
        let d = service();
        assert!(d.lookup(cookie.expose(), t0()).await.unwrap().is_none());
        assert!(c.lookup(cookie.expose(), t0()).await.unwrap().is_some());
        let end = rec.absolute_expiry;
        assert!(c.lookup(cookie.expose(), end).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn revoke_all_ends_every_session_of_the_account_only() {
        let s = service();
        let (a, _) = s.create(new_session("a1"), t0(), None).await.unwrap();
        let (b, _) = s.create(new_session("a1"), t0(), None).await.unwrap();
        let (c, _) = s.create(new_session("a2"), t0(), None).await.unwrap();
        assert_eq!(s.revoke_all("a1").await.unwrap(), 2);
        assert!(s.lookup(a.expose(), t0()).await.unwrap().is_none());
        assert!(s.lookup(b.expose(), t0()).await.unwrap().is_none());
        assert!(s.lookup(c.expose(), t0()).await.unwrap().is_some());
    }

    #[test]
    fn cookies_carry_the_brief_attributes() {
        let s = service();
        let v = SecretString::new("v".into());
        let c = s.cookie_header(&v, true);
        assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Lax"));
        assert!(s.clear_cookie_header(true).contains("Max-Age=0"));
    }
}
