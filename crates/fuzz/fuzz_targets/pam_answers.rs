//! The PAM module against a gateway that answers anything: every status and JSON the fuzzer
//! makes, in every mode. Never panics, and the module lets a person in only when the gateway
//! said exactly `200 {"result": "allow", …}`.
#![no_main]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use pam_sekimori::{Config, Conversation, Gateway, Item, Level, Mode, Verdict};
use serde_json::Value;
use zeroize::Zeroizing;

struct Conv;

impl Conversation for Conv {
    fn user(&mut self) -> Result<String, String> {
        Ok("nurse1".into())
    }
    fn item(&self, item: Item) -> Option<String> {
        match item {
            Item::Service => Some("sshd".into()),
            Item::RHost => Some("192.0.2.7".into()),
            Item::Tty => None,
        }
    }
    fn ask(&mut self, _prompt: &str, _echo: bool) -> Result<Zeroizing<String>, String> {
        Ok(Zeroizing::new("123456".into()))
    }
    fn tell(&mut self, _text: &str, _error: bool) {}
    fn log(&self, _level: Level, _text: &str) {}
}

struct Gw {
    answers: RefCell<VecDeque<(u16, Value)>>,
    allowed: RefCell<bool>,
}

impl Gateway for Gw {
    fn post(&self, _path: &str, _body: &Value) -> Result<(u16, Value), String> {
        let (status, v) = self.answers.borrow_mut().pop_front().ok_or("no answer")?;
        if status == 200 && v.get("result").and_then(Value::as_str) == Some("allow") {
            *self.allowed.borrow_mut() = true;
        }
        Ok((status, v))
    }
    fn wait(&self, _d: Duration) {}
}

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let mode = match first % 3 {
        0 => Mode::SecondFactor,
        1 => Mode::PasswordAndCode,
        _ => Mode::DeviceFlow,
    };
    // Answers: a status byte pair, then JSON text, separated by 0xff.
    let answers: VecDeque<(u16, Value)> = rest
        .split(|b| *b == 0xff)
        .filter_map(|part| {
            let (s, json) = part.split_at_checked(2)?;
            let status = 100 + u16::from_be_bytes([s[0], s[1]]) % 500;
            Some((status, serde_json::from_slice(json).unwrap_or(Value::Null)))
        })
        .collect();
    let gw = Gw {
        answers: RefCell::new(answers),
        allowed: RefCell::new(false),
    };
    let config = Config {
        gateway_url: "https://gw.test".into(),
        ca_file: None,
        device_id: "srv-1".into(),
        credential: Zeroizing::new("tok".into()),
        mode,
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
    };
    let verdict = pam_sekimori::authenticate(&mut Conv, &gw, &config, 1_800_000_000);
    if verdict == Verdict::Allow {
        assert!(*gw.allowed.borrow(), "allowed without the gateway's allow");
    }
});
