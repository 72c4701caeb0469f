//! The factor-sealing keys, rotatable while gateways run. The first key is the file
//! `[factors] seal_key_file`; each rotation adds a sibling `FILE.<unix seconds>` (0600).
//! New secrets are sealed with the newest key, each tagged with its key's id; a secret opens
//! with the key that sealed it, and a replica that meets an id it does not know yet reads the
//! directory again (the keys live on storage every replica shares). Secrets derived for other
//! uses (the terminal cookie's MAC key, fake WebAuthn credential ids) stay bound to the first
//! key, so a rotation does not sign anyone's terminal out.
//!
//! Sealed form: `SKS2` ‖ key id (8 bytes, big-endian) ‖ nonce ‖ ciphertext. A value without
//! the tag (sealed before rotation existed) opens with the first key; a tagged value that does
//! not open is tried as untagged too, since an untagged nonce may begin with the tag by chance.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::aead::{AeadError, SealKey};
use super::secret::SecretBytes;
use crate::error::Error;
use crate::session::keys::{check_mode, private_dir, write_private};

const TAG: &[u8; 4] = b"SKS2";

/// The associated data of a second-factor secret: its account and kind, so a sealed value
/// copied to another account's row, or to another kind, does not open.
pub fn owner(account: impl std::fmt::Display, kind: &str) -> String {
    format!("{account}:{kind}")
}
/// How often the key files are read again without a reason to, unless told otherwise.
const RELOAD_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Keys {
    /// Rotated keys, newest first: (id = creation unix seconds, key).
    rotated: Vec<(i64, SealKey)>,
    loaded: Instant,
    reload_every: Duration,
}

/// Every sealing key, behind one handle (clones share it).
#[derive(Debug, Clone)]
pub struct SealRing {
    base: SealKey,
    path: PathBuf,
    keys: Arc<RwLock<Keys>>,
}

fn read_key(path: &Path) -> Result<SealKey, Error> {
    check_mode(path, 0o600)?;
    let text =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    SealKey::from_hex(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

/// The rotated key files beside `base`, newest first.
fn read_rotated(base: &Path) -> Result<Vec<(i64, SealKey)>, Error> {
    let Some(dir) = base.parent() else {
        return Ok(Vec::new());
    };
    let prefix = format!(
        "{}.",
        base.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let mut out = Vec::new();
    let entries = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })
    .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name
            .strip_prefix(&prefix)
            .and_then(|s| s.parse::<i64>().ok())
        {
            out.push((id, read_key(&entry.path())?));
        }
    }
    out.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    Ok(out)
}

impl SealRing {
    /// Load the keys of `path`, creating the first (0600, in a 0700 directory) when `create`
    /// and missing.
    pub fn load(path: &Path, create: bool) -> Result<Self, Error> {
        if !path.exists() {
            if !create {
                return Err(Error::Config(format!(
                    "{} is missing: start the gateway once to create it",
                    path.display()
                )));
            }
            if let Some(dir) = path.parent() {
                private_dir(dir)?;
            }
            let hex = SealKey::generate_hex();
            write_private(path, &String::from_utf8_lossy(hex.expose()))?;
        }
        Ok(Self {
            base: read_key(path)?,
            path: path.to_owned(),
            keys: Arc::new(RwLock::new(Keys {
                rotated: read_rotated(path)?,
                loaded: Instant::now(),
                reload_every: RELOAD_EVERY,
            })),
        })
    }

    /// Read the key files again this often (a rotation on another replica is used for
    /// sealing here from the next look on).
    pub fn with_reload(self, every: Duration) -> Self {
        if let Ok(mut k) = self.keys.write() {
            k.reload_every = every;
        }
        self
    }

    /// Add a new key (`FILE.<id>`): it seals from now on, here at once and on other
    /// replicas at their next look at the files. Its id.
    pub fn rotate(&self, id: i64) -> Result<i64, Error> {
        let newest = self.newest_id();
        let id = id.max(newest + 1);
        let file = PathBuf::from(format!("{}.{id}", self.path.display()));
        write_private(
            &file,
            &String::from_utf8_lossy(SealKey::generate_hex().expose()),
        )?;
        self.reload()?;
        Ok(id)
    }

