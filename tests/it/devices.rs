//! The device register through the real CLI and the admin API: a credential shown once and
//! stored only hashed, the register exported as CSV with Japanese headers, disable and rotate
//! with reasons, every change audited.

use axum::http::StatusCode;
use sekimori::account::AccountType;
use serde_json::json;

use crate::gateway::Gw;
use crate::support::{Env, text};

fn credential(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap();
    line.split_whitespace().last().unwrap().to_owned()
}

#[tokio::test]
async fn devices_are_registered_listed_exported_disabled_and_rotated() {
    let env = Env::new();
    let gw = Gw::new(env.state().await);
    let add = env.run(
        &[
            "--lang",
            "ja",
            "device",
            "add",
            "受付PC-1",
            "--kind",
            "terminal",
            "--location",
            "1階受付",
            "--owner",
            "事務長",
        ],
        None,
    );
    assert!(add.status.success(), "{}", text(&add));
    let token = credential(&add);
    assert_eq!(token.len(), 43, "{}", text(&add));
    let stored = gw.state.devices.find("受付PC-1").await.unwrap();
    assert!(stored.accepts(&token));
    assert_ne!(stored.credential_hash, token, "only the hash is stored");

    let dup = env.run(&["device", "add", "受付PC-1", "--kind", "terminal"], None);
    assert!(!dup.status.success());
    assert!(text(&dup).contains("registered already"), "{}", text(&dup));
    let bad = env.run(&["device", "add", "printer-1", "--kind", "printer"], None);
    assert!(
        text(&bad).contains("terminal, server or network"),
        "{}",
        text(&bad)
    );

    let add = env.run(
        &[
            "device",
            "add",
            "emr-db",
            "--kind",
            "server",
            "--location",
            "サーバー室",
        ],
        None,
    );
    assert!(add.status.success(), "{}", text(&add));
    let list = env.run(&["--lang", "ja", "device", "list"], None);
    assert!(
        text(&list).contains("受付PC-1") && text(&list).contains("2 台"),
        "{}",
        text(&list)
    );

    // The 台帳: CSV with Japanese headers and a BOM.
    let csv = env.run(&["--lang", "ja", "device", "export"], None);
    let body = String::from_utf8(csv.stdout).unwrap();
    assert!(body.starts_with('\u{feff}'));
    let mut lines = body.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next().unwrap(),
        "機器名,種別,設置場所,管理責任者,登録者,状態,最終確認,登録日時,資格情報更新日時"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .any(|r| r.starts_with("受付PC-1,端末,1階受付,事務長,cli:it-operator,稼働中")),
        "{rows:?}"
    );

    // Rotate: the old credential stops, the new one works; disable: nothing works.
    let rot = env.run(
        &[
            "device",
            "rotate-credential",
            "受付PC-1",
            "--reason",
            "担当者交代",
        ],
        None,
    );
    assert!(rot.status.success(), "{}", text(&rot));
    let new_token = credential(&rot);
    let d = gw.state.devices.find("受付PC-1").await.unwrap();
    assert!(!d.accepts(&token) && d.accepts(&new_token));
    let no_reason = env.run(&["device", "disable", "受付PC-1", "--reason", " "], None);
    assert_eq!(no_reason.status.code(), Some(2), "{}", text(&no_reason));
    let off = env.run(&["device", "disable", "受付PC-1", "--reason", "廃棄"], None);
    assert!(off.status.success(), "{}", text(&off));
    assert!(
        !gw.state
            .devices
            .find("受付PC-1")
            .await
            .unwrap()
            .accepts(&new_token)
    );
    let kinds: Vec<(String, serde_json::Value)> = gw
        .audit_kinds()
        .await
        .into_iter()
        .map(|(k, _, d)| (k, d))
        .collect();
    for k in [
        "device_registered",
        "device_credential_rotated",
        "device_disabled",
    ] {
        assert!(kinds.iter().any(|(kind, _)| kind == k), "{k} not audited");
    }
    assert!(kinds.iter().any(|(_, d)| d["reason"] == "廃棄"));

    // The same for administrators through the API.
    gw.user("it-suzuki", AccountType::Staff, &["it_admin"])
        .await;
    gw.user("nurse-x", AccountType::Staff, &["nurse"]).await;
    let admin = gw.session("it-suzuki").await;
    let nurse = gw.session("nurse-x").await;
    let body = json!({ "name": "ward-switch", "kind": "network", "location": "3F" });
    let r = gw
        .call("POST", "/api/v1/admin/devices", &nurse, Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = gw
        .call("POST", "/api/v1/admin/devices", &admin, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["credential"].as_str().unwrap().len(), 43);
    assert!(
        r.body["device"].get("credential_hash").is_none(),
        "the hash is never sent"
    );
    let r = gw.call("GET", "/api/v1/admin/devices", &admin, None).await;
    assert_eq!(r.body["devices"].as_array().unwrap().len(), 3);
    let r = gw
        .call("GET", "/api/v1/admin/devices/nothing-here", &admin, None)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "device_not_found")
    );
    let r = gw
        .call(
            "POST",
            "/api/v1/admin/devices/ward-switch/rotate-credential",
            &admin,
            Some(json!({ "reason": "点検" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = gw
        .call(
            "POST",
            "/api/v1/admin/devices/ward-switch/disable",
            &admin,
            Some(json!({ "reason": "撤去" })),
        )
        .await;
    assert_eq!(r.body["device"]["status"], "disabled");
}
