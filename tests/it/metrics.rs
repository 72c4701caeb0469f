//! `GET /metrics` of a real gateway process: what happened is counted, with no username or
//! address in any label; only allowed networks, or the bearer token, may read it.

use crate::gateway::FIRST;
use crate::process::Gateway;
use crate::support::{Env, text};

/// The value of the first line of the Prometheus text that starts with `line_start`.
pub fn metric(body: &str, line_start: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{line_start}` in:\n{body}"))
}

#[test]
fn sign_ins_locks_and_the_gate_are_counted_without_names() {
    let env = Env::new();
    std::fs::write(
        env.config_path(),
        env.config_toml("[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n"),
    )
    .unwrap();
    let gw = Gateway::start(&env, &[]);
    let add = env.run(
        &[
            "user",
            "add",
            "suzuki-hanako",
            "--display-name",
            "鈴木",
            "--role",
            "nurse",
            "--password-stdin",
        ],
        Some(format!("{FIRST}\n").as_bytes()),
    );
    assert!(add.status.success(), "{}", text(&add));
    // Six wrong passwords: five checked, the fifth locks, the sixth is blocked.
    let statuses: Vec<u16> = (0..6)
        .map(|_| {
            gw.post(
                "/api/v1/login",
                &[("X-Forwarded-For", "203.0.113.77")],
                &serde_json::json!({"username": "suzuki-hanako", "password": "wrong-password-42x"}),
            )
            .status
        })
        .collect();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    for _ in 0..3 {
        let r = gw.get(
            "/api/v1/authz/forward-auth",
            &[
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "emr.clinic.example"),
                ("X-Forwarded-Uri", "/chart"),
            ],
        );
        assert_eq!(r.status, 302);
    }
    let r = gw.get(
        "/api/v1/authz/forward-auth",
        &[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "emr.clinic.example"),
            ("X-Forwarded-Uri", "/%2e%2e/admin"),
        ],
    );
    assert_eq!(r.status, 400);
    // The probe's gauges come every 10 s; the first round after the bootstrap account.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(25);
    let m = loop {
        let m = gw.get("/metrics", &[]);
        if m.body.contains("sekimori_second_factor_coverage_ratio ") {
            break m;
        }
        assert!(std::time::Instant::now() < deadline, "{}", m.body);
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert_eq!(m.status, 200, "{}", m.body);
    assert!(
        m.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        m.header("content-type")
    );
    let body = &m.body;
    assert_eq!(
        metric(
            body,
            "sekimori_sign_ins_total{result=\"failure\",zone=\"external\",channel=\"web\"}"
        ),
        5.0
    );
    assert_eq!(
        metric(
            body,
            "sekimori_locks_total{zone=\"external\",scope=\"password\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(body, "sekimori_blocked_attempts_total{scope=\"account\"}"),
        1.0
    );
    assert_eq!(
        metric(
            body,
            "sekimori_forward_auth_total{result=\"sign_in\",system=\"emr\"}"
        ),
        3.0
    );
    assert_eq!(
        metric(
            body,
            "sekimori_forward_auth_total{result=\"refused\",system=\"unknown\"}"
        ),
        1.0
    );
    assert!(
        body.contains("sekimori_forward_auth_seconds_bucket{result=\"sign_in\",le=\"0.005\"}"),
        "{body}"
    );
    assert!(metric(body, "sekimori_hash_seconds_count") >= 5.0);
    assert!(metric(body, "sekimori_audit_append_seconds_count") >= 7.0);
    for secret in ["suzuki", "203.0.113.77", "chart", "admin"] {
        assert!(!body.contains(secret), "`{secret}` in the metrics:\n{body}");
    }
    // Every series the sample dashboard and the alert rules use is one the gateway exports.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker");
    let used: std::collections::BTreeSet<String> =
        ["grafana-dashboard.json", "prometheus-alerts.yml"]
            .iter()
            .flat_map(|f| {
                let text = std::fs::read_to_string(root.join(f)).unwrap();
                text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| w.starts_with("sekimori_"))
                    .map(|w| {
                        w.trim_end_matches("_bucket")
                            .trim_end_matches("_count")
                            .trim_end_matches("_sum")
                            .to_owned()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
    assert!(used.len() >= 15, "{used:?}");
    for name in &used {
        assert!(
            body.contains(&format!("# TYPE {name} ")),
            "`{name}` is used but not exported"
        );
    }
    drop(gw);

    // Only allowed networks, or the token.
    let token = env.dir.path().join("metrics.token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef\n").unwrap();
    let gw = Gateway::start(
        &env,
        &[
            ("SEKIMORI__METRICS__ALLOW", "[\"10.9.0.0/16\"]"),
            (
                "SEKIMORI__METRICS__BEARER_TOKEN_FILE",
                token.to_str().unwrap(),
            ),
        ],
    );
    let refused = gw.get("/metrics", &[]);
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.json()["error"]["code"], "metrics_forbidden");
    let forwarded = gw.get("/metrics", &[("X-Forwarded-For", "10.9.1.1")]);
    assert_eq!(forwarded.status, 403, "a forwarded address does not count");
    let wrong = gw.get(
        "/metrics",
        &[("Authorization", "Bearer 0123456789abcdef0123456789abcdeX")],
    );
    assert_eq!(wrong.status, 403);
    let ok = gw.get(
        "/metrics",
        &[("Authorization", "Bearer 0123456789abcdef0123456789abcdef")],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        ok.body.contains("sekimori_up 1") || ok.body.contains("# TYPE"),
        "{}",
        ok.body
    );
}
