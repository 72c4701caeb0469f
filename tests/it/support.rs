//! Shared set-up: a temporary data directory, a configuration pointing into it, the built
//! services, and the real `sekimori` binary.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use sekimori::app::AppState;
use sekimori::clock::{Clock, SystemClock};
use sekimori::config::Config;
use sekimori::store::sql::OpenMode;

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env = Self { dir };
        std::fs::write(env.config_path(), env.config_toml("")).unwrap();
        env
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("data/sekimori.db")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("sekimori.toml")
    }

    pub fn config_toml(&self, extra: &str) -> String {
        format!(
            "[store]\nsqlite_path = \"{}\"\n[facility]\nname = \"さくら診療所\"\n[log]\nformat = \"json\"\nlevel = \"warn\"\n{extra}",
            self.db_path().display()
        )
    }

    pub async fn state(&self) -> AppState {
        self.state_with("").await
    }

    /// Services built from the test configuration plus extra TOML.
    pub async fn state_with(&self, extra: &str) -> AppState {
        self.state_with_clock(extra, Arc::new(SystemClock)).await
    }

    /// The same with a clock the test controls.
    pub async fn state_with_clock(&self, extra: &str, clock: Arc<dyn Clock>) -> AppState {
        let config = Config::from_toml_str(&self.config_toml(extra)).unwrap();
        AppState::build(config, clock, OpenMode::CreateAndMigrate)
            .await
            .unwrap()
            .with_signing_keys()
            .unwrap()
    }

    /// The real binary with this environment's configuration.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sekimori"));
        c.arg("--config")
            .arg(self.config_path())
            .current_dir(self.dir.path());
        c.env_remove("SEKIMORI_CONFIG")
            .env("USER", "it-operator")
            .env("LANG", "C");
        for (k, _) in std::env::vars() {
            if k.starts_with("SEKIMORI__") {
                c.env_remove(k);
            }
        }
        c
    }

    /// Run with arguments and optional standard input.
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run_cmd(self.cmd(), args, stdin)
    }
}

pub fn run_cmd(mut c: Command, args: &[&str], stdin: Option<&[u8]>) -> Output {
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            pipe.write_all(bytes).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The one-time password printed after `user add` or `reset-password`.
pub fn one_time_password(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .skip_while(|l| !l.contains("One-time password"))
        .nth(1)
        .unwrap();
    line.split_whitespace().nth(1).unwrap().to_owned()
}
