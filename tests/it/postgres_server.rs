//! A real PostgreSQL 15 (Debian's `postgresql-15`) for the tests: `initdb` into a temporary
//! directory as an unprivileged user (the `postgres` account when the tests run as root;
//! PostgreSQL refuses to run as root), started on a free loopback port, stopped and started
//! again on the same data when a test asks, and killed when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The superuser initdb creates.
pub const SUPERUSER: &str = "sekimori_owner";

pub struct PostgresServer {
    child: Option<Child>,
    pub port: u16,
    data: PathBuf,
    dir: tempfile::TempDir,
    /// Whether commits wait for the disk (benchmarks); the tests need the engine's
    /// behaviour, not its durability.
    durable: bool,
}

fn as_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command run as the unprivileged owner of the cluster.
fn unprivileged(program: &str) -> Command {
    if as_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--",
        ])
        .arg(Path::new(BIN).join(program));
        c
    } else {
        Command::new(Path::new(BIN).join(program))
    }
}

impl PostgresServer {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// With `durable`, commits are flushed to disk as in production.
    pub fn start_with(durable: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if as_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success(), "chown of the cluster directory");
        }
        let init = unprivileged("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .output()
            .expect("PostgreSQL 15 must be installed (tests/run.sh installs postgresql-15)");
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s = Self {
            child: None,
            port,
            data,
            dir,
            durable,
        };
        s.run();
        s
    }

    /// Start the server on the cluster (again).
    pub fn run(&mut self) {
        let fsync = if self.durable { "on" } else { "off" };
        let child = unprivileged("postgres")
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .arg("-c")
            .arg(format!("fsync={fsync}"))
            .arg("-c")
            .arg(format!("full_page_writes={fsync}"))
            .args(["-c", "max_connections=200"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = Command::new(Path::new(BIN).join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop it (fast shutdown: open connections are cut).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A URL for `db` as `user` (trust authentication on loopback).
    pub fn url_as(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.port)
    }

    /// A fresh database owned by the superuser; its URL.
    pub async fn database(&self, name: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE \"{name}\""))
            .await;
        self.url_as(SUPERUSER, name)
    }

    /// Run statements as the superuser in `db`.
    pub async fn sql(&self, db: &str, statements: &str) {
        use sqlx::Executor as _;
        let mut conn =
            <sqlx::PgConnection as sqlx::Connection>::connect(&self.url_as(SUPERUSER, db))
                .await
                .unwrap();
        conn.execute(sqlx::AssertSqlSafe(statements.to_owned()))
            .await
            .unwrap();
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
