//! Tampering with a real SQLite audit log, caught by the real `sekimori audit verify`.

use sekimori::audit::{AuditEvent, EventKind, Outcome};
use sqlx::sqlite::SqlitePoolOptions;

use crate::support::{Env, text};

async fn seeded(rows: u32) -> Env {
    let env = Env::new();
    let state = env.state().await;
    for n in 0..rows {
        state
            .auditor
            .record(
                AuditEvent::new(
                    state.config.facility.id.clone(),
                    EventKind::LoginAttempt,
                    Outcome::Failure,
                )
                .actor("system")
                .subject(format!("user{n}"))
                .detail("zone", "outside"),
            )
            .await
            .unwrap();
    }
    state.close().await;
    env
}

/// What an attacker with write access to the file starts with: a connection of their own
/// and the append-only triggers dropped.
pub async fn attacker_pool(env: &Env) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}", env.db_path().display());
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    for drop in [
        "DROP TRIGGER IF EXISTS audit_log_no_update",
        "DROP TRIGGER IF EXISTS audit_log_no_delete",
    ] {
        sqlx::query(drop).execute(&pool).await.unwrap();
    }
    pool
}

/// Run the attacker's SQL.
async fn tamper(env: &Env, sql: &[&'static str]) {
    let pool = attacker_pool(env).await;
    for s in sql.iter().copied() {
        sqlx::query(s).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

fn verify(env: &Env) -> (i32, String) {
    let o = env.run(&["audit", "verify"], None);
    (o.status.code().unwrap(), text(&o))
}

#[tokio::test]
async fn intact_log_verifies() {
    let env = seeded(10).await;
    let (code, out) = verify(&env);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("10 rows verified"), "{out}");
}

#[tokio::test]
async fn the_application_itself_cannot_update_or_delete_audit_rows() {
    let env = seeded(3).await;
    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}", env.db_path().display()))
        .await
        .unwrap();
    let upd = sqlx::query("UPDATE audit_log SET outcome = 'success' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(upd.to_string().contains("append-only"), "{upd}");
    let del = sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(del.to_string().contains("append-only"), "{del}");
}

#[tokio::test]
async fn edited_row_is_named() {
    let env = seeded(10).await;
    tamper(
        &env,
        &["UPDATE audit_log SET outcome = 'success' WHERE seq = 4"],
    )
    .await;
    let (code, out) = verify(&env);
    assert_eq!(code, 7, "{out}");
    assert!(out.contains("row 4 was edited"), "{out}");
    assert!(out.contains("intact up to row 3"), "{out}");
}

#[tokio::test]
async fn deleted_row_is_named() {
    let env = seeded(10).await;
    tamper(&env, &["DELETE FROM audit_log WHERE seq = 6"]).await;
    let (code, out) = verify(&env);
    assert_eq!(code, 7, "{out}");
    assert!(out.contains("row 6 was deleted"), "{out}");
}

#[tokio::test]
async fn inserted_row_is_named() {
    let env = seeded(10).await;
    // Copy row 3 as a new row 5 (a self-consistent row, linked to row 2 like row 3 is), after
    // shifting rows 5.. up by one; the shift goes through a negative range to dodge the key.
    tamper(
        &env,
        &[
            "UPDATE audit_log SET seq = -(seq + 1) WHERE seq >= 5",
            "UPDATE audit_log SET seq = -seq WHERE seq < 0",
            "INSERT INTO audit_log (seq, event_id, facility_id, at, at_ms, kind, outcome, actor, subject, ip, device, detail, prev_hash, hash) \
             SELECT 5, event_id || '-copy', facility_id, at, at_ms, kind, outcome, actor, subject, ip, device, detail, \
             (SELECT hash FROM audit_log WHERE seq = 4), 'forged' FROM audit_log WHERE seq = 3",
        ],
    )
    .await;
    let (code, out) = verify(&env);
    assert_eq!(code, 7, "{out}");
    assert!(out.contains("row 5"), "{out}");
}

#[tokio::test]
async fn carefully_forged_insertion_is_named() {
    // The forger computes a valid hash for the inserted row; the successor still points past it.
    let env = seeded(8).await;
    let state = env.state().await;
    let rows = state
        .stores
        .audit
        .query_audit(&Default::default())
        .await
        .unwrap();
    state.close().await;
    let r4 = &rows[3];
    let mut forged = sekimori::audit::PendingRecord {
        event_id: uuid::Uuid::nil(),
        at: r4.at,
        at_text: r4.at_text.clone(),
        event: r4.event.clone(),
    };
    forged.event.kind = EventKind::AccountUnlocked;
    forged.event.outcome = Outcome::Success;
    let hash = sekimori::audit::chain::row_hash(&r4.hash, &forged);
    let pool = attacker_pool(&env).await;
    sqlx::query("UPDATE audit_log SET seq = -(seq + 1) WHERE seq >= 5")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET seq = -seq WHERE seq < 0")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO audit_log (seq, event_id, facility_id, at, at_ms, kind, outcome, actor, subject, ip, device, detail, prev_hash, hash) \
         VALUES (5, ?1, 'default', ?2, 0, 'account_unlocked', 'success', ?3, ?4, NULL, NULL, ?5, ?6, ?7)",
    )
    .bind(forged.event_id.to_string())
    .bind(&forged.at_text)
    .bind(&forged.event.actor)
    .bind(&forged.event.subject)
    .bind(serde_json::to_string(&forged.event.detail).unwrap())
    .bind(&r4.hash)
    .bind(&hash)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let (code, out) = verify(&env);
    assert_eq!(code, 7, "{out}");
    assert!(out.contains("row 5 was inserted"), "{out}");
}
