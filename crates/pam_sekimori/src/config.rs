//! `/etc/sekimori/pam.toml` and the device credential file: read, checked, and refused with
//! the reason when unsafe (a credential file others can read, or not owned by root).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

/// Where the module looks unless the stack says `config=PATH`.
pub const DEFAULT_PATH: &str = "/etc/sekimori/pam.toml";

/// What the PAM stack asks of the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// After `pam_unix` (or another password module): the code only.
    SecondFactor,
    /// The account lives in the gateway: its password, then the code.
    PasswordAndCode,
    /// No code: a short code to approve on the portal with a security key, polled until
    /// approved, denied or expired.
    DeviceFlow,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    gateway_url: String,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    device_id: String,
    credential_file: PathBuf,
    #[serde(default = "default_mode")]
    mode: Mode,
    #[serde(default = "default_connect_ms")]
    connect_timeout_ms: u64,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_mode() -> Mode {
    Mode::SecondFactor
}
fn default_connect_ms() -> u64 {
    2_000
}
fn default_timeout_ms() -> u64 {
    5_000
}

/// The checked configuration.
#[derive(Clone)]
pub struct Config {
    pub gateway_url: String,
    pub ca_file: Option<PathBuf>,
    pub device_id: String,
    pub credential: Zeroizing<String>,
    pub mode: Mode,
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("gateway_url", &self.gateway_url)
            .field("ca_file", &self.ca_file)
            .field("device_id", &self.device_id)
            .field("credential", &"[redacted]")
            .field("mode", &self.mode)
            .finish()
    }
}

/// Why the module cannot run: written to syslog as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: String) -> ConfigError {
    ConfigError(msg)
}

/// Is this URL's host the machine itself (where plain http is allowed)?
fn loopback(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, p)| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

impl Config {
    /// Read and check the file at `path`; `root_uid` is the owner the credential file must
    /// have (0 except in tests).
    pub fn load(path: &Path, root_uid: u32) -> Result<Self, ConfigError> {
        let text = fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        let raw: Raw =
            toml::from_str(&text).map_err(|e| err(format!("{}: {e}", path.display())))?;
        let url = raw.gateway_url.trim().trim_end_matches('/').to_owned();
        if !(url.starts_with("https://") || (url.starts_with("http://") && loopback(&url))) {
            return Err(err(format!(
                "{}: gateway_url must be https:// (plain http only to 127.0.0.1 or localhost), got `{url}`",
                path.display()
            )));
        }
        if raw.device_id.trim().is_empty() {
            return Err(err(format!("{}: device_id is empty", path.display())));
        }
        if let Some(ca) = &raw.ca_file
            && !ca.is_file()
        {
            return Err(err(format!(
                "ca_file {} is not a readable file",
                ca.display()
            )));
        }
        let credential = read_credential(&raw.credential_file, root_uid)?;
        Ok(Config {
            gateway_url: url,
            ca_file: raw.ca_file,
            device_id: raw.device_id.trim().to_owned(),
            credential,
            mode: raw.mode,
            connect_timeout: Duration::from_millis(raw.connect_timeout_ms.clamp(100, 10_000)),
            timeout: Duration::from_millis(raw.timeout_ms.clamp(200, 30_000)),
        })
    }
}

/// The device credential: a regular file, owned by `root_uid`, mode 0600 or stricter.
fn read_credential(path: &Path, root_uid: u32) -> Result<Zeroizing<String>, ConfigError> {
    let meta = fs::symlink_metadata(path)
        .map_err(|e| err(format!("credential_file {}: {e}", path.display())))?;
    if !meta.file_type().is_file() {
        return Err(err(format!(
            "credential_file {} is not a regular file (symbolic links are refused)",
            path.display()
        )));
    }
    if meta.uid() != root_uid {
        return Err(err(format!(
            "credential_file {} must be owned by root (uid {}), is owned by uid {}",
            path.display(),
            root_uid,
            meta.uid()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(err(format!(
            "credential_file {} must be mode 0600, is {:04o}: run `chmod 600 {}`",
            path.display(),
            meta.mode() & 0o7777,
            path.display()
        )));
    }
    let text = Zeroizing::new(
        fs::read_to_string(path)
            .map_err(|e| err(format!("credential_file {}: {e}", path.display())))?,
    );
    let token = Zeroizing::new(text.trim().to_owned());
    if token.is_empty() {
        return Err(err(format!("credential_file {} is empty", path.display())));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The owner of the files this test writes (root in CI, anyone elsewhere).
    fn uid() -> u32 {
        let f = tempfile::NamedTempFile::new().unwrap();
        f.as_file().metadata().unwrap().uid()
    }

    fn setup(mode: u32, url: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let cred = dir.path().join("device.credential");
        fs::write(&cred, "abc123\n").unwrap();
        fs::set_permissions(&cred, fs::Permissions::from_mode(mode)).unwrap();
        let conf = dir.path().join("pam.toml");
        fs::write(
            &conf,
            format!(
                "gateway_url = \"{url}\"\ndevice_id = \"srv-1\"\ncredential_file = \"{}\"\n",
                cred.display()
            ),
        )
        .unwrap();
        (dir, conf)
    }

    #[test]
    fn a_private_credential_file_is_read_and_redacted() {
        let (_d, conf) = setup(0o600, "http://127.0.0.1:8080/");
        let c = Config::load(&conf, uid()).unwrap();
        assert_eq!(c.credential.as_str(), "abc123");
        assert_eq!(c.gateway_url, "http://127.0.0.1:8080");
        assert_eq!(c.mode, Mode::SecondFactor);
        assert!(!format!("{c:?}").contains("abc123"));
    }

    #[test]
    fn a_readable_credential_file_is_refused_with_the_fix() {
        let (_d, conf) = setup(0o644, "https://gw.example");
        let e = Config::load(&conf, uid()).unwrap_err();
        assert!(e.0.contains("must be mode 0600, is 0644"), "{e}");
        assert!(e.0.contains("chmod 600"), "{e}");
    }

    #[test]
    fn a_credential_file_of_another_owner_is_refused() {
        let (_d, conf) = setup(0o600, "https://gw.example");
        let e = Config::load(&conf, uid() + 1).unwrap_err();
        assert!(e.0.contains("must be owned by root"), "{e}");
    }

    #[test]
    fn plain_http_is_only_for_the_machine_itself() {
        let (_d, conf) = setup(0o600, "http://gw.clinic.example");
        let e = Config::load(&conf, uid()).unwrap_err();
        assert!(e.0.contains("must be https://"), "{e}");
        for ok in [
            "http://localhost:9",
            "http://127.0.0.1",
            "http://[::1]:80/x",
        ] {
            assert!(loopback(ok), "{ok}");
        }
        assert!(!loopback("http://127.0.0.1.evil.example"));
    }

    #[test]
    fn unknown_keys_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("pam.toml");
        fs::write(&conf, "gateway_url = \"https://x\"\ndevice = \"a\"\n").unwrap();
        let e = Config::load(&conf, 0).unwrap_err();
        assert!(e.0.contains("unknown field `device`"), "{e}");
        let e = Config::load(&dir.path().join("none.toml"), 0).unwrap_err();
        assert!(e.0.contains("cannot read"), "{e}");
    }
}

#[cfg(test)]
mod example {
    /// The example file in the repository parses (only the credential file is missing).
    #[test]
    fn the_example_configuration_parses() {
        let text = include_str!("../../../config/pam.example.toml");
        let raw: super::Raw = toml::from_str(text).unwrap();
        assert_eq!(raw.mode, super::Mode::SecondFactor);
        assert_eq!(raw.device_id, "emr-db-1");
    }
}
