//! The release gateway as a process of its own (`target/release/sekimori serve`, or
//! `SEKIMORI_BENCH_BIN`), on a store the bench prepared in-process first, and a minimal
//! HTTP/1.1 client: one request per connection, as a PAM module makes them.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `[server]` on `port` plus no address limit: the configuration both the in-process
/// preparation and the server process read.
pub fn server_toml(port: u16) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://localhost:{port}\"\ndanger_insecure_cookies = true\n[lockout]\nip_limit = 100000\n"
    )
}

/// A gateway process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// `serve` with the data under `dir` and `extra` TOML (which must hold `server_toml`).
    pub fn start(dir: &std::path::Path, port: u16, extra: &str) -> Self {
        let config = dir.join("sekimori.toml");
        std::fs::write(
            &config,
            format!(
                "[store]\nsqlite_path = \"{}/data/sekimori.db\"\n[log]\nlevel = \"error\"\n{extra}",
                dir.display()
            ),
        )
        .unwrap();
        // SEKIMORI_BENCH_BIN measures another build (an older release, for a before/after).
        let bin = std::env::var("SEKIMORI_BENCH_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sekimori").to_owned());
        let child = Command::new(bin)
            .args(["--config", config.to_str().unwrap(), "serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(addr).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: serde_json::Value,
}

impl Answer {
    /// The session cookie the answer sets, if any.
    pub fn cookie(&self) -> Option<String> {
        self.head
            .lines()
            .filter_map(|l| l.strip_prefix("set-cookie: "))
            .map(|c| c.split(';').next().unwrap().to_owned())
            .find(|c| c.starts_with("sekimori_session="))
    }
}

/// One POST of JSON on its own connection (blocking).
pub fn post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
) -> Answer {
    let body = body.to_string();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    Answer {
        status: head[9..12].parse().unwrap(),
        head: head.to_owned(),
        body: serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    }
}
