//! `sekimori serve` as a real process: bootstrap admin printed once, health over TCP,
//! graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::process::Child;

use crate::process::{free_port, get, stop, wait_ready};
use crate::support::Env;

fn start(env: &Env, port: u16) -> Child {
    crate::process::start(env, port, &[])
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
