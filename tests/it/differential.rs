//! The differential test of the gate's reading of paths. A seeded corpus of over 10,000
//! targets (a grammar over every class the canonicaliser refuses, plus a list of known
//! path-confusion payloads) is read by Sekimori's canonicaliser and by other readers: a real
//! nginx (`$uri` after its own decoding and normalisation), Python (`urllib` + `posixpath`,
//! and the same after NFKC and case folding), Node's WHATWG `URL`, a model of IIS (`%u`,
//! best-fit mapping, backslashes, trailing dots, streams, any case) and a model of a servlet
//! container (`;parameters`). Wherever a reader lands on a path that the access policy
//! decides differently from the path Sekimori read, Sekimori must have refused the target.
//! A failure prints the target, the reader and both paths.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use sekimori::lockout::Zone;
use sekimori::policy::{AccessFacts, AccountFacts, PolicyEngine, SystemFacts, Verdict};

use crate::process::free_port;

const SEED: u64 = 0x5e_c1_70_b1;
const GENERATED: usize = 10_000;

/// The policy the readings are decided by: admin pages and a Japanese path denied, a page
/// that needs two factors, an API admin path by glob, everything else open.
const POLICY: &str = "[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n\
    [[access.rules]]\npaths = [\"/admin\"]\npolicy = \"deny\"\n\
    [[access.rules]]\npaths = [\"/api/*/admin\"]\npolicy = \"deny\"\n\
    [[access.rules]]\npaths = [\"/secure\"]\npolicy = \"two_factor\"\n\
    [[access.rules]]\npaths = [\"/%E3%82%AB%E3%83%AB%E3%83%86\"]\npolicy = \"deny\"\n\
    [[access.rules]]\npolicy = \"one_factor\"\n";

