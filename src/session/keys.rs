//! The assertion signing keys: Ed25519, one PEM file per key in a directory outside the
//! database (0700, files 0600), made on first run and rotated by age. The newest key signs;
//! the previous ones stay published in the JWKS for one more period so that tokens already
//! issued keep verifying.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::EncodingKey;

use crate::crypto::ed25519::Ed25519Key;
use crate::error::Error;

/// One signing key.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub created: DateTime<Utc>,
    key: Ed25519Key,
    encoding: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn new(key: Ed25519Key, created: DateTime<Utc>) -> Self {
        let encoding = EncodingKey::from_ed_der(key.pkcs8_der().expose());
        Self {
            kid: key.thumbprint(),
            created,
            key,
            encoding,
        }
    }

    pub fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn public_key(&self) -> &[u8; 32] {
        self.key.public_key()
    }

    /// The public JWK (RFC 8037).
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.key.public_key()),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

/// The keys, newest first.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
    dir: PathBuf,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(what, e)
}

#[cfg(unix)]
pub(crate) fn check_mode(path: &Path, want_max: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(io(format!("reading {}", path.display())))?
        .permissions()
        .mode()
        & 0o777;
    if mode & !want_max != 0 {
        return Err(Error::Config(format!(
            "{} has mode {mode:o}: signing keys must not be readable by group or others (chmod {want_max:o} {})",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn check_mode(_: &Path, _: u32) -> Result<(), Error> {
    Ok(())
}

/// Create `dir` (0700) if missing, and refuse it when group or others can read it.
pub(crate) fn private_dir(dir: &Path) -> Result<(), Error> {
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)
            .map_err(io(format!("creating key directory {}", dir.display())))?;
    }
    check_mode(dir, 0o700)
}

pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .map_err(io(format!("creating {}", path.display())))?;
    f.write_all(contents.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io(format!("writing {}", path.display())))
}

impl KeyRing {
    /// Load every key in `dir`, creating the directory and a first key when needed, and a new
    /// key when the newest is older than `rotate_after`.
    pub fn load_or_create(
        dir: &Path,
        now: DateTime<Utc>,
        rotate_after: Duration,
    ) -> Result<Self, Error> {
        private_dir(dir)?;
        let mut ring = Self {
            keys: Self::read_dir(dir)?,
            dir: dir.to_owned(),
        };
        if ring
            .keys
            .first()
            .is_none_or(|k| now - k.created >= rotate_after)
        {
            ring.rotate(now)?;
        }
        Ok(ring)
    }

    fn read_dir(dir: &Path) -> Result<Vec<SigningKey>, Error> {
        let mut keys = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(io(format!("reading {}", dir.display())))?;
        for entry in entries {
            let path = entry
                .map_err(io(format!("reading {}", dir.display())))?
                .path();
            let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("ed25519-"))
                .and_then(|n| n.strip_suffix(".pem"))
            else {
                continue;
            };
            let created = stem
                .parse::<i64>()
                .ok()
                .and_then(|s| DateTime::from_timestamp(s, 0))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "{}: key files are named ed25519-<unix seconds>.pem",
                        path.display()
                    ))
                })?;
            check_mode(&path, 0o600)?;
            let pem = std::fs::read_to_string(&path)
                .map_err(io(format!("reading {}", path.display())))?;
            let key = Ed25519Key::from_pem(&pem)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            keys.push(SigningKey::new(key, created));
        }
        keys.sort_by_key(|k| std::cmp::Reverse(k.created));
        Ok(keys)
    }

    /// Read the directory again: keys another replica made appear, removed ones go.
    pub fn reload(&mut self) -> Result<(), Error> {
        self.keys = Self::read_dir(&self.dir)?;
        Ok(())
    }

    /// The key that signs at `now`: the newest one at least `activation` old (a newer one is
    /// published but not used yet), or the newest when none is that old (a first key).
    pub fn signing(&self, now: DateTime<Utc>, activation: Duration) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|k| now - k.created >= activation)
            .or_else(|| self.keys.last())
    }

    /// Make a new key; it signs once it is `activation` old. Another replica that made one at
    /// the same second wins: its key is read instead.
    pub fn rotate(&mut self, now: DateTime<Utc>) -> Result<&SigningKey, Error> {
        self.reload()?;
        // One key per second at most: file names are the creation time.
        let created = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let created = match self.keys.first() {
            Some(k) if k.created >= created => k.created + Duration::seconds(1),
            _ => created,
        };
        let key = Ed25519Key::generate();
        let path = self
            .dir
            .join(format!("ed25519-{}.pem", created.timestamp()));
        if path.exists() {
            self.reload()?;
            return self
                .keys
                .first()
                .ok_or_else(|| Error::Config("no signing key".into()));
        }
        write_private(&path, &key.to_pem())?;
        tracing::info!(kid = %key.thumbprint(), file = %path.display(), "created a new assertion signing key");
        self.keys.insert(0, SigningKey::new(key, created));
        Ok(&self.keys[0])
    }

    /// The key that signs.
    pub fn current(&self) -> Option<&SigningKey> {
        self.keys.first()
    }

    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn all(&self) -> &[SigningKey] {
        &self.keys
    }

    /// The JWKS: the current key and those retired within the last `keep` period.
    pub fn jwks(&self, now: DateTime<Utc>, keep: Duration) -> serde_json::Value {
        let mut out = Vec::new();
        let mut newer: Option<DateTime<Utc>> = None;
        for k in &self.keys {
            // A key was retired when the next newer one was made.
            if newer.is_none_or(|retired| now - retired < keep) {
                out.push(k.jwk());
            }
            newer = Some(k.created);
        }
        serde_json::json!({ "keys": out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn first_run_creates_a_private_key_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let kd = dir.path().join("keys");
        let a = KeyRing::load_or_create(&kd, t0(), Duration::days(90)).unwrap();
        let b = KeyRing::load_or_create(&kd, t0() + Duration::days(1), Duration::days(90)).unwrap();
        assert_eq!(a.current().unwrap().kid, b.current().unwrap().kid);
        assert_eq!(b.all().len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let f = std::fs::read_dir(&kd)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            assert_eq!(
                std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                std::fs::metadata(&kd).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
    }

    #[test]
    fn old_keys_rotate_and_stay_published_for_one_period() {
        let dir = tempfile::tempdir().unwrap();
        let kd = dir.path().join("keys");
        let a = KeyRing::load_or_create(&kd, t0(), Duration::days(90)).unwrap();
        let later = t0() + Duration::days(91);
        let b = KeyRing::load_or_create(&kd, later, Duration::days(90)).unwrap();
        assert_ne!(a.current().unwrap().kid, b.current().unwrap().kid);
        let kids = |v: serde_json::Value| -> Vec<String> {
            v["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(kids(b.jwks(later, Duration::days(90))).len(), 2);
        assert_eq!(
            kids(b.jwks(later + Duration::days(91), Duration::days(90))),
            vec![b.current().unwrap().kid.clone()]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let kd = dir.path().join("keys");
        KeyRing::load_or_create(&kd, t0(), Duration::days(90)).unwrap();
        let f = std::fs::read_dir(&kd)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = KeyRing::load_or_create(&kd, t0(), Duration::days(90)).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }
}
