//! `Sekimori-Assertion`: a short-lived EdDSA JWT for the upstream app, saying who the session
//! belongs to, how they signed in (`amr`, `acr`) and for which app (`aud`). Signing costs tens
//! of microseconds, so a token is reused for the same session and app until half its life has
//! passed (the brief: never sign per request when a cached result will do).

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use super::SessionRecord;
use super::keys::KeyRing;
use crate::error::Error;

/// The claims. `sub` is the normalised username, `uid` the account id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub sid: String,
    pub uid: String,
    pub amr: Vec<String>,
    pub acr: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub facility: String,
}

/// Tokens kept at most this many; the cache is cleared of expired ones when full.
const CACHE_MAX: usize = 50_000;

/// A token kept for (sid, audience): the token, its expiry, the key id that signed it.
type Cached = (String, i64, String);

#[derive(Debug)]
pub struct Assertions {
    ring: RwLock<KeyRing>,
    issuer: String,
    ttl: Duration,
    rotate_after: Duration,
    cache: RwLock<HashMap<(String, String), Cached>>,
    /// Keys made by another replica are read from the shared directory this often.
    reload_every: std::time::Duration,
    activation: Duration,
    loaded: std::sync::Mutex<std::time::Instant>,
}

impl Assertions {
    pub fn new(ring: KeyRing, issuer: String, ttl: Duration, rotate_after: Duration) -> Self {
        Self {
            ring: RwLock::new(ring),
            issuer,
            ttl,
            rotate_after,
            cache: RwLock::new(HashMap::new()),
            reload_every: std::time::Duration::from_secs(10),
            activation: Duration::zero(),
            loaded: std::sync::Mutex::new(std::time::Instant::now()),
        }
    }

    /// How often to read the key directory again, and how long a new key waits before it
    /// signs.
    pub fn with_sharing(mut self, reload_every: std::time::Duration, activation: Duration) -> Self {
        self.reload_every = reload_every;
        self.activation = activation;
        self
    }

    fn reload_if_stale(&self) {
        let stale = self
            .loaded
            .lock()
            .map(|mut t| {
                let stale = t.elapsed() >= self.reload_every;
                if stale {
                    *t = std::time::Instant::now();
                }
                stale
            })
            .unwrap_or(false);
        if stale {
            self.reload();
        }
    }

    fn reload(&self) {
        if let Ok(mut ring) = self.ring.write()
            && let Err(e) = ring.reload()
        {
            tracing::warn!(error = %e, "reading the signing keys again failed");
        }
    }

    fn poisoned() -> Error {
        Error::Invalid("signing key lock poisoned".into())
    }