/// Known path-confusion payloads (the classes of public lists: traversal encodings, servlet
/// parameters, IIS %u and best-fit, Unicode case folding, nginx/alias and Spring tricks).
const KNOWN: &[&str] = &[
    "/admin",
    "/ADMIN",
    "/Admin/",
    "/admin/",
    "/admin/.",
    "/admin/..",
    "/admin/../admin",
    "/./admin",
    "/public/../admin",
    "/public/..%2fadmin",
    "/public/%2e%2e/admin",
    "/public/%2e%2e%2fadmin",
    "/public/..%5cadmin",
    "/public/..\\admin",
    "/public\\..\\admin",
    "/public/%252e%252e/admin",
    "/public/%252e%252e%252fadmin",
    "/public/..%252fadmin",
    "/public/%c0%ae%c0%ae/admin",
    "/public/%c0%ae%c0%ae%c0%afadmin",
    "/public/..%c0%afadmin",
    "/public/%e0%80%ae%e0%80%ae/admin",
    "/public/%u002e%u002e/admin",
    "/public/..%u2215admin",
    "/public/..%u2216admin",
    "/%u0061dmin",
    "/%u0041DMIN",
    "/public/..;/admin",
    "/admin;",
    "/admin;jsessionid=1",
    "/;/admin",
    "/.;/admin",
    "/public;/../admin",
    "/admin%3b",
    "/admin%3f",
    "/admin%23",
    "/admin?",
    "/admin#",
    "/admin%00",
    "/admin%00.html",
    "/admin%0a",
    "/admin%0d%0a",
    "/admin%09",
    "/admin%20",
    "/admin.",
    "/admin..",
    "/admin...",
    "/admin::$DATA",
    "/admin:$i30:$INDEX_ALLOCATION",
    "/ADMINI~1",
    "/admini~1/x",
    "//admin",
    "///admin",
    "/public//../admin",
    "/%2fadmin",
    "/%2Fadmin",
    "/%5cadmin",
    "/%5Cadmin",
    "/%EF%BC%8Fadmin",
    "/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E",
    "/%EF%BC%A1%EF%BC%A4%EF%BC%AD%EF%BC%A9%EF%BC%AE",
    "/adm%C4%B1n",
    "/ADM%C4%B0N",
    "/%E2%84%AAey",
    "/%C5%BFecure",
    "/s%C3%A9cure",
    "/%C2%A5..%C2%A5admin",
    "/public%C2%A5..%C2%A5admin",
    "/public%E2%88%95..%E2%88%95admin",
    "/%EF%BC%8E%EF%BC%8E/admin",
    "/public/%EF%BC%8E%EF%BC%8E/admin",
    "/adm%C2%ADin",
    "/adm%E2%80%8Bin",
    "/%EF%AC%80",
    "/%E3%82%AB%E3%83%AB%E3%83%86",
    "/%EF%BD%B6%EF%BE%99%EF%BE%83",
    "/%E3%82%AB%E3%83%AB%E3%83%86/",
    "/api/v1/admin",
    "/api/v1/ADMIN",
    "/api/v1/%61dmin",
    "/api/v1/admin;x",
    "/api//admin",
    "/api/v1/../v2/admin",
    "/api/v1/%2e%2e/v2/admin",
    "/api/v1/admin%2f",
    "/secure",
    "/SECURE/x",
    "/secure/../public",
    "/public/../secure",
    "/public/..;/secure",
    "/secure%2f..%2fpublic",
    "/public/%2e%2e/secure",
    "/%73ecure",
    "/%53ECURE",
    "/public/.%2e/admin",
    "/public/%2e./admin",
    "/public/.%2E/admin",
    "/public/%2E%2E/admin",
    "/public/%%32%65%%32%65/admin",
    "/public/%25%32%65%25%32%65/admin",
    "/public/%2%65%2%65/admin",
    "/public/..%00/admin",
    "/public/..%0d/admin",
    "/public/..%ff/admin",
    "/%ff",
    "/%c0",
    "/%e0%80",
    "/public/%f0%80%80%ae%f0%80%80%ae/admin",
    "/public/%ed%a0%80",
    "/%zz",
    "/%",
    "/%4",
    "/public/..%2F..%2Fadmin",
    "/x/../../admin",
    "/..",
    "/../admin",
    "/.../admin",
    "/public/....//admin",
    "/public/..../admin",
    "/admin/%2e",
    "/admin/%2e%2e",
    "/public/%20../admin",
    "/public/..%20/admin",
    "/public/.. /admin",
    "/public/..\t/admin",
    "/admin,/public",
    "/public,/admin",
    "/public,%2fadmin",
];

/// splitmix64: a seeded, dependency-free generator for the corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick(&mut self, from: &[&'static [u8]]) -> &'static [u8] {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// Plain pieces: most targets are made of these, so that many are read, not refused.
const NAMES: &[&[u8]] = &[
    b"admin",
    b"ADMIN",
    b"Admin",
    b"public",
    b"secure",
    b"SeCuRe",
    b"api",
    b"v1",
    b"x",
    b"index.html",
    b"%E3%82%AB%E3%83%AB%E3%83%86",
    b"%61dmin",
    b"%41DMIN",
    b"adm%69n",
    b"%73ecure",
    b"a%20b",
];
const DOTS: &[&[u8]] = &[b".", b".."];
const SEP: &[u8] = b"/";
const TAILS: &[&[u8]] = &[b"", b"/", b"?x=1", b"?a=/admin"];
/// Tricky pieces, one of the classes each.
const TRICKY: &[&[u8]] = &[
    b"%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E",
    b"adm%C4%B1n",
    b"%C4%B0dmin",
    b"%E2%84%AAey",
    b"%C5%BFecure",
    b"s%C3%A9cure",
    b"\xef\xbd\x81dmin",
    b"admin\xff",
    b"ADMINI~1",
    b"admin.",
    b"admin%20",
    b"admin::$DATA",
    b"admin;x",
    b"secure%3bx",
    b"%EF%BD%B6%EF%BE%99%EF%BE%83",
    b"adm%u0069n",
    b"...",
    b"%2e",
    b"%2e%2e",
    b".%2e",
    b"%2E.",
    b"%252e%252e",
    b"%c0%ae%c0%ae",
    b"%e0%80%ae%e0%80%ae",
    b"%u002e%u002e",
    b"%EF%BC%8E%EF%BC%8E",
    b"..;",
    b".;",
    b"%zz",
    b"%",
    b"%ff",
];
const TRICKY_SEPS: &[&[u8]] = &[
    b"//",
    b"\\",
    b"%2f",
    b"%2F",
    b"%5c",
    b"%252f",
    b"%c0%af",
    b"%u2215",
    b"%u002f",
    b"%EF%BC%8F",
    b"%C2%A5",
    b"%E2%88%95",
    b";/",
    b"/;/",
    b"%3b/",
    b"/./",
    b",/",
];
const TRICKY_TAILS: &[&[u8]] = &[b"#x", b"%23x", b"%3fx", b"%00", b"%0a", b",/admin", b"."];

