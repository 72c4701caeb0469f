//! The OpenAPI description as a vendor meets it: served by a real gateway, printed by the
//! CLI, equal to the committed file, and rendered for people without any external fetch.

use crate::process::Gateway;
use crate::support::{Env, text};

fn committed() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_served_and_printed_descriptions_are_the_committed_file() {
    let env = Env::new();
    let gw = Gateway::start(&env, &[]);
    let served = gw.get("/api/v1/openapi.json", &[]);
    assert_eq!(served.status, 200);
    assert!(
        served
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let served = served.json();
    assert_eq!(
        served,
        committed(),
        "the served description differs from config/openapi.json"
    );
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    // Every error code the API answers with is named, with its status.
    let inner = &served["components"]["schemas"]["ErrorInner"];
    let codes = inner["properties"]["code"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no error-code enum in {inner}"));
    for code in [
        "invalid_credentials",
        "login_temporarily_blocked",
        "second_factor_required",
        "ambiguous_request",
        "access_denied",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code} is not documented");
    }
    let printed = env.run(&["openapi"], None);
    assert!(printed.status.success(), "{}", text(&printed));
    let printed: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(printed, served);
}

#[test]
fn the_docs_page_renders_every_operation_without_external_fetches() {
    let env = Env::new();
    let gw = Gateway::start(&env, &[]);
    for (lang, heading) in [("ja", "要求本文"), ("en", "Request body")] {
        let page = gw.get(&format!("/api/docs?lang={lang}"), &[]);
        assert_eq!(page.status, 200, "{}", page.body);
        let csp = page
            .header("content-security-policy")
            .expect("the page keeps its CSP");
        assert!(
            csp.contains("default-src 'none'") || csp.contains("default-src 'self'"),
            "{csp}"
        );
        assert!(
            !csp.contains("http"),
            "the CSP allows an external origin: {csp}"
        );
        assert!(page.body.contains(heading), "{lang}: {}", page.body);
        assert!(page.body.contains("POST /api/v1/login"));
        assert!(page.body.contains("GET /api/v1/authz/forward-auth"));
        // Nothing is loaded from anywhere else: no absolute URL in a src or href.
        for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(
                !page.body.contains(attr),
                "{lang}: the page fetches from elsewhere ({attr})"
            );
        }
    }
}