    /// Read the key files again.
    pub fn reload(&self) -> Result<(), Error> {
        let rotated = read_rotated(&self.path)?;
        if let Ok(mut k) = self.keys.write() {
            k.rotated = rotated;
            k.loaded = Instant::now();
        }
        Ok(())
    }

    fn reload_if_stale(&self) {
        let stale = self
            .keys
            .read()
            .map(|k| k.loaded.elapsed() >= k.reload_every)
            .unwrap_or(true);
        if stale && let Err(e) = self.reload() {
            tracing::warn!(error = %e, "reading the sealing keys again failed");
        }
    }

    /// The id of the key that seals (0: the first key).
    pub fn newest_id(&self) -> i64 {
        self.keys
            .read()
            .ok()
            .and_then(|k| k.rotated.first().map(|(id, _)| *id))
            .unwrap_or(0)
    }

    fn key(&self, id: i64) -> Option<SealKey> {
        if id == 0 {
            return Some(self.base.clone());
        }
        self.keys.read().ok().and_then(|k| {
            k.rotated
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, k)| k.clone())
        })
    }

    pub fn seal(&self, plaintext: &[u8], owner: &str) -> Result<Vec<u8>, AeadError> {
        self.reload_if_stale();
        let id = self.newest_id();
        if id == 0 {
            return self.base.seal(plaintext, owner);
        }
        let key = self.key(id).ok_or(AeadError::Seal)?;
        let mut out = TAG.to_vec();
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&key.seal(plaintext, owner)?);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], owner: &str) -> Result<SecretBytes, AeadError> {
        if let Some(rest) = sealed.strip_prefix(TAG.as_slice())
            && rest.len() > 8
        {
            let mut idb = [0u8; 8];
            idb.copy_from_slice(&rest[..8]);
            let id = i64::from_be_bytes(idb);
            let key = match self.key(id) {
                Some(k) => Some(k),
                // Sealed by another replica with a key this one has not read yet.
                None => {
                    let _ = self.reload();
                    self.key(id)
                }
            };
            if let Some(k) = key
                && let Ok(plain) = k.open(&rest[8..], owner)
            {
                return Ok(plain);
            }
        }
        self.base.open(sealed, owner)
    }

    /// Whether a value is sealed with the newest key.
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        let id = self.newest_id();
        match sealed.strip_prefix(TAG.as_slice()) {
            Some(rest) if rest.len() > 8 => rest[..8] == id.to_be_bytes(),
            _ => id == 0,
        }
    }

    /// A 32-byte secret for `label`, bound to the first key.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        self.base.derive(label)
    }

    /// The ids of every key, the first (0) included, newest first.
    pub fn ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .keys
            .read()
            .map(|k| k.rotated.iter().map(|(i, _)| *i).collect())
            .unwrap_or_default();
        ids.push(0);
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_keys_seal_new_values_and_every_key_still_opens_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("seal.key");
        let a = SealRing::load(&path, true).unwrap();
        let old = a.seal(b"first", "o").unwrap();
        assert!(a.is_current(&old));
        // Another replica, sharing the files.
        let b = SealRing::load(&path, false).unwrap();
        let derived = a.derive("x");
        let id = a.rotate(1_800_000_000).unwrap();
        assert_eq!(id, 1_800_000_000);
        let new = a.seal(b"second", "o").unwrap();
        assert!(new.starts_with(b"SKS2") && a.is_current(&new) && !a.is_current(&old));
        // b has not read the files again: it finds the new key when it meets it.
        assert_eq!(b.open(&new, "o").unwrap().expose(), b"second");
        assert_eq!(b.open(&old, "o").unwrap().expose(), b"first");
        assert_eq!(b.open(&new, "other").unwrap_err(), AeadError::Open);
        assert_eq!(
            a.derive("x"),
            derived,
            "derived secrets stay with the first key"
        );
        assert_eq!(a.ids(), vec![1_800_000_000, 0]);
        assert_eq!(a.rotate(5).unwrap(), 1_800_000_001, "ids only grow");
    }
}
