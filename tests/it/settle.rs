//! Every step settles: a sign-in or a code check that has taken its lockout slot runs to its
//! end even when the client goes away mid-step (a connection reset right after the request,
//! or a client that gives up after a short timeout, as a PAM module does after 5 s). A right
//! answer resets the counter, a wrong one counts, and each writes its audit row. The gateway
//! here is the real router served over real TCP, with a clock the test moves.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use sekimori::account::AccountType;
use sekimori::clock::Clock as _;
use serde_json::json;

use crate::gateway::{Gw, PASSWORD};
use crate::support::Env;
use crate::totp::oathtool;

/// How a client leaves before the answer.
#[derive(Clone, Copy, Debug)]
enum Leave {
    /// Reset the connection 10 ms after the request is written: read by then, not answered.
    /// (Reset sooner, the kernel may drop the unread request itself: nothing to settle.)
    Reset,
    /// Wait 1 ms for an answer, give up and close.
    TimeOut,
}

fn post(port: u16, path: &str, headers: &[(&str, &str)], body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string();
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    req.into_bytes()
}

/// Send the request and leave without reading the answer.
fn send_and_leave(port: u16, request: &[u8], leave: Leave) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request).unwrap();
    match leave {
        Leave::Reset => {
            std::thread::sleep(Duration::from_millis(10));
            // SO_LINGER 0: close sends RST, as a killed process's socket does.
            let s2 = socket2::SockRef::from(&s);
            s2.set_linger(Some(Duration::ZERO)).unwrap();
            drop(s);
        }
        Leave::TimeOut => {
            s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
            drop(s);
        }
    }
}

/// Send the request and read the JSON answer.
fn send(port: u16, request: &[u8]) -> serde_json::Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).unwrap();
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                return serde_json::from_str(&body[..len]).unwrap_or(serde_json::Value::Null);
            }
        }
        assert!(
            n > 0,
            "connection closed early: {}",
            String::from_utf8_lossy(&raw)
        );
    }
}

