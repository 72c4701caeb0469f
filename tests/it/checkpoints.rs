//! Signed checkpoints against an attacker who holds the database file: a tail cut after a
//! checkpoint, a chain rebuilt with fresh hashes, checkpoints removed from the database, and
//! the audit key replaced on the host. Each is named by the real `sekimori audit verify`.
//! And a real gateway signs on its schedule and at a clean stop.

use sekimori::audit::chain::{GENESIS, row_hash};
use sekimori::audit::{AuditEvent, EventKind, Outcome, PendingRecord};

use crate::audit_tamper::attacker_pool;
use crate::process::Gateway;
use crate::support::{Env, text};

/// `rows` failed sign-ins with a checkpoint signed after the first `signed`.
async fn seeded(rows: u32, signed: u32) -> Env {
    let env = Env::new();
    let state = env.state().await;
    for n in 0..rows {
        if n == signed {
            let c = state
                .signer
                .as_ref()
                .unwrap()
                .sign_now(state.clock.now())
                .await;
            assert_eq!(c.unwrap().unwrap().seq, i64::from(signed));
        }
        state
            .auditor
            .record(
                AuditEvent::new(
                    state.config.facility.id.clone(),
                    EventKind::LoginAttempt,
                    Outcome::Failure,
                )
                .subject(format!("user{n}"))
                .detail("zone", "external"),
            )
            .await
            .unwrap();
    }
    state.close().await;
    env
}

fn verify(env: &Env, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(extra);
    let o = env.run(&args, None);
    (o.status.code().unwrap(), text(&o))
}

