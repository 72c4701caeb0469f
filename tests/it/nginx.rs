//! End to end with a real nginx: `auth_request` in front of a small upstream, the gateway as
//! a real process, and the assertion verified by an independent library (Python PyJWT with
//! `cryptography`) against the published JWKS.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::gateway::PASSWORD;
use crate::process::{Killed, Proxied};

/// The nginx configuration of docker/nginx.conf's `location` blocks, on loopback ports.
fn nginx(dir: &Path, port: u16, gateway: u16, upstream: u16) -> Killed {
    start(dir, port, &conf(dir, port, gateway, upstream, true))
}

/// That configuration's text; `with_method = false` leaves out `X-Original-Method` (a
/// misconfigured proxy: the gateway must refuse, not assume GET).
/// The start of a test nginx's configuration, up to and including the `server`'s `listen`
/// (`listen_extra` after the port, e.g. ` ssl`): files under `dir`, loopback only.
pub fn head(dir: &Path, port: u16, listen_extra: &str) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/client; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port}{listen_extra};"#
    )
}

/// The internal location that asks the gateway (`auth_request /_sekimori`).
fn ask(gateway: u16, with_method: bool) -> String {
    let method = if with_method {
        "proxy_set_header X-Original-Method $request_method;"
    } else {
        ""
    };
    format!(
        r#"    location = /_sekimori {{
      internal;
      proxy_pass http://127.0.0.1:{gateway}/api/v1/authz/auth-request;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      {method}
      proxy_set_header X-Forwarded-For $remote_addr;
    }}"#
    )
}

pub fn conf(dir: &Path, port: u16, gateway: u16, upstream: u16, with_method: bool) -> String {
    let head = head(dir, port, "");
    let ask = ask(gateway, with_method);
    format!(
        r#"{head}
{ask}
    location / {{
      auth_request /_sekimori;
      auth_request_set $sekimori_user $upstream_http_remote_user;
      auth_request_set $sekimori_groups $upstream_http_remote_groups;
      auth_request_set $sekimori_name $upstream_http_remote_name;
      auth_request_set $sekimori_email $upstream_http_remote_email;
      auth_request_set $sekimori_assertion $upstream_http_sekimori_assertion;
      auth_request_set $sekimori_login $upstream_http_location;
      auth_request_set $sekimori_refusal $upstream_http_sekimori_refusal;
      proxy_set_header Remote-User $sekimori_user;
      proxy_set_header Remote-Groups $sekimori_groups;
      proxy_set_header Remote-Name $sekimori_name;
      proxy_set_header Remote-Email $sekimori_email;
      proxy_set_header Sekimori-Assertion $sekimori_assertion;
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      error_page 401 =302 $sekimori_login;
      error_page 403 @sekimori_refused;
      proxy_pass http://127.0.0.1:{upstream};
    }}
    location @sekimori_refused {{
      default_type text/plain;
      add_header Sekimori-Refusal $sekimori_refusal always;
      return 403 "refused $sekimori_refusal\n";
    }}
  }}
}}
"#
    )
}

/// nginx with `conf` (written to `dir/nginx.conf`, prefix `dir`), once it listens on `port`.
pub fn start(dir: &Path, port: u16, conf: &str) -> Killed {
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // A group of its own, so that dropping it stops the workers too.
        .process_group(0)
        .spawn()
        .expect("nginx must be installed (tests/run.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Killed(child)
}

/// One origin for everything, as a small clinic runs it: the gateway's pages and API under
/// their own paths, every other path behind `auth_request`.
pub fn one_origin(dir: &Path, port: u16, gateway: u16, upstream: u16) -> String {
    let head = head(dir, port, "");
    let ask = ask(gateway, true);
    format!(
        r#"{head}
    location ~ ^/(login|logout|account|factors|static|api|device|terminal|\.well-known)(/|$) {{
      proxy_pass http://127.0.0.1:{gateway};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }}
{ask}
    location / {{
      auth_request /_sekimori;
      auth_request_set $sekimori_user $upstream_http_remote_user;
      auth_request_set $sekimori_assertion $upstream_http_sekimori_assertion;
      auth_request_set $sekimori_login $upstream_http_location;
      auth_request_set $sekimori_refusal $upstream_http_sekimori_refusal;
      proxy_set_header Remote-User $sekimori_user;
      proxy_set_header Sekimori-Assertion $sekimori_assertion;
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      error_page 401 =302 $sekimori_login;
      error_page 403 @sekimori_refused;
      proxy_pass http://127.0.0.1:{upstream};
    }}
    location @sekimori_refused {{
      default_type text/plain;
      add_header Sekimori-Refusal $sekimori_refusal always;
      return 403 "refused $sekimori_refusal\n";
    }}
  }}
}}
"#
    )
}

/// Verify a token with PyJWT against the gateway's JWKS; the claims, or the error text.
pub fn pyjwt(
    gateway: u16,
    token: &str,
    audience: &str,
    issuer: &str,
) -> Result<serde_json::Value, String> {
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let script = r#"
import json, sys, jwt
url, token, aud, iss = sys.argv[1:5]
key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience=aud, issuer=iss,
                    options={"require": ["exp", "nbf", "iat", "aud", "iss", "sub"]})
