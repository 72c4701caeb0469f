//! One reading of every request description, or a refusal, on both forward-auth endpoints:
//! nothing is filled in by default, nothing repeated or comma-joined is read, and a path that
//! other servers read differently is refused with its reason and audited. A property test
//! checks that a 2xx only ever follows exactly one canonical target the policy allows.

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use proptest::prelude::*;
use sekimori::account::AccountType;

use crate::gateway::{Gw, PROXY, Reply};
use crate::support::Env;

/// `/admin` (any letter case) only for the `admins` group; everything else for any session.
pub const RULES: &str = "[systems.emr]\nkind = \"web\"\nhosts = [\"emr.clinic.example\"]\n\
    [[access.rules]]\npaths = [\"/admin\"]\ngroups = [\"admins\"]\npolicy = \"one_factor\"\n\
    [[access.rules]]\npaths = [\"/admin\"]\npolicy = \"deny\"\n\
    [[access.rules]]\npolicy = \"one_factor\"\n";

const HOST: &[u8] = b"emr.clinic.example";

/// A request to one endpoint with exactly these headers (repeats kept, bytes as given).
fn described(endpoint: &str, headers: &[(&str, &[u8])], cookie: Option<&str>) -> Request<Body> {
    let mut req = Request::get(endpoint).body(Body::empty()).unwrap();
    for (k, v) in headers {
        req.headers_mut().append(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v).unwrap(),
        );
    }
    if let Some(c) = cookie {
        req.headers_mut()
            .append("cookie", HeaderValue::from_str(c).unwrap());
    }
    req
}

const FORWARD: &str = "/api/v1/authz/forward-auth";
const ORIGINAL: &str = "/api/v1/authz/auth-request";