/// The router on a real socket.
async fn serve(gw: &Gw) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = gw
        .app
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// Wait (up to 10 s) until the audit log holds `n` rows that `pick` selects.
async fn audited(gw: &Gw, n: usize, pick: impl Fn(&(String, String, serde_json::Value)) -> bool) {
    for _ in 0..200 {
        if gw.audit_kinds().await.iter().filter(|a| pick(a)).count() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = gw.audit_kinds().await;
    let rows: Vec<String> = all.iter().map(|(k, s, d)| format!("{k} {s} {d}")).collect();
    panic!("expected {n} rows; the log holds:\n{}", rows.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_checks_settle_when_the_client_leaves() {
    let env = Env::new();
    let clock = Arc::new(sekimori::clock::ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    ));
    let gw = Gw::new(env.state_with_clock("", clock.clone()).await);
    gw.user("settle", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("settle").await;
    let e = crate::factors::enrol_totp(&gw, &cookie, None, "phone", clock.now()).await;
    assert_eq!(e.status.as_u16(), 200, "{}", e.body);
    // enrol_totp does not hand out the secret: read it back through a second enrolment.
    let start = gw.call("POST", "/api/v1/factors/totp", &cookie, None).await;
    let secret = start.body["secret"].as_str().unwrap().to_owned();
    clock.advance(chrono::Duration::seconds(30));
    let c = gw
        .call(
            "POST",
            "/api/v1/factors/totp/confirm",
            &cookie,
            Some(json!({"enrolment_id": start.body["enrolment_id"], "code": oathtool(&secret, clock.now()), "label": "tablet"})),
        )
        .await;
    assert_eq!(c.status.as_u16(), 200, "{}", c.body);
    let bearer = format!("Bearer {}", crate::pam_api::device(&gw, "srv-a").await);
    let port = serve(&gw).await;
    let check = |code: &str| {
        post(
            port,
            "/api/v1/pam/authenticate",
            &[("Authorization", bearer.as_str())],
            &json!({"device": "srv-a", "user": "settle", "code": code, "time": clock.now().timestamp()}),
        )
    };
    let wrong = |at| {
        let right = oathtool(&secret, at);
        format!(
            "{}{}",
            if right.starts_with('9') { '0' } else { '9' },
            &right[1..]
        )
    };
    let is = |result: &'static str| {
        move |a: &(String, String, serde_json::Value)| {
            a.0 == "login_attempt"
                && a.1 == "settle"
                && a.2["step"] == "second_factor"
                && a.2["result"] == result
        }
    };
    let failed = |a: &(String, String, serde_json::Value)| {
        a.0 == "login_attempt" && a.1 == "settle" && a.2["reason"] == "invalid_code"
    };

    for leave in [Leave::Reset, Leave::TimeOut] {
        // Four wrong codes answered; then the right code, whose client leaves at once.
        let before_ok = gw
            .audit_kinds()
            .await
            .iter()
            .filter(|a| is("accepted")(a))
            .count();
        let before_fail = gw.audit_kinds().await.iter().filter(|a| failed(a)).count();
        for _ in 0..4 {
            let r = send(port, &check(&wrong(clock.now())));
            assert_eq!(r["reason"], "invalid_code", "{leave:?}: {r}");
        }
        clock.advance(chrono::Duration::seconds(30));
        send_and_leave(port, &check(&oathtool(&secret, clock.now())), leave);
        // It ran to its end: accepted and audited…
        audited(&gw, before_ok + 1, is("accepted")).await;
        // …and it reset the counter: four more wrong codes do not lock.
        for i in 0..4 {
            let r = send(port, &check(&wrong(clock.now())));
            assert_eq!(
                r["reason"], "invalid_code",
                "{leave:?}, wrong code {i}: {r}"
            );
        }
        // Wrong codes whose clients leave count too: the fifth failure locks.
        send_and_leave(port, &check(&wrong(clock.now())), leave);
        audited(&gw, before_fail + 9, failed).await;
        let r = send(port, &check(&wrong(clock.now())));
        assert_eq!(r["reason"], "locked", "{leave:?}: {r}");
        // Let the lock pass before the next round.
        clock.advance(chrono::Duration::minutes(16));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_sign_ins_settle_when_the_client_leaves() {
    let env = Env::new();
    let gw = Gw::new(env.state_with("").await);
    gw.user("leaver", AccountType::Staff, &["nurse"]).await;
    let port = serve(&gw).await;
    let login = |password: &str| {
        post(
            port,
            "/api/v1/login",
            &[],
            &json!({"username": "leaver", "password": password}),
        )
    };
    let success = |a: &(String, String, serde_json::Value)| {
        a.0 == "login_attempt" && a.1 == "leaver" && a.2["sid"].is_string()
    };
    let failure = |a: &(String, String, serde_json::Value)| {
        a.0 == "login_attempt" && a.1 == "leaver" && a.2["reason"] == "invalid_credentials"
    };
    for leave in [Leave::Reset, Leave::TimeOut] {
        let ok_before = gw.audit_kinds().await.iter().filter(|a| success(a)).count();
        let fail_before = gw.audit_kinds().await.iter().filter(|a| failure(a)).count();
        for _ in 0..4 {
            let r = send(port, &login("wrong-password-123"));
            assert_eq!(r["error"]["code"], "invalid_credentials", "{r}");
        }
        // The right password while the client leaves: hashing takes tens of milliseconds,
        // long after the connection is gone.
        send_and_leave(port, &login(PASSWORD), leave);
        audited(&gw, ok_before + 1, success).await;
        for _ in 0..4 {
            let r = send(port, &login("wrong-password-123"));
            assert_eq!(
                r["error"]["code"], "invalid_credentials",
                "{leave:?}: not locked: {r}"
            );
        }
        audited(&gw, fail_before + 8, failure).await;
        // Reset the counter for the next round.
        let r = send(port, &login(PASSWORD));
        assert_eq!(r["outcome"], "authenticated", "{r}");
    }
}
