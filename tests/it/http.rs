//! The router, driven in-process: health, readiness, the password check, and bad input.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::support::Env;

async fn call(app: axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn post_json(body: impl Into<Body>) -> Request<Body> {
    Request::post("/api/v1/password/check")
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn health_and_readiness() {
    let env = Env::new();
    let state = env.state().await;
    let app = sekimori::build_router(state.clone());
    let (s, b) = call(
        app.clone(),
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, b) = call(
        app.clone(),
        Request::get("/readyz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["checks"]["store"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    // The store going away makes the gateway not ready, with the reason.
    state.close().await;
    let (s, b) = call(app, Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(b["checks"]["store"], "store_unavailable");
}

#[tokio::test]
async fn password_check_explains_every_reason_in_both_languages() {
    let env = Env::new();
    let app = sekimori::build_router(env.state().await);
    let (s, b) = call(
        app.clone(),
        post_json(r#"{"password":"yamada2026","username":"ＹＡＭＡＤＡ"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["acceptable"], false);
    let codes: Vec<&str> = b["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"too_short") && codes.contains(&"contains_personal_info"),
        "{codes:?}"
    );
    assert!(
        b["reasons"][0]["message_ja"]
            .as_str()
            .unwrap()
            .contains("15文字以上")
    );
    let (_, b) = call(
        app.clone(),
        post_json(r#"{"password":"ocean-walnut-7-lantern","second_factor":true}"#),
    )
    .await;
    assert_eq!(
        (b["acceptable"].as_bool(), b["min_length"].as_u64()),
        (Some(true), Some(8))
    );
    // The facility name counts as personal information.
    let (_, b) = call(
        app,
        post_json(r#"{"password":"さくら診療所の7番目のかぎ"}"#),
    )
    .await;
    assert!(
        b["reasons"].to_string().contains("contains_personal_info"),
        "{b}"
    );
}

#[tokio::test]
async fn bad_input_gets_precise_codes() {
    let env = Env::new();
    let app = sekimori::build_router(env.state().await);
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            post_json(r#"{"password":"\ud800"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            post_json(r#"{"password":"abc"#),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            post_json(r#"{"password":5}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            post_json(r#"{"pasword":"x"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            post_json("[]"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            post_json(format!(r#"{{"password":"{}"}}"#, "a".repeat(17_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            post_json(format!(
                r#"{{"password":"x","username":"{}"}}"#,
                "u".repeat(10_000)
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            post_json(format!(
                r#"{{"password":"x","username":"{}"}}"#,
                "u".repeat(1_000)
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            post_json(r#"{"password":"x","username":"a\u0000b"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            Request::post("/api/v1/password/check")
                .body(Body::from("{}"))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Request::get("/api/v1/password/check")
                .body(Body::empty())
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            Request::get("/nowhere").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (req, status, code) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (s, b) = call(app.clone(), req).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {b}"
        );
        assert!(!b["error"]["message"].as_str().unwrap().is_empty());
    }
    // A 129-character password and a NUL inside one are rule failures, not errors.
    let (s, b) = call(
        app.clone(),
        post_json(format!(
            r#"{{"password":"{}"}}"#,
            "Zq8#tW1!".repeat(16) + "x"
        )),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["reasons"][0]["code"], "too_long");
    let (_, b) = call(app, post_json(r#"{"password":"abc\u0000defghijklmnop9"}"#)).await;
    assert!(
        b["reasons"].to_string().contains("control_character"),
        "{b}"
    );
}
