//! The OpenAPI 3.1 description of the JSON API, made from the handlers themselves
//! (`#[utoipa::path]` on each), served at `GET /api/v1/openapi.json`, printed by `sekimori
//! openapi`, and committed as `config/openapi.json` (a test fails when the two differ). The
//! answer bodies the handlers build as JSON are described by the types below; schemathesis
//! checks every answer of a running gateway against them. `GET /api/docs` renders the
//! description for people on the server (no script, no CDN).

mod codes;
mod page;
pub mod schemas;
mod shapes;

pub use codes::ERROR_CODES;
pub use page::get_docs;
pub use schemas::*;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use codes::COMMON;

struct Common;

impl Modify for Common {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "sekimori_session",
                "The session cookie set by POST /api/v1/login ([session] cookie_name).",
            ))),
        );
        components.add_security_scheme(
            "device",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A registered device's credential (PAM module)."))
                    .build(),
            ),
        );
        let error = |desc: &str| {
            ResponseBuilder::new()
                .description(desc)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "ErrorBody",
                        ))))
                        .build(),
                )
                .build()
        };
        for item in api.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for (status, codes) in COMMON {
                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| RefOr::T(error(codes)));
                }
            }
        }
        let table: String = ERROR_CODES
            .iter()
            .map(|(s, c, m)| format!("| {s} | `{c}` | {m} |\n"))
            .collect();
        // The error body's `code` is one of the table's: schemathesis then fails on any code
        // a running gateway answers with that the description does not name.
        if let Some(RefOr::T(Schema::Object(inner))) = components.schemas.get_mut("ErrorInner") {
            let mut codes: Vec<&str> = ERROR_CODES.iter().map(|(_, c, _)| *c).collect();
            codes.sort_unstable();
            codes.dedup();
            inner.properties.insert(
                "code".to_owned(),
                RefOr::T(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some("A stable code (see the table in the description)."))
                        .enum_values(Some(codes))
                        .build(),
                )),
            );
        }
        let info = &mut api.info;
        info.description = Some(format!(
            "Sekimori's JSON API: sign-in, sessions, second factors, the administrators' \
             operations, the PAM module's calls, forward-auth and health. Every error is \
             `{{\"error\": {{\"code\", \"message\", \"details\"?}}}}` with a stable code:\n\n\
             | Status | Code | Meaning |\n|---|---|---|\n{table}"
        ));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sekimori",
        description = "Sekimori's JSON API.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        crate::http::health::get_healthz,
        crate::http::health::get_readyz,
        crate::http::wellknown::get_jwks,
        crate::http::api::password::post_password_check,
        crate::http::api::login::post_login,
        crate::http::api::login::post_logout,
        crate::http::api::login::get_session,
        crate::http::api::factors::get_factors,
        crate::http::api::factors::post_totp,
        crate::http::api::factors::post_totp_confirm,
        crate::http::api::factors::post_recovery_codes,
        crate::http::api::factors::patch_factor,
        crate::http::api::factors::delete_factor,
        crate::http::api::webauthn::post_register,
        crate::http::api::webauthn::post_register_confirm,
        crate::http::api::webauthn::post_login_challenge,
        crate::http::api::webauthn::post_passkey_challenge,
        crate::http::api::devices::get_devices,
        crate::http::api::devices::post_device,
        crate::http::api::devices::get_device,
        crate::http::api::devices::post_disable,
        crate::http::api::devices::post_rotate,
        crate::http::api::devices::post_enrolment_link,
        crate::http::api::admin::get_factors,
        crate::http::api::admin::post_reset_factors,
        crate::http::api::admin::get_lock,
        crate::http::api::admin::post_unlock,
        crate::http::api::admin::get_sessions,
        crate::http::api::admin::post_revoke,
        crate::http::api::pam::post_authenticate,
        crate::http::api::pam::post_device_flow,
        crate::http::api::pam::post_device_flow_poll,
        crate::http::api::pam::post_break_glass,
        crate::http::api::pam::post_approval_challenge,
        crate::http::api::pam::post_approve,
        crate::http::api::pam::post_deny,
        crate::http::authz::get_auth_request,
        crate::http::authz::get_forward_auth,
    ),
    components(schemas(ErrorBody, ErrorInner)),
    modifiers(&Common),
    tags(
        (name = "health", description = "Liveness, readiness and keys"),
        (name = "sign-in", description = "The login flow and sessions"),
        (name = "factors", description = "The signed-in person's second factors"),
        (name = "admin", description = "Operations of administrators (role it_admin)"),
        (name = "pam", description = "The PAM module's calls and the device flow"),
        (name = "forward-auth", description = "The proxies' questions (nginx auth_request, Traefik and Caddy forward_auth)"),
    )
)]
pub struct ApiDoc;

/// The description as JSON text (what `sekimori openapi` prints and the repository keeps).
pub fn json() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return String::new();
    };
    shapes::apply(&mut value);
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

pub async fn get_openapi() -> Response {
    let mut res = (StatusCode::OK, json()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_description_is_the_generated_one() {
        let committed = include_str!("../../../config/openapi.json");
        assert!(
            committed == super::json(),
            "config/openapi.json is out of date: run `sekimori openapi > config/openapi.json`"
        );
    }

    /// Every text pattern of the description is one of the two the validation stands for,
    /// so a bound written into an attribute by hand cannot drift from the rule.
    #[test]
    fn every_text_pattern_is_the_validation_s() {
        fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::String(p)) = m.get("pattern") {
                        out.push(p.clone());
                    }
                    m.values().for_each(|x| walk(x, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let doc: serde_json::Value = serde_json::from_str(&super::json()).unwrap();
        let mut patterns = Vec::new();
        walk(&doc, &mut patterns);
        let text: Vec<&String> = patterns.iter().filter(|p| p.contains("u0000")).collect();
        assert!(text.len() >= 10, "{patterns:?}");
        for p in text {
            assert!(
                p == super::shapes::TEXT || p == super::shapes::NON_BLANK,
                "{p}"
            );
        }
    }
}