fn corpus() -> Vec<Vec<u8>> {
    let mut rng = Rng(SEED);
    let mut out: Vec<Vec<u8>> = KNOWN.iter().map(|k| k.as_bytes().to_vec()).collect();
    let mut seen: std::collections::HashSet<Vec<u8>> = out.iter().cloned().collect();
    while out.len() < KNOWN.len() + GENERATED {
        let mut t = if rng.next().is_multiple_of(3) {
            b"/public/".to_vec()
        } else {
            b"/".to_vec()
        };
        let n = 1 + rng.next() % 4;
        for i in 0..n {
            let piece = match rng.next() % 20 {
                0..=13 => rng.pick(NAMES),
                14..=16 => rng.pick(DOTS),
                _ => rng.pick(TRICKY),
            };
            t.extend_from_slice(piece);
            if i + 1 < n {
                let sep = if rng.next().is_multiple_of(6) {
                    rng.pick(TRICKY_SEPS)
                } else {
                    SEP
                };
                t.extend_from_slice(sep);
            }
        }
        let tail = if rng.next().is_multiple_of(8) {
            rng.pick(TRICKY_TAILS)
        } else {
            rng.pick(TAILS)
        };
        t.extend_from_slice(tail);
        if seen.insert(t.clone()) {
            out.push(t);
        }
    }
    out
}

/// nginx's reading: `$uri`, decoded and normalised by nginx itself; `None` where nginx
/// refuses the request (400). Four connections at a time.
fn nginx_readings(targets: &[Vec<u8>]) -> Vec<Option<Vec<u8>>> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log crit;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/client; proxy_temp_path {d}/proxy;\n\
         \x20 fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         \x20 server {{\n    listen 127.0.0.1:{port};\n    location / {{ default_type text/plain; return 200 \"$uri\"; }}\n  }}\n}}\n"
    );
    let _nginx = crate::nginx::start(dir.path(), port, &conf);
    let chunks: Vec<&[Vec<u8>]> = targets.chunks(targets.len().div_ceil(4)).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || chunk.iter().map(|t| nginx_get(port, t)).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

fn nginx_get(port: u16, target: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = b"GET ".to_vec();
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\nHost: emr.clinic.example\r\nConnection: close\r\n\r\n");
    s.write_all(&req).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    raw.starts_with(b"HTTP/1.1 200")
        .then(|| raw[split + 4..].to_vec())
}

fn hex_lines(targets: &[Vec<u8>]) -> String {
    targets.iter().map(|t| hex::encode(t) + "\n").collect()
}

/// Run a reader script over the corpus; its stdout.
fn run_reader(program: &str, script: &str, targets: &[Vec<u8>]) -> String {
    let path = format!("{}/tests/differential/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(program)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} must be installed (tests/run.sh installs it): {e}"));
    let input = hex_lines(targets);
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{program} {script} failed");
    String::from_utf8(out.stdout).unwrap()
}

type Reading = Option<Vec<u8>>;

fn unhex(v: &serde_json::Value) -> Reading {
    v.as_str().map(|s| hex::decode(s).unwrap())
}

/// Every reader's path for every target: (reader name, readings in corpus order).
fn readings(targets: &[Vec<u8>]) -> Vec<(&'static str, Vec<Reading>)> {
    let python = run_reader("python3", "readers.py", targets);
    let rows: Vec<serde_json::Value> = python
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), targets.len());
    let column = |name: &str| rows.iter().map(|r| unhex(&r[name])).collect::<Vec<_>>();
    let whatwg: Vec<Reading> = run_reader("node", "whatwg.mjs", targets)
        .lines()
        .map(|l| (l != "-").then(|| hex::decode(l).unwrap()))
        .collect();
    assert_eq!(whatwg.len(), targets.len());
    vec![
        ("nginx", nginx_readings(targets)),
        ("python", column("python")),
        ("python-nfkc", column("nfkc")),
        ("iis-model", column("iis")),
        ("servlet-model", column("servlet")),
        ("whatwg-url", whatwg),
    ]
}

