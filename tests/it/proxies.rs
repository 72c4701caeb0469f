//! The gate's one reading through real proxies: nginx (`auth_request`) and Caddy
//! (`forward_auth`) in front of an upstream that echoes what it receives. Every target that
//! other servers read differently stops before the upstream (Caddy passes the gateway's 400
//! on; nginx gets a 403 with the reason in `Sekimori-Refusal`, which its error page shows,
//! never a 500, or answers 400 itself for what it cannot parse), a client's own describing
//! headers are overwritten by the proxy or, where they name another target than the proxy
//! describes (the other scheme, `Forwarded`), refused; and an nginx configured without
//! `X-Original-Method` gets refusals (`missing_header`), never a guessed GET.

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
            // Never a 500: nginx's own 400 for what it cannot parse, else the gateway's
            // refusal as 403 (nginx) or 400 (Caddy).
            assert!(
                !reached_upstream(&r) && [400, 403].contains(&r.status),
                "{proxy} {t} ({reason}): {} {}",
                r.status,
                r.body
            );
            if proxy == "nginx" && r.status == 403 {
                assert!(
                    r.body.starts_with("refused ") && r.body.trim().len() > "refused ".len(),
                    "{t}: nginx shows the reason: {}",
                    r.body
                );
            }
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
        // The client's describing headers never make /admin read as /chart: the proxy
        // replaces those of its own scheme and the gateway refuses the other scheme's.
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
        assert!(!reached_upstream(&r), "{proxy}: {}", r.body);
        assert_eq!(
            r.status,
            if proxy == "nginx" { 403 } else { 400 },
            "{proxy}: {}",
            r.body
        );
        // Describing headers of the other scheme, which the upstream also receives, naming
        // another target than the one the proxy describes: refused, never let through.
        // Each proxy overwrites the headers of its own scheme, toward the gateway and the
        // upstream alike (the README's configurations); the gateway refuses the rest.
        for (name, value, nginx_refuses, caddy_refuses) in [
            ("X-Forwarded-Uri", "/admin", true, false),
            ("X-Forwarded-Host", "portal.localhost", true, false),
            ("X-Forwarded-Method", "DELETE", true, false),
            ("X-Original-URL", "http://emr.localhost/admin", false, true),
            ("X-Original-Method", "DELETE", false, true),
            ("X-Original-URI", "/admin", true, true),
            ("X-Rewrite-URL", "/admin", true, true),
            ("Forwarded", "host=portal.localhost", true, true),
        ] {
            let r = via(port, "/chart", &[c[0], (name, value)]);
            let what = format!("{proxy} {name}: {}\n{}", r.head, r.body);
            let refuses = if proxy == "nginx" {
                nginx_refuses
            } else {
                caddy_refuses
            };
            if refuses {
                assert!(!reached_upstream(&r), "{what}");
                let expected = if proxy == "nginx" { 403 } else { 400 };
                assert_eq!(r.status, expected, "{what}");
                if proxy == "nginx" {
                    assert_eq!(r.body.trim(), "refused mixed_description", "{what}");
                } else {
                    assert_eq!(
                        r.json()["error"]["details"]["reason"],
                        "mixed_description",
                        "{what}"
                    );
                }
            } else {
                // Replaced by the proxy: the upstream is served the target decided, and
                // never sees the client's value.
                assert!(reached_upstream(&r), "{what}");
                let seen = r.body.to_ascii_lowercase();
                assert!(!seen.contains(&value.to_ascii_lowercase()), "{what}");
            }
        }
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
    assert_eq!(
        r.status, 403,
        "a refusal reaches the client as a refusal, not a 500"
    );
    assert_eq!(r.body.trim(), "refused missing_header", "{}", r.body);
    let o = p.env.run(&["audit", "export", "--format", "jsonl"], None);
    let log = String::from_utf8_lossy(&o.stdout);
    assert!(
        log.lines().any(|l| l.contains("request_refused")
            && l.contains("missing_header")
            && l.contains("x-original-method")),
        "{log}"
    );
}
