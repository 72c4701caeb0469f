//! The bootstrap administrator's one-time password at rest: a file of mode 0600 beside the
//! database, written once at the first start and removed when that password is changed (its
//! owner's first sign-in, or a helpdesk reset). It never reaches a log.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::crypto::SecretString;

/// The name the bootstrap administrator is created with.
pub const USERNAME: &str = "admin";

/// Where the file lives: beside the SQLite database.
pub fn secret_path(config: &Config) -> PathBuf {
    config.data_dir().join("bootstrap-admin-password.txt")
}

/// Write the file with mode 0600 from its creation (no moment of wider access).
pub fn write_secret(path: &Path, username: &str, password: &SecretString) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    #[cfg(unix)]
    {
        // An older file of another mode keeps it through `open`: set it.
        use std::os::unix::fs::PermissionsExt as _;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(
        f,
        "# Sekimori bootstrap administrator: a one-time password, to be changed at the first\n\
         # sign-in. This file is removed then. 初回ログイン時に変更してください。\n\
         username: {username}\none-time password: {}",
        password.expose()
    )?;
    f.sync_all()
}

/// Remove the file, if there is one (a missing file is no error).
pub fn forget_secret(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(file = %path.display(), "bootstrap password file removed"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "removing the bootstrap password file failed")
        }
    }
}
