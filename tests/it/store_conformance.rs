//! The store conformance suite: what every `Stores` backend must do. Written against the
//! traits only; run unchanged against SQLite and against a real PostgreSQL 15.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use sekimori::account::{
    Account, AccountStatus, AccountType, FacilityId, NewAccount, Role, Username,
};
use sekimori::audit::chain::Verifier;
use sekimori::audit::{AuditEvent, EventKind, Outcome, PendingRecord};
use sekimori::store::sql::{OpenMode, SqlStore};
use sekimori::store::{AuditQuery, StoreError, Stores};

fn facility() -> FacilityId {
    FacilityId("default".into())
}

fn new_account(name: &str, person: Option<sekimori::account::PersonId>, at_secs: i64) -> Account {
    NewAccount {
        facility_id: facility(),
        login_name: name.into(),
        display_name: format!("{name} 様"),
        kana_name: None,
        email: None,
        account_type: AccountType::Staff,
        roles: vec![Role::parse("nurse").unwrap()],
        groups: vec![],
        person_id: person,
        second_factor_required: false,
        expires_at: None,
    }
    .into_account(Utc.timestamp_opt(1_800_000_000 + at_secs, 0).unwrap())
    .unwrap()
}

fn pending(n: u32) -> PendingRecord {
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::minutes(i64::from(n));
    PendingRecord {
        event_id: sekimori::account::new_v7(at),
        at,
        at_text: sekimori::clock::to_jst_string(at),
        event: AuditEvent::new(facility(), EventKind::LoginAttempt, Outcome::Failure)
            .subject(format!("u{n}")),
    }
}

