//! The Traefik/Caddy endpoint with a real Caddy (`forward_auth`) in front of an upstream:
//! the browser is redirected without a session, and with one the upstream sees the identity
//! and an assertion PyJWT accepts.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::nginx::pyjwt;
use crate::process::{Killed, Proxied};

pub fn caddy(dir: &Path, port: u16, gateway: u16, upstream: u16) -> Killed {
    let conf = format!(
        "{{\n  admin off\n  auto_https off\n}}\n\
         http://emr.localhost:{port} {{\n  bind 127.0.0.1\n\
         \x20 forward_auth 127.0.0.1:{gateway} {{\n    uri /api/v1/authz/forward-auth\n\
         \x20   copy_headers Remote-User Remote-Groups Remote-Name Remote-Email Sekimori-Assertion\n  }}\n\
         \x20 reverse_proxy 127.0.0.1:{upstream} {{\n\
         \x20   header_up X-Forwarded-Method {{method}}\n\
         \x20   header_up X-Forwarded-Uri {{uri}}\n  }}\n}}\n"
    );
    let path = dir.join("Caddyfile");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .env("XDG_CONFIG_HOME", dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("caddy.log")).unwrap())
        .process_group(0)
        .spawn()
        .expect("caddy must be installed (tests/run.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "caddy did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Killed(child)
}

#[test]
fn caddy_forward_auth_protects_an_upstream() {
    let p = Proxied::new("");
    let (env, gw, port) = (&p.env, &p.gw, p.port);
    let _caddy = caddy(p.dir.path(), port, gw.port, p.upstream);
    let via = |path: &str, extra: &[(&str, &str)]| p.get(path, extra);

    let r = via("/chart?id=2", &[]);
    assert_eq!(r.status, 302, "{}\n{}", r.head, r.body);
    assert_eq!(
        r.header("location").unwrap(),
        format!(
            "http://localhost:8080/login?rd=http%3A%2F%2Femr%2Elocalhost%3A{port}%2Fchart%3Fid%3D2"
        )
    );

    let cookie = gw.enrol(env, "mori", &[], "emr").cookie();
    let r = via(
        "/chart?id=2",
        &[("Cookie", &cookie), ("Remote-User", "admin")],
    );
    assert_eq!(r.status, 200, "{}", r.head);
    let seen = r.body.to_ascii_lowercase();
    assert!(seen.contains("remote-user: mori"), "{}", r.body);
    assert!(!seen.contains("remote-user: admin"), "{}", r.body);
    let token = r
        .body
        .lines()
        .find_map(|l| l.strip_prefix("Sekimori-Assertion: "))
        .expect("the upstream receives the assertion")
        .trim()
        .to_owned();
    let claims = pyjwt(gw.port, &token, "emr", "http://localhost:8080").expect("PyJWT verifies it");
    assert_eq!(claims["sub"], "mori");
}