print(json.dumps(claims))
"#;
    let out = Command::new(python)
        .args([
            "-c",
            script,
            &format!("http://127.0.0.1:{gateway}/.well-known/jwks.json"),
            token,
            audience,
            issuer,
        ])
        .output()
        .expect("python3 with PyJWT must be installed (tests/run.sh installs python3-jwt)");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn nginx_auth_request_protects_an_upstream_end_to_end() {
    let p = Proxied::new("[session]\nidle_timeout_seconds = 5\n");
    let (env, gw, nport) = (&p.env, &p.gw, p.port);
    let _nginx = nginx(p.dir.path(), nport, gw.port, p.upstream);
    let via_nginx = |path: &str, extra: &[(&str, &str)]| p.get(path, extra);

    // No session: redirected to the portal with a return URL.
    let r = via_nginx("/chart?id=1", &[]);
    assert_eq!(
        r.status,
        302,
        "{}\n{}",
        r.head,
        std::fs::read_to_string(p.dir.path().join("error.log")).unwrap_or_default()
    );
    let location = r.header("location").unwrap();
    assert_eq!(
        location,
        format!(
            "http://localhost:8080/login?rd=http%3A%2F%2Femr%2Elocalhost%3A{nport}%2Fchart%3Fid%3D1"
        )
    );

    // Log in through the API.
    let done = gw.enrol(env, "hayashi", &["--email", "h@clinic.example"], "emr");
    let cookie = done.cookie();

    // With the session: the upstream sees the identity, not what the client claimed.
    let r = via_nginx(
        "/chart?id=1",
        &[
            ("Cookie", &cookie),
            ("Remote-User", "admin"),
            ("Sekimori-Assertion", "forged"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.head);
    let seen = r.body.to_ascii_lowercase();
    assert!(seen.contains("remote-user: hayashi"), "{}", r.body);
    assert!(
        !seen.contains("remote-user: admin"),
        "client-supplied Remote-User must not reach the upstream: {}",
        r.body
    );
    assert!(seen.contains("remote-groups: nurse"));
    assert!(seen.contains("remote-email: h@clinic.example"));
    let token = r
        .body
        .lines()
        .find_map(|l| l.strip_prefix("Sekimori-Assertion: "))
        .expect("the upstream receives the assertion")
        .trim()
        .to_owned();
    assert_ne!(token, "forged");
    let claims = pyjwt(gw.port, &token, "emr", "http://localhost:8080")
        .expect("PyJWT verifies the assertion");
    assert_eq!(claims["sub"], "hayashi");
    assert_eq!(claims["name"], "林 真理子");
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
    // PyJWT refuses a tampered signature, another audience, and another issuer.
    // The first character of the signature carries six whole bits (the last one does not:
    // changing only its padding bits would leave the signature as it was).
    let sig_at = token.rfind('.').unwrap() + 1;
    let mut tampered = token.clone();
    let c = if &token[sig_at..=sig_at] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(sig_at..=sig_at, c);
    assert!(pyjwt(gw.port, &tampered, "emr", "http://localhost:8080").is_err());
    assert!(pyjwt(gw.port, &token, "billing", "http://localhost:8080").is_err());
    assert!(pyjwt(gw.port, &token, "emr", "https://evil.example").is_err());

    // Logout: back to the login redirect.
    let out = gw.post("/api/v1/logout", &[("Cookie", &cookie)], &json!({}));
    assert_eq!(out.status, 200);
    assert_eq!(via_nginx("/chart", &[("Cookie", &cookie)]).status, 302);

    // Idle timeout (5 s here): a quiet session ends, an active one slides.
    let fresh = gw
        .post(
            "/api/v1/login",
            &[],
            &json!({"username": "hayashi", "password": PASSWORD}),
        )
        .cookie();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(
            via_nginx("/", &[("Cookie", &fresh)]).status,
            200,
            "activity keeps the session alive"
        );
    }
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        via_nginx("/", &[("Cookie", &fresh)]).status,
        302,
        "idle for longer than the timeout"
    );
}

/// The processes whose parent is `pid`, and each one's state letter, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces, so read after the last `)`.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1) == Some(&pid.to_string().as_str()) {
            out.push(head.split_whitespace().next().unwrap().parse().unwrap());
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

#[test]
fn a_stopped_nginx_leaves_no_worker_behind() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::process::free_port();
    let conf = format!(
        "{}\n    location / {{ return 204; }}\n  }}\n}}\n",
        head(dir.path(), port, "")
    );
    let nginx = start(dir.path(), port, &conf);
    let workers = children(nginx.0.id());
    assert!(!workers.is_empty(), "nginx started no worker");
    drop(nginx);
    let deadline = Instant::now() + Duration::from_secs(5);
    while workers.iter().any(|w| alive(*w)) {
        assert!(
            Instant::now() < deadline,
            "workers left running: {workers:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
