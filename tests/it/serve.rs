//! `sekimori serve` as a real process: bootstrap admin printed once, health over TCP,
//! graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt as _;
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
    // The one-time password is in a 0600 file beside the database; the data directory is
    // 0700 and the database with its WAL files 0600.
    let file = env.dir.path().join("data/bootstrap-admin-password.txt");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&env.dir.path().join("data")), 0o700);
    for db in ["sekimori.db", "sekimori.db-wal", "sekimori.db-shm"] {
        let p = env.dir.path().join("data").join(db);
        assert_eq!(mode(&p), 0o600, "{db}");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("one-time password: "))
        .unwrap()
        .to_owned();
    assert!(password.len() >= 20);
    // Signing in with it works, and must change it; the change removes the file.
    let step = crate::process::request(
        port,
        "POST",
        "/api/v1/login",
        &[],
        Some(&serde_json::json!({"username": "admin", "password": password}).to_string()),
    )
    .unwrap();
    assert_eq!(
        step.json()["outcome"],
        "password_change_required",
        "{}",
        step.body
    );
    assert!(file.exists());
    let changed = crate::process::request(
        port,
        "POST",
        "/api/v1/login",
        &[],
        Some(
            &serde_json::json!({"flow_id": step.json()["flow_id"], "new_password": crate::gateway::PASSWORD})
                .to_string(),
        ),
    )
    .unwrap();
    assert_eq!(
        changed.json()["outcome"],
        "enrolment_required",
        "{}",
        changed.body
    );
    assert!(!file.exists(), "the file goes with the first change");

    let (code, stdout) = stop_and_read(&mut child);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Bootstrap administrator created"),
        "{stdout}"
    );
    // Standard output is not a terminal here: the password is not on it.
    assert!(!stdout.contains(&password), "{stdout}");
    assert!(stdout.contains("bootstrap-admin-password.txt"), "{stdout}");
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
        !stderr.iter().any(|l| l.contains(&password)),
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

/// On a terminal (a pseudo-terminal from `script`), the operator sees the password once.
#[test]
fn on_a_terminal_the_bootstrap_password_is_shown_once() {
    let env = Env::new();
    let port = free_port();
    let bin = env!("CARGO_BIN_EXE_sekimori");
    let command = format!(
        "SEKIMORI__SERVER__LISTEN=127.0.0.1:{port} {bin} --config {} serve 2>/dev/null",
        env.config_path().display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .current_dir(env.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("script (util-linux) gives the gateway a terminal");
    wait_ready(port);
    let text =
        std::fs::read_to_string(env.dir.path().join("data/bootstrap-admin-password.txt")).unwrap();
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("one-time password: "))
        .unwrap()
        .to_owned();
    // The gateway, and the shell and `script` around it, all name this test's own config.
    let _ = std::process::Command::new("pkill")
        .args(["-TERM", "-f", &env.config_path().display().to_string()])
        .status();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = child.wait();
    assert!(
        out.lines()
            .any(|l| l.contains("one-time password:") && l.contains(&password)),
        "{out}"
    );
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