/// The same target described to each endpoint.
/// Headers as (name, raw value), repeats kept.
pub type Headers = Vec<(&'static str, Vec<u8>)>;

fn both(target: &[u8]) -> [(&'static str, Headers); 2] {
    let mut url = b"https://emr.clinic.example".to_vec();
    url.extend_from_slice(target);
    [
        (
            FORWARD,
            vec![
                ("x-forwarded-method", b"GET".to_vec()),
                ("x-forwarded-proto", b"https".to_vec()),
                ("x-forwarded-host", HOST.to_vec()),
                ("x-forwarded-uri", target.to_vec()),
            ],
        ),
        (
            ORIGINAL,
            vec![
                ("x-original-url", url),
                ("x-original-method", b"GET".to_vec()),
            ],
        ),
    ]
}

async fn send(gw: &Gw, endpoint: &str, headers: &[(&'static str, Vec<u8>)], cookie: &str) -> Reply {
    let h: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    gw.send(described(endpoint, &h, Some(cookie)), PROXY).await
}

async fn gate() -> (Env, Gw, String, String) {
    let env = Env::new();
    let gw = Gw::new(env.state_with(RULES).await);
    gw.user("nurse1", AccountType::Staff, &["nurse"]).await;
    gw.user("it1", AccountType::Staff, &["it_admin"]).await;
    let admin = gw.state.admin.find("it1").await.unwrap();
    let mut a = admin.clone();
    a.groups = vec![sekimori::account::Group::parse("admins").unwrap()];
    gw.state.stores.accounts.update_account(&a).await.unwrap();
    let nurse = gw.session("nurse1").await;
    let it = gw.session("it1").await;
    (env, gw, nurse, it)
}

/// How each endpoint answers a refused description: Traefik and Caddy pass a 400 on; nginx
/// would turn it into its own 500, so the auth-request endpoint answers 403.
pub fn refusal_status(endpoint: &str) -> StatusCode {
    if endpoint == ORIGINAL {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    }
}

fn refused(r: &Reply, endpoint: &str, reason: &str, what: &str) {
    assert_eq!(
        (
            r.status,
            r.code(),
            r.body["error"]["details"]["reason"].as_str()
        ),
        (refusal_status(endpoint), "ambiguous_request", Some(reason)),
        "{what}: {}",
        r.body
    );
    assert_eq!(
        r.headers
            .get("sekimori-refusal")
            .and_then(|v| v.to_str().ok()),
        Some(reason),
        "{what}"
    );
    assert!(r.headers.get("remote-user").is_none(), "{what}");
}

#[tokio::test]
async fn descriptions_are_never_guessed() {
    let (_env, gw, nurse, _) = gate().await;
    for (endpoint, full) in both(b"/chart") {
        // Complete: allowed.
        let r = send(&gw, endpoint, &full, &nurse).await;
        assert_eq!(r.status, StatusCode::OK, "{endpoint}: {}", r.body);
        for i in 0..full.len() {
            let name = full[i].0;
            let mut missing = full.clone();
            missing.remove(i);
            let r = send(&gw, endpoint, &missing, &nurse).await;
            refused(
                &r,
                endpoint,
                "missing_header",
                &format!("{endpoint} without {name}"),
            );
            assert_eq!(r.body["error"]["details"]["header"], name);
            let mut empty = full.clone();
            empty[i].1 = Vec::new();
            let r = send(&gw, endpoint, &empty, &nurse).await;
            refused(
                &r,
                endpoint,
                "empty_header",
                &format!("{endpoint} with an empty {name}"),
            );
        }
        // Without a session too: the refusal comes first, not a login redirect.
        let h: Vec<(&str, &[u8])> = full[..full.len() - 1]
            .iter()
            .map(|(k, v)| (*k, v.as_slice()))
            .collect();
        let r = gw.send(described(endpoint, &h, None), PROXY).await;
        assert_eq!(r.status, refusal_status(endpoint), "{endpoint}");
    }
    // `/admin\xff` is not `/`, and `%zz` is no literal.
    for target in [&b"/admin\xff"[..], b"/%zz"] {
        for (endpoint, headers) in both(target) {
            let r = send(&gw, endpoint, &headers, &nurse).await;
            assert_eq!(r.status, refusal_status(endpoint), "{endpoint}");
        }
    }
    // Every refusal is audited with its reason, the header and the session's owner.
    let audit = gw.audit_kinds().await;
    let refusals: Vec<_> = audit.iter().filter(|a| a.0 == "request_refused").collect();
    assert!(refusals.len() >= 16, "{}", refusals.len());
    assert!(refusals.iter().any(|a| a.1 == "nurse1"
        && a.2["reason"] == "missing_header"
        && a.2["header"] == "x-forwarded-uri"));
    assert!(refusals.iter().any(|a| a.2["reason"] == "non_ascii_byte"
        && a.2["request"]["x-forwarded-uri"][0] == "/admin\\xff"));
}

#[tokio::test]
async fn repeated_and_joined_descriptions_are_refused() {
    let (_env, gw, nurse, _) = gate().await;
    for (endpoint, full) in both(b"/chart") {
        for i in 0..full.len() {
            let name = full[i].0;
            // The same header twice, with another value (CVE-2021-32777's class) or the same.
            for second in [b"/admin".to_vec(), full[i].1.clone()] {
                let mut twice = full.clone();
                twice.push((name, second));
                let r = send(&gw, endpoint, &twice, &nurse).await;
                refused(
                    &r,
                    endpoint,
                    "repeated_header",
                    &format!("{endpoint}: {name} twice"),
                );
            }
        }
    }
    for (endpoint, header, joined) in [
        (FORWARD, "x-forwarded-uri", &b"/chart,/admin"[..]),
        (FORWARD, "x-forwarded-uri", b"/chart, /admin"),
        (
            FORWARD,
            "x-forwarded-host",
            b"emr.clinic.example, other.example",
        ),
        (FORWARD, "x-forwarded-method", b"GET,POST"),
        (FORWARD, "x-forwarded-proto", b"https, http"),
        (
            ORIGINAL,
            "x-original-url",
            b"https://emr.clinic.example/chart,https://emr.clinic.example/admin",
        ),
        (ORIGINAL, "x-original-method", b"GET, POST"),
    ] {
        let (_, mut headers) = both(b"/chart")
            .into_iter()
            .find(|(e, _)| *e == endpoint)
            .unwrap();
        headers.iter_mut().find(|(k, _)| *k == header).unwrap().1 = joined.to_vec();
        let r = send(&gw, endpoint, &headers, &nurse).await;
        assert_eq!(r.status, refusal_status(endpoint), "{endpoint} {header}");
        let reason = r.body["error"]["details"]["reason"].as_str().unwrap();
        assert!(
            ["joined_values", "space"].contains(&reason),
            "{header}: {reason}"
        );
    }
}

/// Headers of the other description scheme, or `Forwarded`, beside an endpoint's own: each
/// (endpoint, header, value, agrees). A value that names another method, scheme, host or
/// target is refused (an upstream reading it would serve what was not decided); the same
/// request spelt in both schemes passes.
const MIXED: &[(&str, &str, &[u8], bool)] = &[
    (
        ORIGINAL,
        "x-forwarded-host",
        b"portal.clinic.example",
        false,
    ),
    (ORIGINAL, "x-forwarded-host", b"emr.clinic.example", true),
    (
        ORIGINAL,
        "x-forwarded-host",
        b"EMR.clinic.example:443",
        true,
    ),
    (ORIGINAL, "x-forwarded-uri", b"/admin", false),
    (ORIGINAL, "x-forwarded-uri", b"/chart?x=1", false),
    (ORIGINAL, "x-forwarded-uri", b"/%2e%2e/admin", false),
    (ORIGINAL, "x-forwarded-uri", b"/%63hart", true),
    (ORIGINAL, "x-forwarded-proto", b"http", false),
    (ORIGINAL, "x-forwarded-proto", b"https", true),
    (ORIGINAL, "x-forwarded-method", b"POST", false),
    (ORIGINAL, "x-forwarded-method", b"GET", true),
    (
        FORWARD,
        "x-original-url",
        b"https://emr.clinic.example/admin",
        false,
    ),
    (
        FORWARD,
        "x-original-url",
        b"https://portal.clinic.example/chart",
        false,
    ),
    (
        FORWARD,
        "x-original-url",
        b"http://emr.clinic.example/chart",
        false,
    ),
    (FORWARD, "x-original-url", b"/admin", false),
    (
        FORWARD,
        "x-original-url",
        b"https://emr.clinic.example/chart",
        true,
    ),
    (FORWARD, "x-original-method", b"DELETE", false),
    (FORWARD, "x-original-method", b"GET", true),
    (ORIGINAL, "x-original-uri", b"/admin", false),
    (FORWARD, "x-original-uri", b"/admin", false),
    (FORWARD, "x-original-uri", b"/chart", true),
    (ORIGINAL, "x-rewrite-url", b"/admin", false),
    (FORWARD, "x-rewrite-url", b"/admin/", false),
    (
        ORIGINAL,
        "forwarded",
        b"for=192.0.2.1;host=portal.clinic.example",
        false,
    ),
    (FORWARD, "forwarded", b"proto=http", false),
    (
        FORWARD,
        "forwarded",
        b"for=192.0.2.1, for=192.0.2.2;host=portal.clinic.example",
        false,
    ),
    (
        ORIGINAL,
        "forwarded",
        b"host=\"emr.clinic.example;x\"",
        false,
    ),
    (FORWARD, "forwarded", b"secret=1", false),
    (
        ORIGINAL,
        "forwarded",
        b"for=192.0.2.1;proto=https;host=\"emr.clinic.example\"",
        true,
    ),
    (
        FORWARD,
        "forwarded",
        b"for=192.0.2.1;proto=https;host=emr.clinic.example",
        true,
    ),
];

#[tokio::test]
async fn mixed_description_schemes_are_refused_unless_they_agree() {
    let (_env, gw, nurse, _) = gate().await;
    for (endpoint, header, value, agrees) in MIXED {
        let (_, mut headers) = both(b"/chart")
            .into_iter()
            .find(|(e, _)| e == endpoint)
            .unwrap();
        headers.push((header, value.to_vec()));
        let what = format!("{endpoint} {header}: {}", String::from_utf8_lossy(value));
        let r = send(&gw, endpoint, &headers, &nurse).await;
        if *agrees {
            assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
        } else {
            refused(&r, endpoint, "mixed_description", &what);
            assert_eq!(r.body["error"]["details"]["header"], *header, "{what}");
        }
        // A foreign header sent twice is refused even when both copies agree.
        if *agrees {
            headers.push((header, value.to_vec()));
            let r = send(&gw, endpoint, &headers, &nurse).await;
            refused(&r, endpoint, "mixed_description", &format!("{what} twice"));
        }
    }
    let audit = gw.audit_kinds().await;
    assert!(audit.iter().any(|a| a.0 == "request_refused"
        && a.1 == "nurse1"
        && a.2["reason"] == "mixed_description"
        && a.2["header"] == "x-forwarded-uri"));
}

/// Targets other servers read differently, each with the reason it is refused for.
pub const CONFUSING: &[(&[u8], &str)] = &[
    (b"/%u002e%u002e/admin", "bad_percent_escape"),
    (b"/%u0061dmin", "bad_percent_escape"),
    (b"/%2e%2e/admin", "encoded_separator"),
    (b"/%2e/admin", "encoded_separator"),
    (b"/public%2f..%2fadmin", "encoded_separator"),
    (b"/public%5c..%5cadmin", "encoded_separator"),
    (b"/public\\..\\admin", "backslash"),
    (b"/%252e%252e/admin", "double_encoding"),
    (b"/%25u0061dmin", "double_encoding"),
    (b"/%c0%ae%c0%ae/admin", "invalid_utf8"),
    (b"/%c0%afadmin", "invalid_utf8"),
    (b"/%00admin", "encoded_control"),
    (b"/admin%0a", "encoded_control"),
    (
        b"/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E",
        "ascii_lookalike",
    ),
    (b"/%EF%BC%A1DMIN", "ascii_lookalike"),
    (b"/adm%C4%B1n", "ascii_lookalike"),
    (b"/%C4%B0", "ascii_lookalike"),
    (b"/%E2%84%AA", "ascii_lookalike"),
    (b"/%C5%BF", "ascii_lookalike"),
    (b"/%C2%A5..%C2%A5admin", "ascii_lookalike"),
    (b"/%EF%BC%8E%EF%BC%8E/admin", "ascii_lookalike"),
    (b"/%D0%B0dmin", "unsupported_character"),
    (b"/%EF%BD%B6%EF%BE%99%EF%BE%83", "unsupported_character"),
    (b"//admin", "double_slash"),
    (b"/public//admin", "double_slash"),
    (b"/admin;x=1", "path_parameter"),
    (b"/public/..;/admin", "path_parameter"),
    (b"/admin.", "windows_name"),
    (b"/admin%20", "windows_name"),
    (b"/ADMINI~1", "windows_name"),
    (b"/admin::$DATA", "colon"),
    (b"/..", "above_root"),
    (b"/../admin", "above_root"),
    (b"/admin#x", "fragment"),
    (b"/a b", "space"),
];

#[tokio::test]
async fn paths_other_servers_read_differently_are_refused() {
    let (_env, gw, nurse, it) = gate().await;
    for (target, reason) in CONFUSING {
        for cookie in [&nurse, &it] {
            for (endpoint, headers) in both(target) {
                let r = send(&gw, endpoint, &headers, cookie).await;
                refused(
                    &r,
                    endpoint,
                    reason,
                    &format!("{endpoint} {}", String::from_utf8_lossy(target)),
                );
            }
        }
    }
    // Over 8 KiB: 414 (403 for nginx, which would make a 414 its own 500).
    let long = format!("/{}", "a".repeat(8200));
    for (endpoint, headers) in both(long.as_bytes()) {
        let r = send(&gw, endpoint, &headers, &nurse).await;
        let status = if endpoint == FORWARD {
            StatusCode::URI_TOO_LONG
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(
            (r.status, r.code()),
            (status, "target_too_long"),
            "{endpoint}"
        );
    }
}

#[tokio::test]
async fn equivalent_spellings_get_the_decision_of_the_path_served() {
    let (_env, gw, nurse, it) = gate().await;
    for target in [
        &b"/admin"[..],
        b"/ADMIN",
        b"/Admin/users",
        b"/%41dmin",
        b"/%61dmin/",
        b"/public/../admin",
        b"/./admin/x",
    ] {
        for (endpoint, headers) in both(target) {
            let what = format!("{endpoint} {}", String::from_utf8_lossy(target));
            let r = send(&gw, endpoint, &headers, &nurse).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::FORBIDDEN, "access_denied"),
                "{what}"
            );
            assert_eq!(r.body["error"]["details"]["policy_ids"][0], "access-rule-2");
            let r = send(&gw, endpoint, &headers, &it).await;
            assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
        }
    }
    for target in [
        &b"/administration"[..],
        b"/public/admin",
        b"/%E3%82%AB%E3%83%AB%E3%83%86",
    ] {
        for (endpoint, headers) in both(target) {
            let r = send(&gw, endpoint, &headers, &nurse).await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{}",
                String::from_utf8_lossy(target)
            );
        }
    }
}

/// Pieces the property test builds header values from.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"/".to_vec()),
        Just(b"admin".to_vec()),
        Just(b"ADMIN".to_vec()),
        Just(b"chart".to_vec()),
        Just(b"..".to_vec()),
        Just(b".".to_vec()),
        Just(b";".to_vec()),
        Just(b",".to_vec()),
        Just(b"%".to_vec()),
        Just(b"%2e".to_vec()),
        Just(b"%2f".to_vec()),
        Just(b"%61".to_vec()),
        Just(b"%u0061".to_vec()),
        Just(b"%25".to_vec()),
        Just(b"%c0%ae".to_vec()),
        Just(b"%EF%BD%81".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"?x=1".to_vec()),
        Just(b"#".to_vec()),
        Just(b" ".to_vec()),
        Just(b"~1".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"GET".to_vec()),
        Just(b"get".to_vec()),
        Just(b"https".to_vec()),
        Just(b"emr.clinic.example".to_vec()),
        Just(b"https://emr.clinic.example".to_vec()),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(piece(), 0..6).prop_map(|v| v.concat())
}

const NAMES: [&str; 6] = [
    "x-forwarded-method",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-uri",
    "x-original-url",
    "x-original-method",
];

/// Random description headers: each name zero, one or two times (mostly once), each value
/// the right one or random pieces, so that allowed and refused requests both happen often.
fn descriptions() -> impl Strategy<Value = Vec<(usize, Vec<u8>)>> {
    let good = |i: usize| -> Vec<u8> {
        match i {
            0 | 5 => b"GET".to_vec(),
            1 => b"https".to_vec(),
            2 => HOST.to_vec(),
            3 => b"/chart".to_vec(),
            _ => b"https://emr.clinic.example/chart".to_vec(),
        }
    };
    let one = || prop_oneof![3 => Just(None), 1 => value().prop_map(Some)];
    let copies = move || {
        prop_oneof![
            1 => Just(vec![]),
            8 => one().prop_map(|v| vec![v]),
            1 => (one(), one()).prop_map(|(a, b)| vec![a, b]),
        ]
    };
    // A path made of pieces, often enough to reach `/admin` spelt some other way.
    let path = proptest::collection::vec(piece(), 1..6).prop_map(|p| {
        let mut v = b"/".to_vec();
        v.extend(p.concat());
        v
    });
    (
        [copies(), copies(), copies(), copies(), copies(), copies()],
        proptest::option::of(path),
    )
        .prop_map(move |(per_name, path)| {
            let mut out = Vec::new();
            for (i, values) in per_name.into_iter().enumerate() {
                for v in values {
                    let v = match (i, &path, v) {
                        (_, _, Some(random)) => random,
                        (3, Some(p), None) => p.clone(),
                        (4, Some(p), None) => [&b"https://emr.clinic.example"[..], p].concat(),
                        (_, _, None) => good(i),
                    };
                    out.push((i, v));
                }
            }
            out
        })
}

/// The one value of a header, if it was sent exactly once.
fn once(h: &[(usize, Vec<u8>)], i: usize) -> Option<&[u8]> {
    let mut it = h.iter().filter(|(n, _)| *n == i);
    let first = it.next()?;
    it.next().is_none().then_some(first.1.as_slice())
}

/// One random case: the endpoint's answer, checked against the property. `true` for a 2xx.
fn case(shared: &Shared, h: &[(usize, Vec<u8>)], forward: bool) -> bool {
    let (gw, nurse) = (&shared.gw, &shared.nurse);
    shared.rt.block_on(async {
        let endpoint = if forward { FORWARD } else { ORIGINAL };
        // Values a client library could not even send are left out.
        let kept: Vec<(usize, Vec<u8>)> = h
            .iter()
            .filter(|(_, v)| HeaderValue::from_bytes(v).is_ok())
            .cloned()
            .collect();
        let hv: Vec<(&str, &[u8])> = kept
            .iter()
            .map(|(i, v)| (NAMES[*i], v.as_slice()))
            .collect();
        let r = gw.send(described(endpoint, &hv, Some(nurse)), PROXY).await;
        if !r.status.is_success() {
            assert!(
                [400, 403, 414].contains(&r.status.as_u16()),
                "{}: {}",
                r.status,
                r.body
            );
            return false;
        }
        // Exactly one of each header this endpoint reads, and one canonical reading…
        let path = if forward {
            let (m, p, host, u) = (
                once(&kept, 0),
                once(&kept, 1),
                once(&kept, 2),
                once(&kept, 3),
            );
            assert!(
                m.is_some() && p.is_some() && host.is_some() && u.is_some(),
                "{kept:?}"
            );
            // Any method token: the rules here do not restrict methods.
            assert!(sekimori::canon::method(m.unwrap()).is_ok());
            assert!(sekimori::canon::scheme(p.unwrap()).is_ok());
            assert_eq!(
                sekimori::canon::host(host.unwrap()).unwrap().0,
                "emr.clinic.example"
            );
            sekimori::canon::canonicalise(u.unwrap()).unwrap().folded
        } else {
            let (url, m) = (once(&kept, 4), once(&kept, 5));
            assert!(url.is_some() && m.is_some(), "{kept:?}");
            sekimori::http::authz::target::parse_url(url.unwrap(), m.unwrap())
                .unwrap()
                .folded
        };
        // …which every header of the other scheme that came along names too (sent once): an
        // upstream reading those is served the target decided.
        let sent = |i: usize| kept.iter().any(|(n, _)| *n == i);
        let foreign: &[usize] = if forward { &[4, 5] } else { &[0, 1, 2, 3] };
        for &i in foreign.iter().filter(|&&i| sent(i)) {
            let v = once(&kept, i).unwrap_or_else(|| panic!("{} twice: {kept:?}", NAMES[i]));
            match i {
                0 | 5 => assert_eq!(v, b"GET", "{kept:?}"),
                1 => assert_eq!(sekimori::canon::scheme(v).unwrap(), "https"),
                2 => assert_eq!(sekimori::canon::host(v).unwrap().0, "emr.clinic.example"),
                3 => assert_eq!(sekimori::canon::canonicalise(v).unwrap().folded, path),
                _ => assert_eq!(
                    sekimori::http::authz::target::parse_url(v, b"GET")
                        .unwrap()
                        .folded,
                    path
                ),
            }
        }
        // …that the policy allows: the nurse never reaches /admin in any spelling.
        assert!(path != "/admin" && !path.starts_with("/admin/"), "{path}");
        true
    })
}

#[test]
fn a_2xx_needs_exactly_one_canonical_target_the_policy_allows() {
    let shared = shared();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 600,
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        ..ProptestConfig::default()
    });
    let allowed = std::cell::Cell::new(0);
    runner
        .run(&(descriptions(), any::<bool>()), |(h, forward)| {
            if case(shared, &h, forward) {
                allowed.set(allowed.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    eprintln!("allowed {} of 600", allowed.get());
    // The property is only worth something if both sides of it happened.
    assert!(
        allowed.get() >= 20,
        "only {} cases were allowed",
        allowed.get()
    );
    assert!(
        allowed.get() <= 580,
        "only {} cases were refused",
        600 - allowed.get()
    );
}

/// One gateway (and the runtime its connections live on) for all the property's cases.
struct Shared {
    rt: tokio::runtime::Runtime,
    _env: Env,
    gw: Gw,
    nurse: String,
}

fn shared() -> &'static Shared {
    static SHARED: std::sync::OnceLock<Shared> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (env, gw, nurse, _) = rt.block_on(gate());
        Shared {
            rt,
            _env: env,
            gw,
            nurse,
        }
    })
}