struct Decider {
    engine: PolicyEngine,
    account: AccountFacts,
    system: SystemFacts,
    /// Cedar in a debug build is slow: each distinct path is decided once.
    seen: std::cell::RefCell<std::collections::HashMap<String, Verdict>>,
}

impl Decider {
    fn new() -> Self {
        let config = sekimori::config::Config::from_toml_str(POLICY).unwrap();
        Self {
            engine: PolicyEngine::load(None, &config.access_rules).unwrap(),
            account: AccountFacts {
                id: "a1".into(),
                account_type: "staff".into(),
                status: "active".into(),
                roles: vec!["nurse".into()],
                groups: vec![],
                facility: "default".into(),
                has_second_factor: false,
                second_factor_required: false,
            },
            system: SystemFacts::of(config.system("emr").unwrap(), &config.facility.id),
            seen: Default::default(),
        }
    }

    fn decide(&self, path: &str) -> Verdict {
        if let Some(v) = self.seen.borrow().get(path) {
            return v.clone();
        }
        let v = self.evaluate(path);
        self.seen.borrow_mut().insert(path.to_owned(), v.clone());
        v
    }

    fn evaluate(&self, path: &str) -> Verdict {
        let facts = AccessFacts {
            now: chrono::Utc::now(),
            host: "emr.clinic.example".into(),
            path: path.to_owned(),
            path_folded: path.to_lowercase(),
            method: "GET".into(),
            zone: Zone::External,
            amr: vec!["pwd".into()],
            device: String::new(),
        };
        self.engine
            .access(&self.account, &self.system, &facts)
            .verdict
    }
}

#[test]
fn every_reading_that_decides_otherwise_is_refused() {
    let started = std::time::Instant::now();
    let targets = corpus();
    assert!(targets.len() >= 10_000);
    let readers = readings(&targets);
    let read_in = started.elapsed();
    let decider = Decider::new();
    let mut accepted = 0;
    let mut disagreeing_paths = 0;
    let mut failures = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let Ok(ours) = sekimori::canon::canonicalise(target) else {
            continue;
        };
        accepted += 1;
        let decided = decider.decide(&ours.path);
        for (reader, paths) in &readers {
            let Some(theirs) = &paths[i] else { continue };
            let theirs = String::from_utf8_lossy(theirs);
            if theirs.to_lowercase() != ours.folded && theirs != ours.path {
                disagreeing_paths += 1;
            }
            let other = decider.decide(&theirs);
            if other != decided {
                failures.push(format!(
                    "target {:?}: {reader} reads {theirs:?} ({other:?}); Sekimori read {:?} ({decided:?})",
                    target.escape_ascii().to_string(),
                    ours.path
                ));
            }
        }
    }
    let (mixed_accepted, mixed_refused) =
        mixed_schemes(&targets, &readers, &decider, &mut failures);
    let answered: Vec<String> = readers
        .iter()
        .map(|(name, paths)| format!("{name} {}", paths.iter().filter(|p| p.is_some()).count()))
        .collect();
    eprintln!(
        "differential: {} targets (seed {SEED:#x}), {accepted} read by Sekimori, {} refused; readings per reader: {}; {disagreeing_paths} readings spelt otherwise but decided alike; mixed schemes {mixed_accepted} accepted, {mixed_refused} refused; {:.1} s ({:.1} s reading)",
        targets.len(),
        targets.len() - accepted,
        answered.join(", "),
        started.elapsed().as_secs_f64(),
        read_in.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} readings decide otherwise:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
    // The test only means something if both sides happen: targets read and refused, and
    // the readers answered for most of the corpus.
    assert!(accepted >= 1_000, "only {accepted} targets were read");
    assert!(
        mixed_accepted >= 1_000 && mixed_refused >= 1_000,
        "mixed schemes: {mixed_accepted} accepted, {mixed_refused} refused"
    );
    assert!(targets.len() - accepted >= 1_000);
    for (name, paths) in &readers {
        let n = paths.iter().filter(|p| p.is_some()).count();
        assert!(n >= targets.len() / 3, "{name} answered only {n}");
    }
}

