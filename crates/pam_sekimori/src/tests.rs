//! The module's logic against a scripted conversation and a scripted gateway.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::*;

#[derive(Default)]
struct Script {
    user: String,
    rhost: Option<String>,
    answers: VecDeque<String>,
    prompts: Vec<(String, bool)>,
    told: Vec<(String, bool)>,
    logs: RefCell<Vec<(Level, String)>>,
}

impl Conversation for Script {
    fn user(&mut self) -> Result<String, String> {
        Ok(self.user.clone())
    }
    fn item(&self, item: Item) -> Option<String> {
        match item {
            Item::Service => Some("sshd".into()),
            Item::RHost => self.rhost.clone(),
            Item::Tty => None,
        }
    }
    fn ask(&mut self, prompt: &str, echo: bool) -> Result<Zeroizing<String>, String> {
        self.prompts.push((prompt.to_owned(), echo));
        self.answers
            .pop_front()
            .map(Zeroizing::new)
            .ok_or_else(|| "no answer".into())
    }
    fn tell(&mut self, text: &str, error: bool) {
        self.told.push((text.to_owned(), error));
    }
    fn log(&self, level: Level, text: &str) {
        self.logs.borrow_mut().push((level, text.to_owned()));
    }
}

/// One scripted answer of the gateway.
type Answer = Result<(u16, Value), String>;

#[derive(Default)]
struct Gw {
    answers: RefCell<VecDeque<Answer>>,
    sent: RefCell<Vec<(String, Value)>>,
    waited: RefCell<Duration>,
}

impl Gateway for Gw {
    fn post(&self, path: &str, body: &Value) -> Answer {
        self.sent.borrow_mut().push((path.to_owned(), body.clone()));
        self.answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Err("no scripted answer".into()))
    }
    fn wait(&self, d: Duration) {
        *self.waited.borrow_mut() += d;
    }
}

fn config(mode: Mode) -> Config {
    Config {
        gateway_url: "https://gw.example".into(),
        ca_file: None,
        device_id: "srv-1".into(),
        credential: Zeroizing::new("tok".into()),
        mode,
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
    }
}

fn script(answers: &[&str]) -> Script {
    Script {
        user: "nurse1".into(),
        rhost: Some("192.0.2.7".into()),
        answers: answers.iter().map(|s| (*s).to_owned()).collect(),
        ..Script::default()
    }
}

fn gw(answers: Vec<Answer>) -> Gw {
    Gw {
        answers: RefCell::new(answers.into()),
        ..Gw::default()
    }
}

#[test]
fn a_code_the_gateway_allows_is_success() {
    let mut s = script(&[" 123456 "]);
    let g = gw(vec![Ok((200, json!({"result": "allow"})))]);
    let v = authenticate(&mut s, &g, &config(Mode::SecondFactor), 1_790_000_000);
    assert_eq!(v, Verdict::Allow);
    assert_eq!(s.prompts, vec![(CODE_PROMPT.to_owned(), false)]);
    let sent = g.sent.borrow();
    assert_eq!(sent[0].0, "/api/v1/pam/authenticate");
    assert_eq!(
        sent[0].1,
        json!({"device": "srv-1", "user": "nurse1", "service": "sshd", "rhost": "192.0.2.7",
               "time": 1_790_000_000, "code": "123456"})
    );
    assert!(s.logs.borrow()[0].1.contains("allowed"));
}

#[test]
fn a_denial_shows_the_gateways_message_and_logs_the_reason() {
    let mut s = script(&["000000"]);
    let g = gw(vec![Ok((
        200,
        json!({"result": "deny", "reason": "invalid_code", "message": "確認コードが正しくありません。 / The verification code is not correct."}),
    ))]);
    assert_eq!(
        authenticate(&mut s, &g, &config(Mode::SecondFactor), 0),
        Verdict::Deny
    );
    assert!(s.told[0].0.contains("The verification code is not correct"));
    assert!(s.told[0].1, "shown as an error");
    let logs = s.logs.borrow();
    assert_eq!(logs[0].0, Level::Notice);
    assert!(logs[0].1.contains("denied: invalid_code"), "{:?}", logs);
}

#[test]
fn password_mode_asks_for_the_password_first_and_sends_both() {
    let mut s = script(&["pw", "654321"]);
    let g = gw(vec![Ok((200, json!({"result": "allow"})))]);
    assert_eq!(
        authenticate(&mut s, &g, &config(Mode::PasswordAndCode), 0),
        Verdict::Allow
    );
    assert_eq!(s.prompts[0].0, PASSWORD_PROMPT);
    assert_eq!(s.prompts[1].0, CODE_PROMPT);
    assert_eq!(g.sent.borrow()[0].1["password"], "pw");
}