/// Every check, against any backend.
pub async fn conformance(s: &Stores) {
    s.accounts
        .upsert_facility(&facility(), "さくら診療所")
        .await
        .unwrap();

    // Accounts: insert, get, find by normalised name, uniqueness, update, list, person link.
    let a = new_account("ＹＡＭＡＤＡ", None, 0);
    s.accounts.insert_account(&a).await.unwrap();
    assert_eq!(s.accounts.get_account(a.id).await.unwrap(), a);
    let found = s
        .accounts
        .find_account_by_username(&facility(), &Username::parse("yamada").unwrap())
        .await
        .unwrap();
    assert_eq!(found.as_ref().map(|x| x.id), Some(a.id));
    assert_eq!(found.unwrap().login_name, "ＹＡＭＡＤＡ");
    let dup = new_account("Yamada", None, 1);
    assert!(matches!(
        s.accounts.insert_account(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    let linked = new_account("yamada-admin", Some(a.person_id), 2);
    s.accounts.insert_account(&linked).await.unwrap();
    let person = s
        .accounts
        .list_accounts_of_person(a.person_id)
        .await
        .unwrap();
    assert_eq!(
        person.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![a.id, linked.id]
    );
    let mut changed = a.clone();
    changed.status = AccountStatus::Disabled;
    changed.roles = vec![Role::parse("doctor").unwrap()];
    s.accounts.update_account(&changed).await.unwrap();
    assert_eq!(
        s.accounts.get_account(a.id).await.unwrap().status,
        AccountStatus::Disabled
    );
    assert_eq!(
        s.accounts.list_accounts(&facility()).await.unwrap().len(),
        2
    );
    assert_eq!(s.accounts.count_accounts().await.unwrap(), 2);
    let ghost = new_account("ghost", None, 3);
    assert!(matches!(
        s.accounts.get_account(ghost.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.accounts.update_account(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        s.accounts
            .find_account_by_username(&facility(), &ghost.username)
            .await
            .unwrap()
            .is_none()
    );

    // Credentials and history: newest first, pruned to depth, upgrade in place.
    assert!(s.credentials.find_password(a.id).await.unwrap().is_none());
    let t0 = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    for i in 0..7 {
        s.credentials
            .set_password(
                a.id,
                a.person_id,
                &format!("phc-{i}"),
                t0 + Duration::days(i),
                5,
            )
            .await
            .unwrap();
    }
    let cur = s.credentials.find_password(a.id).await.unwrap().unwrap();
    assert_eq!(
        (cur.phc.as_str(), cur.set_at),
        ("phc-6", t0 + Duration::days(6))
    );
    let hist = s.history.recent_password_hashes(a.id, 10).await.unwrap();
    assert_eq!(
        hist,
        vec!["phc-6", "phc-5", "phc-4", "phc-3", "phc-2"],
        "pruned to the last 5, newest first"
    );
    assert_eq!(
        s.history.recent_password_hashes(a.id, 2).await.unwrap(),
        vec!["phc-6", "phc-5"]
    );
    assert!(
        s.credentials
            .upgrade_password_hash(a.id, "phc-6", "phc-6-upgraded")
            .await
            .unwrap()
    );
    assert!(
        !s.credentials
            .upgrade_password_hash(a.id, "phc-6", "stale")
            .await
            .unwrap(),
        "compare-and-swap"
    );
    assert_eq!(
        s.credentials
            .find_password(a.id)
            .await
            .unwrap()
            .unwrap()
            .phc,
        "phc-6-upgraded"
    );
    assert_eq!(
        s.history.recent_password_hashes(a.id, 1).await.unwrap(),
        vec!["phc-6-upgraded"]
    );
    assert!(
        s.history
            .recent_password_hashes(linked.id, 5)
            .await
            .unwrap()
            .is_empty()
    );

    // Audit: contiguous sequence, chain intact, time filters, order, paging.
    for n in 0..20 {
        let r = s.audit.append_audit(pending(n)).await.unwrap();
        assert_eq!(r.seq, i64::from(n) + 1);
    }
    let all = s.audit.query_audit(&AuditQuery::default()).await.unwrap();
    assert_eq!(all.len(), 20);
    let mut v = Verifier::new();
    all.iter().for_each(|r| v.feed(r));
    assert!(v.finish().is_intact());
    let from = Utc.with_ymd_and_hms(2026, 11, 1, 0, 5, 0).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 11, 1, 0, 10, 0).unwrap();
    let window = s
        .audit
        .query_audit(&AuditQuery {
            from: Some(from),
            to: Some(to),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        window.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![6, 7, 8, 9, 10],
        "from inclusive, to exclusive"
    );
    let newest = s
        .audit
        .query_audit(&AuditQuery {
            limit: Some(3),
            newest_first: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        newest.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![20, 19, 18]
    );
    let page = s
        .audit
        .query_audit(&AuditQuery {
            after_seq: Some(15),
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![16, 17]);
    assert_eq!(all[3].event.subject.as_deref(), Some("u3"));

    factors(s).await;
    classes(s).await;
    s.health.ping().await.unwrap();
}

/// The account classes: single-use codes by kind, a sign-in time written alone, maintenance
/// windows (open at a moment, closed once, announced once) and break-glass uses.
async fn classes(s: &Stores) {
    use sekimori::vendor::{Window, WindowState};
    let t = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    let v = new_account("vendor-c", None, 950);
    s.accounts.insert_account(&v).await.unwrap();

    // Codes of two kinds never answer for each other, and each is spent once.
    s.factors
        .replace_codes(v.id, "break_glass", &["h1".into(), "h2".into()], t)
        .await
        .unwrap();
    s.factors
        .replace_codes(v.id, "recovery", &["h1".into()], t)
        .await
        .unwrap();
    assert!(s.factors.use_code(v.id, "break_glass", "h1").await.unwrap());
    assert!(!s.factors.use_code(v.id, "break_glass", "h1").await.unwrap());
    assert!(s.factors.use_code(v.id, "recovery", "h1").await.unwrap());
    s.factors
        .replace_codes(v.id, "break_glass", &[], t)
        .await
        .unwrap();
    assert!(!s.factors.use_code(v.id, "break_glass", "h2").await.unwrap());

    // The sign-in time alone: a status changed meanwhile stays.
    let mut changed = s.accounts.get_account(v.id).await.unwrap();
    changed.status = sekimori::account::AccountStatus::Compromised;
    s.accounts.update_account(&changed).await.unwrap();
    s.accounts.touch_last_login(v.id, t).await.unwrap();
    let now = s.accounts.get_account(v.id).await.unwrap();
    assert_eq!(
        (now.status, now.last_login_at),
        (sekimori::account::AccountStatus::Compromised, Some(t))
    );

    // A password set after a disable keeps the account disabled.
    let mut disabled = now.clone();
    disabled.status = sekimori::account::AccountStatus::Disabled;
    s.accounts.update_account(&disabled).await.unwrap();
    assert_eq!(
        s.accounts
            .set_password_status(v.id, sekimori::account::AccountStatus::Active, t)
            .await
            .unwrap(),
        sekimori::account::AccountStatus::Disabled
    );
    let mut enabled = s.accounts.get_account(v.id).await.unwrap();
    enabled.status = sekimori::account::AccountStatus::MustChangePassword;
    s.accounts.update_account(&enabled).await.unwrap();
    assert_eq!(
        s.accounts
            .set_password_status(v.id, sekimori::account::AccountStatus::Active, t)
            .await
            .unwrap(),
        sekimori::account::AccountStatus::Active
    );

    let w = Window {
        id: "mw-conform1".into(),
        facility_id: facility(),
        account_id: v.id,
        system: "emr".into(),
        starts_at: t + Duration::hours(1),
        ends_at: t + Duration::hours(2),
        reason: "作業".into(),
        approved_by: "承認者".into(),
        created_by: "cli:t".into(),
        created_at: t,
        state: WindowState::Scheduled,
        closed_at: None,
        closed_by: None,
        close_reason: None,
        opened_logged: false,
        closed_logged: false,
    };
    s.windows.insert_window(&w).await.unwrap();
    assert_eq!(
        s.windows
            .find_window(&facility(), &w.id)
            .await
            .unwrap()
            .as_ref(),
        Some(&w)
    );
    let at = |m: i64| t + Duration::minutes(m);
    assert!(
        s.windows
            .open_window(v.id, "emr", at(59))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.windows
            .open_window(v.id, "emr", at(60))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.windows
            .open_window(v.id, "lab", at(60))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.windows
            .open_window(v.id, "emr", at(120))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.windows
            .windows_to_announce(at(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.windows.windows_to_announce(at(61)).await.unwrap().len(),
        1
    );
    s.windows
        .mark_window_announced(&w.id, true, false)
        .await
        .unwrap();
    assert!(
        s.windows
            .windows_to_announce(at(61))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.windows
            .close_window(&w.id, WindowState::Ended, at(90), "cli:t", "done")
            .await
            .unwrap()
    );
    assert!(
        !s.windows
            .close_window(&w.id, WindowState::Ended, at(91), "cli:t", "again")
            .await
            .unwrap(),
        "closed once"
    );
    assert!(
        s.windows
            .open_window(v.id, "emr", at(95))
            .await
            .unwrap()
            .is_none()
    );
    let due = s.windows.windows_to_announce(at(95)).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].closed_at, Some(at(90)));
    s.windows
        .mark_window_announced(&w.id, false, true)
        .await
        .unwrap();
    let listed = s
        .windows
        .list_windows(&facility(), Some(v.id))
        .await
        .unwrap();
    assert!(listed[0].opened_logged && listed[0].closed_logged);

    let e = sekimori::emergency::BreakGlassEvent {
        id: 0,
        facility_id: facility(),
        account_id: Some(v.id),
        username: "vendor-c".into(),
        at: t,
        channel: "pam".into(),
        device: Some("srv-1".into()),
        ip: Some("192.0.2.1".into()),
        acknowledged_at: None,
        acknowledged_by: None,
        ack_reason: None,
    };
    let id = s.break_glass.insert_break_glass(&e).await.unwrap();
    assert_eq!(
        s.break_glass
            .list_break_glass(&facility(), true)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        s.break_glass
            .acknowledge_break_glass(&facility(), id, at(5), "account:boss", "checked")
            .await
            .unwrap()
    );
    assert!(
        !s.break_glass
            .acknowledge_break_glass(&facility(), id, at(6), "account:boss", "twice")
            .await
            .unwrap()
    );
    assert!(
        s.break_glass
            .list_break_glass(&facility(), true)
            .await
            .unwrap()
            .is_empty()
    );
    let all = s
        .break_glass
        .list_break_glass(&facility(), false)
        .await
        .unwrap();
    assert_eq!(all[0].ack_reason.as_deref(), Some("checked"));
}

/// Second factors: stored sealed, listed without secrets, scoped to their account, never
/// mixed up with the password.
async fn factors(s: &Stores) {
    let a = new_account("factor-a", None, 900);
    let b = new_account("factor-b", None, 901);
    s.accounts.insert_account(&a).await.unwrap();
    s.accounts.insert_account(&b).await.unwrap();
    let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let id = s
        .factors
        .add_factor(a.id, "totp", "スマホ", &[1, 2, 3], t)
        .await
        .unwrap();
    s.factors
        .add_factor(b.id, "totp", "", &[9], t)
        .await
        .unwrap();
    assert!(
        s.factors
            .add_factor(a.id, "password", "", &[0], t)
            .await
            .is_err()
    );
    let list = s.factors.list_factors(a.id).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].kind.as_str(), list[0].label.as_str()),
        ("totp", "スマホ")
    );
    assert_eq!(list[0].last_used_at, None);
    assert_eq!(
        s.factors.factor_secrets(a.id, "totp").await.unwrap(),
        vec![(id, vec![1, 2, 3])]
    );
    s.factors
        .touch_factor(id, t + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(
        s.factors.list_factors(a.id).await.unwrap()[0].last_used_at,
        Some(t + Duration::minutes(5))
    );
    assert!(
        !s.factors.delete_factor(b.id, id).await.unwrap(),
        "another account's factor"
    );
    assert!(s.factors.delete_factor(a.id, id).await.unwrap());
    assert_eq!(s.factors.delete_all_factors(b.id).await.unwrap(), 1);
    assert!(s.factors.list_factors(b.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqlStore::open(&dir.path().join("c.db"), OpenMode::CreateAndMigrate)
            .await
            .unwrap(),
    );
    conformance(&Stores::from_backend(store)).await;
}

/// A PostgreSQL store on a fresh database of `server`.
pub async fn postgres_store(
    server: &crate::postgres_server::PostgresServer,
    db: &str,
) -> Arc<SqlStore> {
    let url = server.database(db).await;
    let config = sekimori::config::Config::from_toml_str(&format!(
        "[store]\nbackend = \"postgres\"\npostgres_url = \"{url}\"\n"
    ))
    .unwrap();
    Arc::new(
        SqlStore::open_config(&config.store, OpenMode::CreateAndMigrate)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let server = crate::postgres_server::PostgresServer::start();
    let store = postgres_store(&server, "conformance").await;
    let stores = Stores::from_backend(store.clone());
    conformance(&stores).await;
    stores.audit.append_audit(pending(900)).await.unwrap();
    // The append-only rule holds on PostgreSQL too, for the gateway's own connection.
    for sql in [
        "UPDATE audit_log SET outcome = 'success'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DELETE FROM audit_checkpoints",
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(store.pool())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    store.close().await;
}

#[tokio::test]
async fn concurrent_appends_to_postgres_never_fork_the_chain() {
    let server = crate::postgres_server::PostgresServer::start();
    let a = postgres_store(&server, "race").await;
    // A second pool on the same database stands for another gateway.
    let config = sekimori::config::Config::from_toml_str(&format!(
        "[store]\nbackend = \"postgres\"\npostgres_url = \"{}\"\n",
        server.url_as(crate::postgres_server::SUPERUSER, "race")
    ))
    .unwrap();
    let b = Arc::new(
        SqlStore::open_config(&config.store, OpenMode::MustExist)
            .await
            .unwrap(),
    );
    appends_from_two_pools_make_one_chain(a, b).await;
}

#[tokio::test]
async fn concurrent_appends_from_two_processes_never_fork_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    // Two independent pools on one file stand for the server and a CLI command.
    let a = Arc::new(
        SqlStore::open(&path, OpenMode::CreateAndMigrate)
            .await
            .unwrap(),
    );
    let b = Arc::new(SqlStore::open(&path, OpenMode::MustExist).await.unwrap());
    appends_from_two_pools_make_one_chain(a, b).await;
}

async fn appends_from_two_pools_make_one_chain(a: Arc<SqlStore>, b: Arc<SqlStore>) {
    let mut tasks = Vec::new();
    for n in 0..100u32 {
        let s = if n % 2 == 0 {
            Stores::from_backend(a.clone())
        } else {
            Stores::from_backend(b.clone())
        };
        tasks.push(tokio::spawn(async move {
            s.audit.append_audit(pending(n)).await.unwrap().seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<i64>>());
    let rows = Stores::from_backend(a)
        .audit
        .query_audit(&AuditQuery::default())
        .await
        .unwrap();
    let mut v = Verifier::new();
    rows.iter().for_each(|r| v.feed(r));
    let report = v.finish();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.checked, 100);
}

#[tokio::test]
async fn a_corrupt_file_is_a_precise_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = SqlStore::open(&path, OpenMode::MustExist)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        vec![0x5a; 8192],
        "the file is left as it was"
    );
    let missing = SqlStore::open(&dir.path().join("none.db"), OpenMode::MustExist)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, StoreError::Unavailable(ref m) if m.contains("does not exist")),
        "{missing:?}"
    );
}