/// Mixed schemes: each endpoint is sent its own description of one corpus target and the
/// other scheme's header naming another (the same one, a seeded other, or the next). An
/// upstream may read the other header, so wherever the gate lets such a pair through, every
/// reader's reading of the other header must be decided as Sekimori decided its own.
fn mixed_schemes(
    targets: &[Vec<u8>],
    readers: &[(&'static str, Vec<Reading>)],
    decider: &Decider,
    failures: &mut Vec<String>,
) -> (usize, usize) {
    use axum::http::{HeaderMap, HeaderValue};
    use sekimori::http::authz::target::{Mode, from_headers};
    let (mut accepted, mut refused) = (0, 0);
    let n = targets.len();
    for i in 0..n {
        for j in [i, (i * 7919 + 13) % n, (i + 1) % n] {
            let (own, other) = (&targets[i], &targets[j]);
            let url = [&b"https://emr.clinic.example"[..], own].concat();
            let other_url = [&b"https://emr.clinic.example"[..], other].concat();
            for (mode, pairs) in [
                (
                    Mode::AuthRequest,
                    [
                        ("x-original-url", url.as_slice()),
                        ("x-original-method", b"GET"),
                        ("x-forwarded-uri", other.as_slice()),
                    ],
                ),
                (
                    Mode::ForwardAuth,
                    [
                        ("x-forwarded-uri", own.as_slice()),
                        ("x-original-url", other_url.as_slice()),
                        ("x-forwarded-method", b"GET"),
                    ],
                ),
            ] {
                let mut h = HeaderMap::new();
                let mut sendable = true;
                for (k, v) in pairs {
                    match HeaderValue::from_bytes(v) {
                        Ok(v) => {
                            h.insert(k, v);
                        }
                        Err(_) => sendable = false,
                    }
                }
                if mode == Mode::ForwardAuth {
                    h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
                    h.insert(
                        "x-forwarded-host",
                        HeaderValue::from_static("emr.clinic.example"),
                    );
                }
                if !sendable {
                    continue;
                }
                let Ok(decided_on) = from_headers(mode, &h) else {
                    refused += 1;
                    continue;
                };
                accepted += 1;
                let decided = decider.decide(&decided_on.path);
                for (reader, paths) in readers {
                    let Some(theirs) = &paths[j] else { continue };
                    let theirs = String::from_utf8_lossy(theirs);
                    let other_decision = decider.decide(&theirs);
                    if other_decision != decided {
                        failures.push(format!(
                            "{mode:?} {:?} beside {:?}: {reader} reads the other header as {theirs:?} ({other_decision:?}); Sekimori decided {:?} ({decided:?})",
                            own.escape_ascii().to_string(),
                            other.escape_ascii().to_string(),
                            decided_on.path
                        ));
                    }
                }
            }
        }
    }
    (accepted, refused)
}
