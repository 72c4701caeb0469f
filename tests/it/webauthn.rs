//! WebAuthn ceremonies through the real router with software authenticators
//! (`webauthn-authenticator-rs`: a CTAP2-style security key with an attestation CA, and a
//! passkey with user verification) for the edge cases a browser will not produce: wrong
//! origin and relying party, replayed challenges, a cloned key's counter, another account's
//! credential, malformed answers, and the AAGUID allow-list.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use crypto_glue::traits::{EncodePem, LineEndingPem};
use sekimori::account::AccountType;
use serde_json::{Value, json};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::softtoken::SoftToken;
use webauthn_authenticator_rs::{AuthenticatorBackend, WebauthnAuthenticator};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

use crate::gateway::{Gw, PASSWORD, Reply};
use crate::support::Env;

const TERMINAL: &str = "[systems.ward-pc]\nkind = \"terminal\"\n";
const CLIENT: &str = "192.0.2.80";

pub(crate) fn origin() -> Url {
    Url::parse("http://localhost:8080").unwrap()
}

/// A gateway after 2027-04-01, where a terminal needs two factor kinds.
async fn after_deadline(env: &Env, extra: &str) -> Gw {
    let t0 = Utc.with_ymd_and_hms(2027, 5, 1, 0, 0, 0).unwrap();
    let clock = Arc::new(sekimori::clock::ManualClock::new(t0));
    Gw::new(
        env.state_with_clock(&format!("{TERMINAL}{extra}"), clock)
            .await,
    )
}