#[test]
fn every_failure_of_the_gateway_is_a_denial() {
    let cases: Vec<(Answer, &str)> = vec![
        (
            Err("gateway unreachable at https://gw.example: connection refused".into()),
            "unreachable",
        ),
        (
            Err("TLS error talking to https://gw.example: invalid peer certificate".into()),
            "TLS error",
        ),
        (
            Ok((401, json!({"error": "device_unauthorized"}))),
            "refused this device's credential",
        ),
        (
            Ok((503, json!({"error": "state_unavailable"}))),
            "503 state_unavailable",
        ),
        (Ok((200, json!({"result": "maybe"}))), "denied"),
        (Ok((200, json!({}))), "denied"),
    ];
    for (answer, expect) in cases {
        let mut s = script(&["123456"]);
        let g = gw(vec![answer]);
        assert_eq!(
            authenticate(&mut s, &g, &config(Mode::SecondFactor), 0),
            Verdict::Deny,
            "{expect}"
        );
        let logs = s.logs.borrow();
        assert!(
            logs.iter().any(|(_, l)| l.contains(expect)),
            "{expect}: {logs:?}"
        );
        assert!(!s.told.is_empty(), "the person is told: {expect}");
    }
}

#[test]
fn no_answer_to_the_prompt_is_a_denial_without_asking_the_gateway() {
    let mut s = script(&[]);
    let g = gw(vec![Ok((200, json!({"result": "allow"})))]);
    assert_eq!(
        authenticate(&mut s, &g, &config(Mode::SecondFactor), 0),
        Verdict::Deny
    );
    assert!(g.sent.borrow().is_empty());
}

#[test]
fn the_device_flow_polls_until_approved() {
    let mut s = script(&[""]);
    let g = gw(vec![
        Ok((
            200,
            json!({"flow_id": "f1", "user_code": "ABCD-EFGH", "verification_uri": "https://gw.example/device", "interval": 2}),
        )),
        Ok((200, json!({"result": "pending"}))),
        Ok((200, json!({"result": "pending"}))),
        Ok((200, json!({"result": "allow"}))),
    ]);
    assert_eq!(
        authenticate(&mut s, &g, &config(Mode::DeviceFlow), 0),
        Verdict::Allow
    );
    assert!(s.prompts[0].0.contains("ABCD-EFGH"));
    assert!(s.prompts[0].0.contains("https://gw.example/device"));
    assert_eq!(*g.waited.borrow(), Duration::from_secs(6));
    let sent = g.sent.borrow();
    assert_eq!(sent[1].0, "/api/v1/pam/device-flow/poll");
    assert_eq!(sent[1].1["flow_id"], "f1");
}

#[test]
fn a_device_flow_that_stays_pending_expires_as_a_denial() {
    let mut s = script(&[""]);
    let mut answers = vec![Ok((
        200,
        json!({"flow_id": "f1", "user_code": "X", "verification_uri": "u", "interval": 5}),
    ))];
    answers.extend((0..100).map(|_| Ok((200, json!({"result": "pending"})))));
    let g = gw(answers);
    assert_eq!(
        authenticate(&mut s, &g, &config(Mode::DeviceFlow), 0),
        Verdict::Deny
    );
    assert!(*g.waited.borrow() >= Duration::from_secs(150));
    assert!(s.told.iter().any(|(t, _)| t.contains("expired")));
}

#[test]
fn break_glass_is_alerted_and_reported_and_never_refused() {
    let mut s = script(&[]);
    s.user = "emergency".into();
    let g = gw(vec![Ok((200, json!({"result": "recorded"})))]);
    let c = config(Mode::SecondFactor);
    report_break_glass(&mut s, Some(&g), Some(&c), 5);
    let sent = g.sent.borrow();
    assert_eq!(sent[0].0, "/api/v1/pam/break-glass");
    assert_eq!(sent[0].1["user"], "emergency");
    let logs = s.logs.borrow();
    assert_eq!(logs[0].0, Level::Alert);
    assert!(
        logs[0]
            .1
            .contains("BREAK-GLASS session opened (user=emergency")
    );

    // The gateway down: the alert says the use was not recorded.
    let mut s = script(&[]);
    let g = gw(vec![Err(
        "gateway unreachable at https://gw.example: refused".into(),
    )]);
    report_break_glass(&mut s, Some(&g), Some(&c), 5);
    let logs = s.logs.borrow();
    assert!(
        logs.iter()
            .any(|(l, t)| *l == Level::Alert && t.contains("NOT recorded: gateway unreachable"))
    );
}
