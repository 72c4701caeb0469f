//! The audit chain's group commit under a kill: a real gateway process answers a burst of
//! requests that each leave an audit row (forward-auth refusals, which need no password hash,
//! so the rows arrive faster than one fsync each), is killed with SIGKILL in the middle of
//! it, and every answer a client received has its row in the database afterwards. The rows
//! were committed in batches (the gateway's own metric says so before the kill).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::metrics::metric;
use crate::process::{Gateway, request};
use crate::support::{Env, text};

#[test]
fn no_acknowledged_audit_row_is_lost_when_the_gateway_is_killed_mid_burst() {
    let env = Env::new();
    let mut gw = Gateway::start(&env, &[]);
    let port = gw.port;
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..24)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // `..` hidden in an escape: refused and audited with the raw header.
                    let marker = format!("/gc-{t}-{i}/%2e%2e/x");
                    let answer = request(
                        port,
                        "GET",
                        "/api/v1/authz/forward-auth",
                        &[
                            ("X-Forwarded-Method", "GET"),
                            ("X-Forwarded-Proto", "https"),
                            ("X-Forwarded-Host", "emr.clinic.example"),
                            ("X-Forwarded-Uri", &marker),
                        ],
                        None,
                    );
                    match answer {
                        Some(r) if r.status == 400 => acknowledged.push(marker),
                        Some(r) => panic!("{marker}: {} {}", r.status, r.body),
                        // The kill: this request was never answered.
                        None => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    let metrics = request(port, "GET", "/metrics", &[], None).unwrap().body;
    std::thread::sleep(Duration::from_millis(200));
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    let acknowledged: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(
        acknowledged.len() > 100,
        "only {} answers before the kill",
        acknowledged.len()
    );
    let rows = metric(&metrics, "sekimori_audit_batch_rows_sum ");
    let commits = metric(&metrics, "sekimori_audit_batch_rows_count ");
    eprintln!(
        "{} answers before the kill; {rows} rows in {commits} commits before the metrics read",
        acknowledged.len()
    );
    assert!(
        commits > 0.0 && rows / commits > 1.5,
        "rows were not committed in batches: {rows} rows in {commits} commits"
    );

    let out = env.run(&["audit", "export", "--format", "jsonl"], None);
    assert!(out.status.success(), "{}", text(&out));
    let audited: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "request_refused")
        .filter_map(|r| {
            r["detail"]["request"]["x-forwarded-uri"][0]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|m| !audited.contains(*m))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered requests have no audit row: {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
    let verify = env.run(&["audit", "verify"], None);
    assert!(verify.status.success(), "{}", text(&verify));
}