async fn run_sql(env: &Env, sql: &[&'static str]) {
    let pool = attacker_pool(env).await;
    for s in sql.iter().copied() {
        sqlx::query(s).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

#[tokio::test]
async fn an_intact_log_with_checkpoints_verifies() {
    let env = seeded(12, 10).await;
    let (code, out) = verify(&env, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("checkpoints: 1 checked; the last signs row 10"),
        "{out}"
    );
    assert!(out.contains("(2 rows since, not yet signed)"), "{out}");
}

#[tokio::test]
async fn a_tail_cut_after_a_checkpoint_is_reported() {
    let env = seeded(12, 10).await;
    // The chain that remains is intact: only the signed head shows the cut.
    run_sql(&env, &["DELETE FROM audit_log WHERE seq >= 8"]).await;
    let (code, out) = verify(&env, &[]);
    assert_eq!(code, 7, "{out}");
    assert!(out.contains("audit chain intact: 7 rows verified"), "{out}");
    assert!(
        out.contains(
            "rows 8-10 are missing: a checkpoint was signed at row 10, the log now ends at row 7"
        ),
        "{out}"
    );
    let (_, ja) = verify(&env, &["--lang", "ja"]);
    assert!(ja.contains("8〜10行目がありません"), "{ja}");
}

/// Rewrite the whole chain from row 1 with one row changed, every hash recomputed: what
/// someone with the file and the source code can do.
async fn rebuild(env: &Env) {
    let state = env.state().await;
    let rows = state
        .stores
        .audit
        .query_audit(&Default::default())
        .await
        .unwrap();
    state.close().await;
    let pool = attacker_pool(env).await;
    sqlx::query("DELETE FROM audit_log")
        .execute(&pool)
        .await
        .unwrap();
    let mut prev = GENESIS.to_owned();
    for r in rows {
        let mut event = r.event.clone();
        if r.seq == 3 {
            event.subject = Some("someone-else".into());
        }
        let pending = PendingRecord {
            event_id: r.event_id,
            at: r.at,
            at_text: r.at_text.clone(),
            event,
        };
        let hash = row_hash(&prev, &pending);
        let e = &pending.event;
        sqlx::query(
            "INSERT INTO audit_log (seq, event_id, facility_id, at, at_ms, kind, outcome, actor, subject, ip, device, detail, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .bind(r.seq)
        .bind(r.event_id.to_string())
        .bind(&e.facility_id.0)
        .bind(&r.at_text)
        .bind(r.at.timestamp_millis())
        .bind(e.kind.as_str())
        .bind(e.outcome.as_str())
        .bind(&e.actor)
        .bind(&e.subject)
        .bind(&e.ip)
        .bind(&e.device)
        .bind(serde_json::to_string(&e.detail).unwrap())
        .bind(&prev)
        .bind(&hash)
        .execute(&pool)
        .await
        .unwrap();
        prev = hash;
    }
    pool.close().await;
}

#[tokio::test]
async fn a_chain_rebuilt_with_fresh_hashes_no_longer_matches_its_signed_head() {
    let env = seeded(12, 10).await;
    rebuild(&env).await;
    let (code, out) = verify(&env, &[]);
    assert_eq!(code, 7, "{out}");
    // The hash chain alone cannot tell: it is consistent.
    assert!(
        out.contains("audit chain intact: 12 rows verified"),
        "{out}"
    );
    assert!(
        out.contains("row 10 does not have the hash signed at"),
        "{out}"
    );
}

#[tokio::test]
async fn checkpoints_removed_from_the_database_are_still_in_the_file_and_in_a_copy() {
    let env = seeded(12, 10).await;
    let copy = env.dir.path().join("checkpoints-copy.jsonl");
    let export = env.run(
        &[
            "audit",
            "checkpoint",
            "export",
            "-o",
            copy.to_str().unwrap(),
        ],
        None,
    );
    assert!(export.status.success(), "{}", text(&export));
    let pem = env.dir.path().join("audit-public.pem");
    let key = env.run(
        &[
            "audit",
            "checkpoint",
            "export",
            "--public-key",
            "-o",
            pem.to_str().unwrap(),
        ],
        None,
    );
    assert!(key.status.success(), "{}", text(&key));
    assert!(
        std::fs::read_to_string(&pem)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );

    rebuild(&env).await;
    run_sql(
        &env,
        &[
            "DROP TRIGGER audit_checkpoints_no_delete",
            "DELETE FROM audit_checkpoints",
        ],
    )
    .await;
    let (code, out) = verify(&env, &[]);
    assert_eq!(code, 7, "{out}");
    assert!(
        out.contains(
            "the checkpoint at row 10 is in the checkpoint file but not in the database (removed)"
        ),
        "{out}"
    );
    assert!(
        out.contains("row 10 does not have the hash signed at"),
        "{out}"
    );
    // Nor does the signer put its name to the rebuilt chain.
    let create = env.run(&["audit", "checkpoint", "create"], None);
    assert!(!create.status.success(), "{}", text(&create));
    assert!(text(&create).contains("is in"), "{}", text(&create));

    // The file cut too: the copy kept elsewhere still tells.
    let file = env.dir.path().join("data/audit-checkpoints.jsonl");
    std::fs::write(&file, "").unwrap();
    let (code, out) = verify(&env, &["--checkpoints", copy.to_str().unwrap()]);
    assert_eq!(code, 7, "{out}");
    assert!(
        out.contains("the checkpoint at row 10 is in the copy given but not in the database"),
        "{out}"
    );
    assert!(
        out.contains("row 10 does not have the hash signed at"),
        "{out}"
    );

    // The audit key replaced and the checkpoints re-signed: the public key kept elsewhere
    // does not vouch for them.
    let key_file = env.dir.path().join("data/audit-key/checkpoint.pem");
    std::fs::remove_file(&key_file).unwrap();
    std::fs::write(
        &key_file,
        sekimori::crypto::ed25519::Ed25519Key::generate().to_pem(),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let create = env.run(&["audit", "checkpoint", "create"], None);
    assert!(create.status.success(), "{}", text(&create));
    let (code, out) = verify(&env, &["--public-key", pem.to_str().unwrap()]);
    assert_eq!(code, 7, "{out}");
    assert!(
        out.contains("the checkpoint at row 12 in the database is not signed by the audit key"),
        "{out}"
    );
}

#[test]
fn a_gateway_signs_on_its_schedule_and_at_a_clean_stop() {
    let env = Env::new();
    let mut gw = Gateway::start(&env, &[("SEKIMORI__AUDIT__CHECKPOINT_EVERY_ROWS", "5")]);
    for i in 0..12 {
        let r = gw.post(
            "/api/v1/login",
            &[],
            &serde_json::json!({"username": format!("nobody{i}"), "password": "wrong password 1"}),
        );
        assert_eq!(r.status, 401);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let last = loop {
        let r = gw.get("/readyz", &[]).json();
        let seq = r["audit"]["checkpoint"]["last"]["seq"]
            .as_i64()
            .unwrap_or(0);
        if seq >= 10 {
            break seq;
        }
        assert!(std::time::Instant::now() < deadline, "no checkpoint: {r}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(last >= 10);
    assert_eq!(crate::process::stop(&mut gw.child), 0);
    let export = env.run(&["audit", "checkpoint", "export"], None);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let head = env.run(&["audit", "tail", "-n", "1"], None);
    let head_seq: i64 = String::from_utf8_lossy(&head.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        lines.last().unwrap()["seq"].as_i64(),
        Some(head_seq),
        "the clean stop signs the head: {lines:?}"
    );
    let file =
        std::fs::read_to_string(env.dir.path().join("data/audit-checkpoints.jsonl")).unwrap();
    assert_eq!(
        file.lines().count(),
        lines.len(),
        "the file holds each checkpoint once"
    );
    let (code, out) = verify(&env, &[]);
    assert_eq!(code, 0, "{out}");
}
