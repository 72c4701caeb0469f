//! The gate's one reading through real proxies: nginx (`auth_request`) and Caddy
//! (`forward_auth`) in front of an upstream that echoes what it receives. Every target that
//! other servers read differently stops before the upstream (Caddy passes the gateway's 400
//! on; nginx answers 500 for an `auth_request` status other than 2xx, 401 and 403, or 400
//! itself for what it cannot parse), a client's own describing headers are overwritten by
//! the proxy and change nothing, and an nginx configured without `X-Original-Method` gets
//! refusals (`missing_header`), never a guessed GET.

use crate::gate::CONFUSING;
use crate::process::{Http, Proxied, free_port, request};

const RULES: &str = "[[access.rules]]\npaths = [\"/admin\"]\npolicy = \"deny\"\n\
    [[access.rules]]\npolicy = \"one_factor\"\n";

fn via(port: u16, target: &str, extra: &[(&str, &str)]) -> Http {
    let host = format!("emr.localhost:{port}");
    let mut h: Vec<(&str, &str)> = vec![("Host", host.as_str())];
    h.extend_from_slice(extra);
    request(port, "GET", target, &h, None).unwrap()
}

fn reached_upstream(r: &Http) -> bool {
    r.status == 200 && r.body.to_ascii_lowercase().contains("remote-user:")
}

#[test]
fn nginx_and_caddy_pass_only_requests_with_one_reading() {
    let p = Proxied::new(RULES);
    let nginx_port = p.port;
    let caddy_port = free_port();
    let _nginx = crate::nginx::start(
        p.dir.path(),
        nginx_port,
        &crate::nginx::conf(p.dir.path(), nginx_port, p.gw.port, p.upstream, true),
    );
    let caddy_dir = tempfile::tempdir().unwrap();
    let _caddy = crate::caddy::caddy(caddy_dir.path(), caddy_port, p.gw.port, p.upstream);
    let cookie = p.gw.enrol(&p.env, "proxied", &[], "emr").cookie();
    let c = [("Cookie", cookie.as_str())];
    for (proxy, port) in [("nginx", nginx_port), ("caddy", caddy_port)] {
        let r = via(port, "/chart?id=1", &c);
        assert!(reached_upstream(&r), "{proxy}: {}\n{}", r.head, r.body);
        let r = via(port, "/admin", &c);
        assert_eq!(r.status, 403, "{proxy}");
        let r = via(port, "/AdMiN/users", &c);
        assert_eq!(r.status, 403, "{proxy}: case-insensitive rule");
        for (target, reason) in CONFUSING {
            // What a request line can carry at all (no space, no raw bytes above ASCII).
            let Ok(t) = std::str::from_utf8(target) else {
                continue;
            };
            if t.contains([' ', '#']) {
                continue;
            }
            let r = via(port, t, &c);
            assert!(
                !reached_upstream(&r) && [400, 403, 500].contains(&r.status),
                "{proxy} {t} ({reason}): {} {}",
                r.status,
                r.body
            );
            // Caddy passes the gateway's answer on, where Go's parser let the target through
            // (it refuses `%u` itself, and re-escapes `\\` as `%5C`, so the reason may be
            // another refusal's).
            if proxy == "caddy" && r.status == 400 && r.body.starts_with('{') {
                assert_eq!(
                    r.json()["error"]["code"],
                    "ambiguous_request",
                    "{t}: {}",
                    r.body
                );
            }
        }
        // The client's own describing headers are replaced by the proxy's.
        let r = via(
            port,
            "/admin",
            &[
                c[0],
                ("X-Forwarded-Uri", "/chart"),
                ("X-Original-URL", "http://emr.localhost/chart"),
                ("X-Forwarded-Method", "GET"),
                ("X-Original-Method", "GET"),
            ],
        );
        assert_eq!(r.status, 403, "{proxy}: {}", r.body);
    }
    // Each refusal that reached the gateway is in the audit log with its reason.
    let o = p.env.run(&["audit", "export", "--format", "jsonl"], None);
    let log = String::from_utf8_lossy(&o.stdout);
    for reason in [
        "encoded_separator",
        "ascii_lookalike",
        "path_parameter",
        "windows_name",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains("request_refused") && l.contains(reason)),
            "{reason} not audited"
        );
    }
}

#[test]
fn an_nginx_without_the_method_header_is_refused_not_guessed() {
    let p = Proxied::new(RULES);
    let _nginx = crate::nginx::start(
        p.dir.path(),
        p.port,
        &crate::nginx::conf(p.dir.path(), p.port, p.gw.port, p.upstream, false),
    );
    let cookie = p.gw.enrol(&p.env, "unguessed", &[], "emr").cookie();
    let r = via(p.port, "/chart", &[("Cookie", &cookie)]);
    assert!(!reached_upstream(&r), "{}", r.body);
    assert_eq!(r.status, 500, "nginx's answer to an auth_request 400");
    let o = p.env.run(&["audit", "export", "--format", "jsonl"], None);
    let log = String::from_utf8_lossy(&o.stdout);
    assert!(
        log.lines().any(|l| l.contains("request_refused")
            && l.contains("missing_header")
            && l.contains("x-original-method")),
        "{log}"
    );
}
