//! Real processes for the tests: the gateway started from the built binary on a free port,
//! and a minimal HTTP/1.1 client over TCP (no client library between the test and the wire).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Env;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A response as raw parts.
#[derive(Debug)]
pub struct Http {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Http {
    /// The value of the first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `name=value` of a Set-Cookie header.
    pub fn cookie(&self) -> String {
        self.header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }
}

/// One request with `Connection: close`; `None` if nothing answers.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Option<Http> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: localhost:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    // Bodies of keep-alive-less responses may still be chunked.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some(Http {
        status,
        head: head.to_owned(),
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn get(port: u16, path: &str) -> Option<String> {
    request(port, "GET", path, &[], None).map(|r| format!("{}\r\n\r\n{}", r.head, r.body))
}

/// `sekimori serve` with the environment's configuration on `port`, plus extra variables.
pub fn start(env: &Env, port: u16, vars: &[(&str, &str)]) -> Child {
    let mut c = env.cmd();
    c.arg("serve")
        .env("SEKIMORI__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SEKIMORI__LOG__LEVEL", "info");
    for (k, v) in vars {
        c.env(k, v);
    }
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if get(port, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gateway did not become healthy on port {port}");
}

/// SIGTERM and wait; the exit code.
pub fn stop(child: &mut Child) -> i32 {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(
            Instant::now() < deadline,
            "gateway did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running gateway, stopped when dropped.
pub struct Gateway {
    pub child: Child,
    pub port: u16,
}

impl Gateway {
    pub fn start(env: &Env, vars: &[(&str, &str)]) -> Self {
        Self::start_on(env, free_port(), vars)
    }

    /// On a port chosen beforehand (when the configuration must name it).
    pub fn start_on(env: &Env, port: u16, vars: &[(&str, &str)]) -> Self {
        let child = start(env, port, vars);
        wait_ready(port);
        Self { child, port }
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &serde_json::Value) -> Http {
        request(self.port, "POST", path, headers, Some(&body.to_string())).unwrap()
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Http {
        request(self.port, "GET", path, headers, None).unwrap()
    }
}

impl Gateway {
    /// `user add NAME` (display name 林 真理子, role nurse, plus `args`) with a one-time
    /// password, then the first login with its password change: the authenticated answer.
    pub fn enrol(&self, env: &Env, name: &str, args: &[&str], system: &str) -> Http {
        let mut cmd = vec![
            "user",
            "add",
            name,
            "--display-name",
            "林 真理子",
            "--role",
            "nurse",
        ];
        cmd.extend_from_slice(args);
        cmd.push("--password-stdin");
        let first = crate::gateway::FIRST;
        let add = env.run(&cmd, Some(format!("{first}\n").as_bytes()));
        assert!(add.status.success(), "{}", crate::support::text(&add));
        let step = self.post(
            "/api/v1/login",
            &[],
            &serde_json::json!({"username": name, "password": first, "system": system}),
        );
        assert_eq!(
            step.json()["outcome"],
            "password_change_required",
            "{}",
            step.body
        );
        let done = self.post(
            "/api/v1/login",
            &[],
            &serde_json::json!({"flow_id": step.json()["flow_id"], "new_password": crate::gateway::PASSWORD}),
        );
        assert_eq!(done.json()["outcome"], "authenticated", "{}", done.body);
        done
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An upstream that answers every request with the request head it received.
pub fn echo_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let body = String::from_utf8_lossy(&buf).into_owned();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// A gateway protecting `emr.localhost` behind a proxy the test starts, with an echo
/// upstream: everything the nginx and Caddy end-to-end tests share.
pub struct Proxied {
    pub env: Env,
    pub gw: Gateway,
    pub upstream: u16,
    /// The proxy's port.
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Proxied {
    pub fn new(extra_toml: &str) -> Self {
        let env = Env::new();
        let toml =
            format!("{extra_toml}[systems.emr]\nkind = \"web\"\nhosts = [\"emr.localhost\"]\n");
        std::fs::write(env.config_path(), env.config_toml(&toml)).unwrap();
        let gw = Gateway::start(&env, &[]);
        Self {
            env,
            gw,
            upstream: echo_upstream(),
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// GET through the proxy as `emr.localhost`.
    pub fn get(&self, path: &str, extra: &[(&str, &str)]) -> Http {
        let host = format!("emr.localhost:{}", self.port);
        let mut h: Vec<(&str, &str)> = vec![("Host", host.as_str())];
        h.extend_from_slice(extra);
        request(self.port, "GET", path, &h, None).unwrap()
    }
}

/// A child process killed when dropped (nginx, Caddy), with its process group: nginx's
/// workers outlive a master stopped by SIGKILL, so each is started as a group of its own
/// (`process_group(0)`) and the whole group goes.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
