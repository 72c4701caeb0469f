//! The off-box copy: a real gateway process sends every audit row to a real rsyslog (Debian's
//! `rsyslogd`, imtcp on loopback, RFC 5424 with octet-counted framing) that writes what it
//! receives to a file. The rows arrive in order; the collector stopped and restarted loses
//! none (a row may arrive twice; its first arrival keeps the order).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{Gateway, free_port};
use crate::support::{Env, text};

/// rsyslogd in the foreground with a configuration of its own: TCP on one loopback port, every
/// message written to `out` as `MSGID STRUCTURED-DATA`.
struct Rsyslog {
    child: Child,
}

impl Rsyslog {
    fn start(dir: &Path, port: u16, out: &Path) -> Self {
        let work = dir.join("rsyslog-work");
        std::fs::create_dir_all(&work).unwrap();
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" port="{port}" address="127.0.0.1")
template(name="row" type="string" string="%msgid% %structured-data%\n")
action(type="omfile" file="{out}" template="row" flushOnTXEnd="on" asyncWriting="off")
"#,
                work = work.display(),
                out = out.display()
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/rsyslogd")
            .args(["-n", "-f"])
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslog.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rsyslogd must be installed (tests/run.sh installs rsyslog)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }

    /// SIGTERM (a collector shut down), and wait for it to exit.
    fn stop(mut self) {
        crate::process::stop(&mut self.child);
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(seq, hash)` of each line the collector wrote, in arrival order.
fn received(out: &Path) -> Vec<(i64, String)> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let field = |name: &str| {
                let start = l.find(&format!(" {name}=\""))? + name.len() + 3;
                let end = l[start..].find('"')? + start;
                Some(l[start..end].to_owned())
            };
            Some((field("seq")?.parse().ok()?, field("hash")?))
        })
        .collect()
}

/// The log as the gateway holds it: hash by seq.
fn rows(env: &Env) -> HashMap<i64, String> {
    let out = env.run(&["audit", "export", "--format", "jsonl"], None);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["seq"].as_i64().unwrap(),
                v["hash"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn readyz_syslog(gw: &Gateway) -> serde_json::Value {
    gw.get("/readyz", &[]).json()["audit"]["syslog"].clone()
}

/// Failed sign-ins of unknown names: a row each.
fn failed_sign_ins(gw: &Gateway, from: usize, n: usize) {
    for i in from..from + n {
        let r = gw.post(
            "/api/v1/login",
            &[],
            &serde_json::json!({"username": format!("nobody{i}"), "password": "wrong password 1"}),
        );
        assert_eq!(r.status, 401, "{}", r.body);
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every row of the log at the collector, with its hash, first arrivals in seq order.
fn assert_complete(env: &Env, out: &Path) -> usize {
    let held = rows(env);
    let got = received(out);
    let mut first: Vec<i64> = Vec::new();
    for (seq, hash) in &got {
        assert_eq!(
            held.get(seq),
            Some(hash),
            "row {seq} arrived with another hash"
        );
        if !first.contains(seq) {
            first.push(*seq);
        }
    }
    let mut sorted = first.clone();
    sorted.sort_unstable();
    assert_eq!(first, sorted, "rows arrived out of order");
    let expected: Vec<i64> = (1..=held.len() as i64).collect();
    assert_eq!(sorted, expected, "rows missing at the collector");
    got.len() - first.len()
}

#[test]
fn every_row_reaches_rsyslog_in_order_and_none_is_lost_while_it_is_down() {
    let env = Env::new();
    let dir = env.dir.path().to_owned();
    let port = free_port();
    let out = dir.join("collected.log");
    let collector = Rsyslog::start(&dir, port, &out);
    let target = format!("tcp://127.0.0.1:{port}");
    let gw = Gateway::start(&env, &[("SEKIMORI__AUDIT__SYSLOG", target.as_str())]);

    failed_sign_ins(&gw, 0, 15);
    wait_for("the first rows at the collector", || {
        let s = readyz_syslog(&gw);
        s["connected"] == true && s["lag"] == 0 && s["head_seq"].as_i64() >= Some(15)
    });
    let dup = assert_complete(&env, &out);
    assert_eq!(dup, 0, "nothing is sent twice while the collector is up");

    // The collector goes away; the gateway goes on, and the lag shows.
    collector.stop();
    failed_sign_ins(&gw, 100, 15);
    wait_for("the lag in /readyz", || {
        let s = readyz_syslog(&gw);
        s["connected"] == false && s["lag"].as_i64().unwrap_or(0) > 0
    });
    let s = readyz_syslog(&gw);
    assert!(s["last_error"].is_string(), "{s}");
    assert_eq!(
        gw.get("/readyz", &[]).status,
        200,
        "a collector down does not make the gateway unready"
    );

    // Back: everything it missed follows, in order.
    let _collector = Rsyslog::start(&dir, port, &out);
    failed_sign_ins(&gw, 200, 5);
    wait_for("the collector caught up", || {
        let s = readyz_syslog(&gw);
        s["connected"] == true && s["lag"] == 0
    });
    assert_complete(&env, &out);
    let held = rows(&env).len();
    assert!(held >= 35, "{held} rows");

    // The delivery mark survives a restart of the gateway: nothing is sent again from row 1.
    drop(gw);
    let before = received(&out).len();
    let gw = Gateway::start(&env, &[("SEKIMORI__AUDIT__SYSLOG", target.as_str())]);
    failed_sign_ins(&gw, 300, 2);
    wait_for("the rows after the restart", || {
        readyz_syslog(&gw)["lag"] == 0
    });
    assert_complete(&env, &out);
    let resent = received(&out).len() - before;
    assert!(
        resent < 20,
        "{resent} lines after a restart: only the unconfirmed tail is sent again"
    );
}

/// The datagram targets: the local socket and UDP. Each row is one datagram carrying its seq.
#[tokio::test]
async fn rows_reach_a_local_socket_and_a_udp_collector() {
    for transport in ["unix", "udp"] {
        let env = Env::new();
        let sock = env.dir.path().join("log.sock");
        let (target, unix, udp) = if transport == "unix" {
            let s = tokio::net::UnixDatagram::bind(&sock).unwrap();
            (format!("unix://{}", sock.display()), Some(s), None)
        } else {
            let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let port = s.local_addr().unwrap().port();
            (format!("udp://127.0.0.1:{port}"), None, Some(s))
        };
        let state = env
            .state_with(&format!("[audit]\nsyslog = \"{target}\"\n"))
            .await;
        let tasks = state.spawn_audit_tasks();
        for n in 0..3 {
            state
                .auditor
                .record(
                    sekimori::audit::AuditEvent::new(
                        state.config.facility.id.clone(),
                        sekimori::audit::EventKind::LoginAttempt,
                        sekimori::audit::Outcome::Failure,
                    )
                    .subject(format!("user{n}")),
                )
                .await
                .unwrap();
        }
        let mut seqs = Vec::new();
        let mut buf = vec![0u8; 65536];
        while seqs.len() < 3 {
            let n = tokio::time::timeout(Duration::from_secs(10), async {
                match (&unix, &udp) {
                    (Some(u), _) => u.recv(&mut buf).await.unwrap(),
                    (_, Some(u)) => u.recv(&mut buf).await.unwrap(),
                    _ => unreachable!(),
                }
            })
            .await
            .unwrap_or_else(|_| panic!("{transport}: no datagram"));
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            assert!(line.starts_with("<85>1 "), "{transport}: {line}");
            let seq = line
                .split(" seq=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            seqs.push(seq.parse::<i64>().unwrap());
        }
        assert_eq!(seqs, [1, 2, 3], "{transport}");
        // The mark follows the send.
        let deadline = Instant::now() + Duration::from_secs(10);
        while state.stores.audit.delivered_seq(&target).await.unwrap() < 3 {
            assert!(
                Instant::now() < deadline,
                "{transport}: datagrams count as delivered when sent"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tasks.stop(Duration::from_secs(5)).await;
        state.close().await;
    }
}