    /// A token for this session and app, reused while more than half its life remains.
    pub fn for_session(
        &self,
        session: &SessionRecord,
        audience: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Error> {
        let key = (session.sid.clone(), audience.to_owned());
        let fresh_until = now.timestamp() + self.ttl.num_seconds() / 2;
        self.reload_if_stale();
        // A token signed with a key that no longer signs is made again, so a rotation takes
        // effect at once and not a token lifetime later.
        let signing = self
            .ring
            .read()
            .ok()
            .and_then(|r| r.signing(now, self.activation).map(|k| k.kid.clone()));
        if let Ok(cache) = self.cache.read()
            && let Some((jwt, exp, kid)) = cache.get(&key)
            && *exp > fresh_until
            && Some(kid) == signing.as_ref()
        {
            return Ok(jwt.clone());
        }
        let (jwt, exp, kid) = self.sign(session, audience, now)?;
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_MAX {
                let t = now.timestamp();
                cache.retain(|_, (_, exp, _)| *exp > t);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(key, (jwt.clone(), exp, kid));
        }
        Ok(jwt)
    }

    /// Forget cached tokens of a session (it was revoked).
    pub fn forget(&self, sid: &str) {
        if let Ok(mut cache) = self.cache.write() {
            cache.retain(|(s, _), _| s != sid);
        }
    }

    fn sign(
        &self,
        s: &SessionRecord,
        audience: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, i64, String), Error> {
        self.rotate_if_due(now)?;
        let ring = self.ring.read().map_err(|_| Self::poisoned())?;
        let key = ring
            .signing(now, self.activation)
            .ok_or_else(|| Error::Config("no signing key".into()))?;
        let iat = now.timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: s.username.clone(),
            aud: audience.to_owned(),
            iat,
            // A little leeway for upstream clocks running behind.
            nbf: iat - 5,
            exp: iat + self.ttl.num_seconds(),
            sid: s.sid.clone(),
            uid: s.account_id.clone(),
            amr: s.amr.clone(),
            acr: s.acr().to_owned(),
            name: s.display_name.clone(),
            email: s.email.clone(),
            roles: s.roles.clone(),
            groups: s.groups.clone(),
            facility: s.facility.clone(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let jwt = jsonwebtoken::encode(&header, &claims, key.encoding())
            .map_err(|e| Error::Invalid(format!("signing an assertion: {e}")))?;
        Ok((jwt, claims.exp, key.kid.clone()))
    }

    fn rotate_if_due(&self, now: DateTime<Utc>) -> Result<(), Error> {
        let due = {
            let ring = self.ring.read().map_err(|_| Self::poisoned())?;
            ring.current()
                .is_none_or(|k| now - k.created >= self.rotate_after)
        };
        if due {
            let mut ring = self.ring.write().map_err(|_| Self::poisoned())?;
            if ring
                .current()
                .is_none_or(|k| now - k.created >= self.rotate_after)
            {
                ring.rotate(now)?;
            }
        }
        Ok(())
    }

    /// The JWKS document.
    pub fn jwks(&self, now: DateTime<Utc>) -> Result<serde_json::Value, Error> {
        self.reload_if_stale();
        let ring = self.ring.read().map_err(|_| Self::poisoned())?;
        Ok(ring.jwks(now, self.rotate_after))
    }

    /// Verify a token as an upstream app would (used by tests and `sekimori` diagnostics).
    pub fn verify(&self, token: &str, audience: &str) -> Result<Claims, Error> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| Error::Invalid(e.to_string()))?;
        let known = |kid: &str| {
            self.ring
                .read()
                .map(|r| r.get(kid).is_some())
                .unwrap_or(false)
        };
        if let Some(kid) = header.kid.as_deref()
            && !known(kid)
        {
            // Made by another replica since the last look.
            self.reload();
        }
        let ring = self.ring.read().map_err(|_| Self::poisoned())?;
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| ring.get(kid))
            .ok_or_else(|| Error::Invalid("unknown key id".into()))?;
        let mut v = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        v.set_audience(&[audience]);
        v.set_issuer(&[&self.issuer]);
        v.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        v.validate_nbf = true;
        v.leeway = 0;
        let dk = jsonwebtoken::DecodingKey::from_ed_der(key.public_key());
        jsonwebtoken::decode::<Claims>(token, &dk, &v)
            .map(|d| d.claims)
            .map_err(|e| Error::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockout::Zone;

    fn session() -> SessionRecord {
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        SessionRecord {
            sid: "abc".into(),
            subject: super::super::SessionSubject {
                account_id: "acc".into(),
                username: "yamada".into(),
                display_name: "山田 花子".into(),
                email: Some("h@clinic.example".into()),
                account_type: "staff".into(),
                roles: vec!["nurse".into()],
                groups: vec![],
                facility: "default".into(),
                amr: vec!["pwd".into(), "otp".into()],
                zone: Zone::Trusted,
                ip: "10.0.0.1".into(),
                user_agent: String::new(),
                has_second_factor: true,
                second_factor_required: false,
                maintenance_window: None,
                window_system: None,
                break_glass: false,
            },
            created_at: now,
            absolute_expiry: now + Duration::hours(1),
        }
    }

    fn assertions() -> (tempfile::TempDir, Assertions) {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::load_or_create(
            &dir.path().join("k"),
            crate::clock::Clock::now(&crate::clock::SystemClock),
            Duration::days(90),
        )
        .unwrap();
        let a = Assertions::new(
            ring,
            "http://localhost:8080".into(),
            Duration::seconds(60),
            Duration::days(90),
        );
        (dir, a)
    }

    #[test]
    fn tokens_verify_carry_the_claims_and_are_reused() {
        let (_d, a) = assertions();
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let t = a.for_session(&session(), "emr", now).unwrap();
        let c = a.verify(&t, "emr").unwrap();
        assert_eq!((c.sub.as_str(), c.acr.as_str()), ("yamada", "aal2"));
        assert_eq!(c.amr, vec!["pwd", "otp"]);
        assert_eq!(c.exp - c.iat, 60);
        assert_eq!(a.for_session(&session(), "emr", now).unwrap(), t);
        assert_ne!(a.for_session(&session(), "lab", now).unwrap(), t);
        assert!(a.verify(&t, "lab").is_err(), "wrong audience");
    }

    #[test]
    fn expired_tokens_are_refused() {
        let (_d, a) = assertions();
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let old = a
            .for_session(&session(), "emr", now - Duration::seconds(61))
            .unwrap();
        let e = a.verify(&old, "emr").unwrap_err();
        assert!(e.to_string().contains("Expired"), "{e}");
        let future = a
            .for_session(&session(), "future", now + Duration::seconds(30))
            .unwrap();
        assert!(a.verify(&future, "future").is_err(), "not yet valid");
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let (_d, a) = assertions();
        let t = a
            .for_session(
                &session(),
                "emr",
                crate::clock::Clock::now(&crate::clock::SystemClock),
            )
            .unwrap();
        // Claims rewritten (sub → admin) under the original signature.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
        claims["sub"] = "admin".into();
        parts[1] = b64.encode(claims.to_string());
        let forged = parts.join(".");
        assert_ne!(forged, t);
        assert!(a.verify(&forged, "emr").is_err());
        // Change the signature's first character: six whole bits (the last character of
        // base64url also carries padding bits, which would change nothing).
        let at = t.rfind('.').unwrap() + 1;
        let mut sig = t.clone();
        let c = if &t[at..=at] == "A" { "B" } else { "A" };
        sig.replace_range(at..=at, c);
        assert!(a.verify(&sig, "emr").is_err());
        assert!(a.verify("not.a.jwt", "emr").is_err());
    }
}
