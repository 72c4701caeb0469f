//! nginx `auth_request` in front of a static file, for the closing notes: requests per second
//! through nginx asking the gateway (a valid session, in-process state) against the same
//! nginx asking a bare axum handler that answers 200, both with keep-alive connections to the
//! backend, driven by `wrk -t2 -c64` and alternated twice (best run of each).
//!
//! Run: `cargo bench --bench nginx` (needs nginx and wrk). `SEKIMORI_BENCH_SECONDS` sets each
//! run's length (default 10).

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::server::free_port;
use common::{gateway, seconds, serve, session_cookie, user};

/// One nginx server block: `auth_request` to `backend` (keep-alive), then the static file.
fn server(port: u16, name: &str, backend: u16, path: &str, root: &std::path::Path) -> String {
    format!(
        r#"  upstream {name} {{ server 127.0.0.1:{backend}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{port};
    location = /_auth {{
      internal;
      proxy_pass http://{name}{path};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
    }}
    location / {{
      auth_request /_auth;
      auth_request_set $user $upstream_http_remote_user;
      add_header X-User $user;
      root {root};
    }}
  }}
"#,
        root = root.display()
    )
}

/// wrk's requests per second; refuses a run with any non-2xx answer.
fn wrk(port: u16, cookie: &str) -> f64 {
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{}s", seconds())])
        .args(["-H", "Host: emr.localhost", "-H", cookie])
        .arg(format!("http://127.0.0.1:{port}/index.html"))
        .output()
        .expect("wrk must be installed (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("Non-2xx"), "refused: {text}");
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"))
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let state = gateway(
        dir.path(),
        "[lockout]\nip_limit = 100000\n[systems.emr]\nkind = \"web\"\nhosts = [\"emr.localhost\"]\n",
    )
    .await;
    user(&state, "bench", &["nurse"]).await;
    let cookie = format!("Cookie: {}", session_cookie(&state, "bench", "emr").await);
    let gw = serve(sekimori::build_router(state.clone())).await;
    let bare = serve(axum::Router::new().route("/", axum::routing::get(|| async { "" }))).await;

    let root = dir.path().join("static");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("index.html"),
        "<!doctype html><p>電子カルテ</p>\n",
    )
    .unwrap();
    let (through_gateway, through_bare) = (free_port(), free_port());
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log error;\nevents {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/client; proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n{}{}}}\n",
        server(
            through_gateway,
            "sekimori",
            gw.port(),
            "/api/v1/authz/auth-request",
            &root
        ),
        server(through_bare, "bare", bare.port(), "/", &root),
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut nginx = Command::new("nginx")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .expect("nginx must be installed");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", through_bare)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut best = (0.0f64, 0.0f64);
    for _ in 0..2 {
        let c = cookie.clone();
        let b = tokio::task::spawn_blocking(move || wrk(through_bare, &c))
            .await
            .unwrap();
        let c = cookie.clone();
        let g = tokio::task::spawn_blocking(move || wrk(through_gateway, &c))
            .await
            .unwrap();
        best = (best.0.max(b), best.1.max(g));
    }
    // The master and its workers: the group started above.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", nginx.id())])
        .status();
    let _ = nginx.wait();
    println!(
        "nginx auth_request -> static file: {:.0} req/s through the gateway vs {:.0} req/s through a bare handler -> ratio {:.2}",
        best.1,
        best.0,
        best.1 / best.0
    );
}
