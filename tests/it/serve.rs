//! `sekimori serve` as a real process: bootstrap admin printed once, health over TCP,
//! graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Env;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn start(env: &Env, port: u16) -> Child {
    let mut c = env.cmd();
    c.arg("serve")
        .env("SEKIMORI__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("SEKIMORI__LOG__LEVEL", "info");
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if get(port, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("gateway did not become healthy on port {port}");
}

/// SIGTERM, then the exit code and everything the gateway printed on stdout.
fn stop_and_read(child: &mut Child) -> (i32, String) {
    let code = stop(child);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    (code, stdout)
}

fn stop(child: &mut Child) -> i32 {
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

#[test]
fn serve_bootstraps_once_answers_and_stops_gracefully() {
    let env = Env::new();
    let port = free_port();
    let mut child = start(&env, port);
    wait_ready(port);
    let hc = env.run(
        &["healthcheck", "--addr", &format!("127.0.0.1:{port}")],
        None,
    );
    assert_eq!(hc.status.code(), Some(0), "{}", crate::support::text(&hc));
    let ready = get(port, "/readyz").unwrap();
    assert!(
        ready.starts_with("HTTP/1.1 200") && ready.contains("\"ready\""),
        "{ready}"
    );
    let (code, stdout) = stop_and_read(&mut child);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Bootstrap administrator created"),
        "{stdout}"
    );
    let otp_line = stdout
        .lines()
        .find(|l| l.contains("one-time password:"))
        .unwrap();
    assert!(otp_line.split(':').nth(1).unwrap().trim().len() >= 20);
    let stderr: Vec<String> = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect();
    assert!(
        stderr
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "JSON logs: {stderr:?}"
    );
    assert!(
        !stderr
            .iter()
            .any(|l| l.contains(otp_line.split(':').nth(1).unwrap().trim())),
        "password never logged"
    );
    assert!(stderr.iter().any(|l| l.contains("stopped")));

    // Second start: the store has accounts, so no bootstrap.
    let port = free_port();
    let mut child = start(&env, port);
    wait_ready(port);
    let (code, stdout) = stop_and_read(&mut child);
    assert_eq!(code, 0);
    assert!(!stdout.contains("Bootstrap"), "{stdout}");
}

#[test]
fn serve_refuses_a_bad_configuration_before_listening() {
    let env = Env::new();
    std::fs::write(
        env.config_path(),
        env.config_toml("[password]\nmax_password_age = 90\n"),
    )
    .unwrap();
    let o = env.run(&["serve"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("rotation was removed"));
}
