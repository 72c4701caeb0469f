//! PAM figures for the closing notes:
//!
//! 1. the round trip from the answered prompt to `PAM_SUCCESS`: `pam_sekimori`'s own logic
//!    (the rlib of the module, with its real client, a new connection each time) against
//!    the real router on loopback, each account answering a fresh TOTP code once — median
//!    and p99;
//! 2. the same through the whole PAM stack: Debian's `pamtester` loading the release module
//!    from a service file (process start, libpam, module load, configuration and credential
//!    checks included), against `pamtester` with `pam_permit.so` as the baseline;
//! 3. the size of the release module.
//!
//! Run (as root, for the service file): `cargo build --release -p pam_sekimori && cargo bench --bench pam`.
//! `SEKIMORI_BENCH_ACCOUNTS` (default 200) sets the number of round trips.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use pam_sekimori::{Config, Conversation, Item, Level, Mode, Verdict};
use sekimori::totp::TotpSecret;
use zeroize::Zeroizing;

mod common;
use common::{enrolled, gateway, serve, server_device};

/// A conversation that answers the code prompt at once.
struct Answer {
    user: String,
    code: String,
}

impl Conversation for Answer {
    fn user(&mut self) -> Result<String, String> {
        Ok(self.user.clone())
    }
    fn item(&self, item: Item) -> Option<String> {
        (item == Item::Service).then(|| "bench".into())
    }
    fn ask(&mut self, _prompt: &str, _echo: bool) -> Result<Zeroizing<String>, String> {
        Ok(Zeroizing::new(self.code.clone()))
    }
    fn tell(&mut self, text: &str, _error: bool) {
        panic!("the module refused: {text}");
    }
    fn log(&self, _level: Level, _text: &str) {}
}

/// Files removed when dropped.
struct Removed(Vec<PathBuf>);

impl Drop for Removed {
    fn drop(&mut self) {
        for f in &self.0 {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn release_module() -> Option<PathBuf> {
    let so = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/libpam_sekimori.so");
    so.exists().then_some(so)
}

fn pamtester(service: &str, user: &str, answer: &str) -> (bool, Duration) {
    let start = Instant::now();
    let mut child = Command::new("pamtester")
        .args([service, user, "authenticate"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pamtester (apt-get install pamtester)");
    {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        // pam_permit asks nothing: pamtester may be gone before the answer is written.
        let _ = writeln!(pipe, "{answer}");
    }
    let ok = child.wait().unwrap().success();
    (ok, start.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("SEKIMORI_BENCH_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let state = gateway(dir.path(), "").await;
    let addr = serve(sekimori::build_router(state.clone())).await;
    let credential = server_device(&state).await;
    let cred_file = dir.path().join("device.credential");
    std::fs::write(&cred_file, &credential).unwrap();
    std::fs::set_permissions(&cred_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let conf_file = dir.path().join("pam.toml");
    std::fs::write(
        &conf_file,
        format!(
            "gateway_url = \"http://127.0.0.1:{}\"\ndevice_id = \"bench-server\"\ncredential_file = \"{}\"\n",
            addr.port(),
            cred_file.display()
        ),
    )
    .unwrap();
    let owner = std::fs::metadata(&cred_file).map(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid()
    });
    let config = Config::load(&conf_file, owner.unwrap()).unwrap();
    assert_eq!(config.mode, Mode::SecondFactor);

    // 2n accounts enrolled now: n for the module's logic, n for pamtester.
    let t0 = Utc::now();
    let people: Vec<(String, TotpSecret)> = enrolled(&state, "pam", 2 * n, t0)
        .await
        .into_iter()
        .map(|(name, _, secret)| (name, secret))
        .collect();
    // A step after the enrolment's own (which the replay guard has spent), at the time of use.
    let code_now = move |s: &TotpSecret| {
        let at = Utc::now().timestamp().max(t0.timestamp() + 30) as u64;
        s.code_at(at).unwrap()
    };
    let (logic, shell) = people.split_at(n);
    let logic: Vec<(String, TotpSecret)> = logic.to_vec();
    let times = tokio::task::spawn_blocking(move || {
        let mut times = Vec::new();
        for (user, secret) in logic {
            let mut conv = Answer {
                user,
                code: code_now(&secret),
            };
            let start = Instant::now();
            // A new client each time, as each PAM call loads it afresh: a new connection.
            let gw = pam_sekimori::client::HttpGateway::new(&config).unwrap();
            let v = pam_sekimori::authenticate(&mut conv, &gw, &config, Utc::now().timestamp());
            times.push(start.elapsed());
            assert_eq!(v, Verdict::Allow);
        }
        times
    })
    .await
    .unwrap();
    let mut times = times;
    times.sort();
    println!(
        "PAM round trip, module logic + gateway (n={n}): median {}, p99 {}",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );

    let Some(so) = release_module() else {
        println!(
            "pamtester figures: skipped, build the module first: cargo build --release -p pam_sekimori"
        );
        return;
    };
    println!(
        "module size: {:.2} MB ({})",
        std::fs::metadata(&so).unwrap().len() as f64 / 1_000_000.0,
        so.display()
    );
    let svc = format!("sekimori-bench-{}", std::process::id());
    let base = format!("{svc}-permit");
    let pam_d = Path::new("/etc/pam.d");
    if std::fs::write(
        pam_d.join(&svc),
        format!(
            "auth required {} config={}\n",
            so.display(),
            conf_file.display()
        ),
    )
    .is_err()
    {
        println!("pamtester figures: skipped, writing /etc/pam.d needs root");
        return;
    }
    // Removed however the run ends, a panic included.
    let _cleanup = Removed(vec![pam_d.join(&svc), pam_d.join(&base)]);
    std::fs::write(pam_d.join(&base), "auth required pam_permit.so\n").unwrap();
    let shell: Vec<(String, TotpSecret)> = shell.to_vec();
    let (mut with, mut without) = tokio::task::spawn_blocking(move || {
        let mut with = Vec::new();
        let mut without = Vec::new();
        for (user, secret) in &shell {
            let (ok, t) = pamtester(&svc, user, &code_now(secret));
            assert!(ok, "pamtester refused {user}");
            with.push(t);
            without.push(pamtester(&base, user, "").1);
        }
        (with, without)
    })
    .await
    .unwrap();
    with.sort();
    without.sort();
    println!(
        "pamtester with pam_sekimori (n={n}): median {}, p99 {}; with pam_permit: median {}, p99 {}",
        ms(percentile(&with, 0.5)),
        ms(percentile(&with, 0.99)),
        ms(percentile(&without, 0.5)),
        ms(percentile(&without, 0.99)),
    );
}