async fn start_registration(
    gw: &Gw,
    cookie: &str,
    kind: &str,
) -> (String, CreationChallengeResponse) {
    let r = gw
        .call(
            "POST",
            "/api/v1/factors/webauthn",
            cookie,
            Some(json!({ "kind": kind })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ccr = serde_json::from_value(r.body["options"].clone()).unwrap();
    (r.body["registration_id"].as_str().unwrap().to_owned(), ccr)
}

async fn confirm(gw: &Gw, cookie: &str, id: &str, credential: Value, label: &str) -> Reply {
    gw.call(
        "POST",
        "/api/v1/factors/webauthn/confirm",
        cookie,
        Some(json!({ "registration_id": id, "credential": credential, "label": label })),
    )
    .await
}

pub(crate) async fn register(
    gw: &Gw,
    cookie: &str,
    kind: &str,
    auth: &mut impl AuthenticatorBackend,
) -> Reply {
    let (id, ccr) = start_registration(gw, cookie, kind).await;
    let cred = auth.do_registration(origin(), ccr).unwrap();
    confirm(gw, cookie, &id, serde_json::to_value(&cred).unwrap(), "鍵").await
}

/// Password at the terminal, then a challenge: (flow id, options).
async fn challenge(gw: &Gw, user: &str) -> (String, RequestChallengeResponse) {
    let r = gw
        .login_json(
            json!({ "username": user, "password": PASSWORD, "system": "ward-pc" }),
            CLIENT,
        )
        .await;
    assert_eq!(r.body["outcome"], "second_factor_required", "{}", r.body);
    assert!(
        r.body["methods"]
            .as_array()
            .unwrap()
            .contains(&json!("webauthn"))
    );
    let flow = r.body["flow_id"].as_str().unwrap();
    let c = gw
        .call(
            "POST",
            "/api/v1/login/webauthn/challenge",
            "",
            Some(json!({ "flow_id": flow })),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    (
        c.body["flow_id"].as_str().unwrap().to_owned(),
        serde_json::from_value(c.body["options"].clone()).unwrap(),
    )
}

async fn answer(gw: &Gw, flow: &str, credential: Value) -> Reply {
    gw.login_json(json!({ "flow_id": flow, "webauthn": credential }), CLIENT)
        .await
}

async fn reasons(gw: &Gw) -> Vec<String> {
    gw.audit_kinds()
        .await
        .into_iter()
        .filter_map(|(_, _, d)| d["reason"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_security_key_signs_in_once_per_challenge() {
    let env = Env::new();
    let gw = after_deadline(&env, "").await;
    gw.user("sato", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("sato").await;
    let (mut token, _) = SoftToken::new(false).unwrap();
    let r = register(&gw, &cookie, "security_key", &mut token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["credential_kind"], "security_key");
    let list = gw.call("GET", "/api/v1/factors", &cookie, None).await;
    assert_eq!(list.body["factors"][0]["kind"], "webauthn");
    assert_eq!(list.body["factors"][0]["label"], "鍵");

    let (flow, options) = challenge(&gw, "sato").await;
    let assertion = token.do_authentication(origin(), options).unwrap();
    let assertion = serde_json::to_value(&assertion).unwrap();
    let r = answer(&gw, &flow, assertion.clone()).await;
    assert_eq!(r.body["outcome"], "authenticated", "{}", r.body);
    assert_eq!(r.body["amr"], json!(["pwd", "hwk", "user"]));
    assert_eq!(r.body["acr"], "aal2");

    // The same answer again: its flow is spent, and a new challenge does not match it.
    let r = answer(&gw, &flow, assertion.clone()).await;
    assert_eq!(r.code(), "flow_invalid", "{}", r.body);
    let (flow2, _) = challenge(&gw, "sato").await;
    let r = answer(&gw, &flow2, assertion).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "challenge_mismatch"),
        "{}",
        r.body
    );
    assert!(
        r.body["error"]["details"]["flow_id"].is_string(),
        "the flow goes on"
    );
    assert!(
        reasons(&gw)
            .await
            .contains(&"challenge_mismatch".to_owned())
    );
}

#[tokio::test]
async fn wrong_origins_relying_parties_and_another_accounts_key_are_refused() {
    let env = Env::new();
    let gw = after_deadline(&env, "").await;
    gw.user("ito", AccountType::Staff, &["nurse"]).await;
    gw.user("kato", AccountType::Staff, &["nurse"]).await;
    let (mut ito_key, _) = SoftToken::new(false).unwrap();
    let (mut kato_key, _) = SoftToken::new(false).unwrap();
    let ito = gw.session("ito").await;
    let kato = gw.session("kato").await;
    assert_eq!(
        register(&gw, &ito, "security_key", &mut ito_key)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        register(&gw, &kato, "security_key", &mut kato_key)
            .await
            .status,
        StatusCode::OK
    );

    // Registration for another relying party (the client checks are skipped on purpose).
    let (id, ccr) = start_registration(&gw, &ito, "security_key").await;
    let mut opts = ccr.public_key;
    opts.rp.id = "evil.localhost".into();
    let cred = ito_key
        .perform_register(Url::parse("http://evil.localhost").unwrap(), opts, 60_000)
        .unwrap();
    let r = confirm(&gw, &ito, &id, serde_json::to_value(&cred).unwrap(), "x").await;
    assert_eq!(r.code(), "wrong_origin", "{}", r.body);
    let (id, ccr) = start_registration(&gw, &ito, "security_key").await;
    let mut opts = ccr.public_key;
    opts.rp.id = "evil.localhost".into();
    let cred = ito_key.perform_register(origin(), opts, 60_000).unwrap();
    let r = confirm(&gw, &ito, &id, serde_json::to_value(&cred).unwrap(), "x").await;
    assert_eq!(r.code(), "wrong_rp_id", "{}", r.body);
    // The registration id was spent by the refused answer.
    let r = confirm(&gw, &ito, &id, serde_json::to_value(&cred).unwrap(), "x").await;
    assert_eq!(r.code(), "registration_invalid", "{}", r.body);

    // An assertion from a phishing origin.
    let (flow, options) = challenge(&gw, "ito").await;
    let a = ito_key
        .perform_auth(
            Url::parse("http://evil.localhost").unwrap(),
            options.public_key,
            60_000,
        )
        .unwrap();
    let r = answer(&gw, &flow, serde_json::to_value(&a).unwrap()).await;
    assert_eq!(r.code(), "wrong_origin", "{}", r.body);

    // Kato's key answering ito's challenge.
    let (flow, options) = challenge(&gw, "ito").await;
    let kato_id = {
        let (_, o) = challenge(&gw, "kato").await;
        o.public_key.allow_credentials
    };
    let mut opts = options.public_key;
    opts.allow_credentials = kato_id;
    let a = kato_key.perform_auth(origin(), opts, 60_000).unwrap();
    let r = answer(&gw, &flow, serde_json::to_value(&a).unwrap()).await;
    assert_eq!(r.code(), "credential_account_mismatch", "{}", r.body);

    // Malformed answers: not JSON of a credential, and CBOR that is not CBOR.
    let (flow, _) = challenge(&gw, "ito").await;
    let r = answer(&gw, &flow, json!({ "id": "!!", "rawId": 5 })).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "malformed_credential")
    );
    let (id, ccr) = start_registration(&gw, &ito, "security_key").await;
    let mut cred = serde_json::to_value(ito_key.do_registration(origin(), ccr).unwrap()).unwrap();
    cred["response"]["attestationObject"] = json!("_____w");
    let r = confirm(&gw, &ito, &id, cred, "x").await;
    assert_eq!(r.code(), "malformed_credential", "{}", r.body);
    let seen = reasons(&gw).await;
    for want in [
        "wrong_origin",
        "wrong_rp_id",
        "credential_account_mismatch",
        "malformed_credential",
    ] {
        assert!(
            seen.contains(&want.to_owned()),
            "{want} not audited: {seen:?}"
        );
    }
}

#[tokio::test]
async fn a_cloned_key_is_refused_by_its_counter() {
    let env = Env::new();
    let gw = after_deadline(&env, "").await;
    gw.user("clone", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("clone").await;
    let (mut token, _) = SoftToken::new(false).unwrap();
    assert_eq!(
        register(&gw, &cookie, "security_key", &mut token)
            .await
            .status,
        StatusCode::OK
    );
    let copy = token.to_cbor().unwrap();
    let (flow, options) = challenge(&gw, "clone").await;
    let a = token.do_authentication(origin(), options).unwrap();
    assert_eq!(
        answer(&gw, &flow, serde_json::to_value(&a).unwrap())
            .await
            .body["outcome"],
        "authenticated"
    );
    // The copy made before that sign-in has the old counter.
    let mut cloned = SoftToken::from_cbor(&copy).unwrap();
    let (flow, options) = challenge(&gw, "clone").await;
    let a = cloned.do_authentication(origin(), options).unwrap();
    let r = answer(&gw, &flow, serde_json::to_value(&a).unwrap()).await;
    assert_eq!(r.code(), "counter_regression", "{}", r.body);
    let audit = gw.audit_kinds().await;
    assert!(
        audit
            .iter()
            .any(|(_, _, d)| d["suspected"] == "cloned_authenticator"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_passkey_signs_in_without_a_password_and_unknown_names_get_stable_fake_ids() {
    let env = Env::new();
    let gw = after_deadline(&env, "").await;
    gw.user("passkey-user", AccountType::Staff, &["doctor"])
        .await;
    let cookie = gw.session("passkey-user").await;
    let mut pk = SoftPasskey::new(true);
    let (id, mut ccr) = start_registration(&gw, &cookie, "passkey").await;
    let sel = ccr.public_key.authenticator_selection.as_mut().unwrap();
    assert!(sel.require_resident_key, "a passkey is discoverable");
    assert_eq!(
        serde_json::to_value(sel.user_verification).unwrap(),
        "required"
    );
    // The soft passkey cannot store discoverable credentials; the server cannot tell.
    sel.require_resident_key = false;
    sel.resident_key = None;
    let cred = pk.do_registration(origin(), ccr).unwrap();
    let r = confirm(
        &gw,
        &cookie,
        &id,
        serde_json::to_value(&cred).unwrap(),
        "passkey",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["user_verified"], true);
    let account = gw.state.admin.find("passkey-user").await.unwrap();

    let start = |body: Value| {
        let gw = &gw;
        async move {
            gw.call("POST", "/api/v1/login/passkey/challenge", "", Some(body))
                .await
        }
    };
    // A named account lists its credentials; an unknown name lists fake ones, the same
    // each time.
    let known = start(json!({ "username": "passkey-user" })).await;
    let ids = known.body["options"]["publicKey"]["allowCredentials"].clone();
    assert_eq!(ids.as_array().unwrap().len(), 1);
    let ghost1 = start(json!({ "username": "nobody-here" })).await;
    let ghost2 = start(json!({ "username": "nobody-here" })).await;
    let fake = &ghost1.body["options"]["publicKey"]["allowCredentials"];
    assert!(!fake.as_array().unwrap().is_empty());
    assert_eq!(
        fake,
        &ghost2.body["options"]["publicKey"]["allowCredentials"]
    );
    assert_ne!(fake, &ids);

    // No username: the authenticator finds its passkey and names the account.
    let r = start(json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let flow = r.body["flow_id"].as_str().unwrap().to_owned();
    let mut options: RequestChallengeResponse =
        serde_json::from_value(r.body["options"].clone()).unwrap();
    assert!(options.public_key.allow_credentials.is_empty());
    // The soft passkey cannot search by relying party; give it its own id, as a browser
    // would find it.
    options.public_key.allow_credentials = serde_json::from_value(ids).unwrap();
    let mut a = pk.do_authentication(origin(), options).unwrap();
    a.response.user_handle = Some(account.id.0.as_bytes().to_vec());
    let r = answer(&gw, &flow, serde_json::to_value(&a).unwrap()).await;
    assert_eq!(r.body["outcome"], "authenticated", "{}", r.body);
    let amr = r.body["amr"].as_array().unwrap();
    assert!(!amr.contains(&json!("pwd")), "{amr:?}");
    assert!(
        amr.contains(&json!("pin")),
        "user verification counts: {amr:?}"
    );

    // A TOTP code cannot answer a passwordless flow.
    let r = start(json!({})).await;
    let flow = r.body["flow_id"].as_str().unwrap();
    let r = gw
        .login_json(json!({ "flow_id": flow, "code": "123456" }), CLIENT)
        .await;
    assert_eq!(r.code(), "flow_invalid", "{}", r.body);
}

#[tokio::test]
async fn an_aaguid_allow_list_takes_only_issued_keys() {
    let env = Env::new();
    let (mut token, ca) = SoftToken::new(false).unwrap();
    let pem = ca.to_pem(LineEndingPem::LF).unwrap();
    let ca_path = env.dir.path().join("attestation-ca.pem");
    std::fs::write(&ca_path, pem).unwrap();
    let extra = format!(
        "[webauthn.attestation]\nca_file = \"{}\"\nallowed_aaguids = [\"{}\"]\n",
        ca_path.display(),
        webauthn_authenticator_rs::softtoken::AAGUID
    );
    let gw = after_deadline(&env, &extra).await;
    gw.user("issued", AccountType::Staff, &["nurse"]).await;
    let cookie = gw.session("issued").await;
    let r = register(&gw, &cookie, "security_key", &mut token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["aaguid"],
        webauthn_authenticator_rs::softtoken::AAGUID.to_string()
    );
    // Another vendor's key (its own attestation root) is refused.
    let (mut other, _) = SoftToken::new(false).unwrap();
    let r = register(&gw, &cookie, "security_key", &mut other).await;
    assert_eq!(r.code(), "attestation_not_allowed", "{}", r.body);
}
