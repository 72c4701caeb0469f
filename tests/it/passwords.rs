//! Password changes through the account service on a real SQLite file: reuse history across
//! a person's linked accounts, first-login changes, parameter upgrades, and audit rows.

use sekimori::account::{AccountStatus, AccountType, NewAccount, Role};
use sekimori::admin::InitialPassword;
use sekimori::audit::EventKind;
use sekimori::crypto::SecretString;
use sekimori::error::Error;
use sekimori::store::AuditQuery;

use crate::support::Env;

fn staff(name: &str, person: Option<sekimori::account::PersonId>) -> NewAccount {
    NewAccount {
        facility_id: sekimori::account::FacilityId("default".into()),
        login_name: name.into(),
        display_name: "山田 太郎".into(),
        kana_name: Some("ヤマダ タロウ".into()),
        email: None,
        account_type: AccountType::Staff,
        roles: vec![Role::parse("doctor").unwrap()],
        groups: vec![],
        person_id: person,
        second_factor_required: false,
        expires_at: None,
    }
}

fn codes(e: Error) -> Vec<&'static str> {
    match e {
        Error::PasswordRejected(r) => r.iter().map(|x| x.code()).collect(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

const PW: [&str; 7] = [
    "ocean-walnut-7-lantern",
    "maple-harbor-3-cinder",
    "violet-canyon-8-pebble",
    "copper-meadow-2-falcon",
    "silent-orchid-5-ember",
    "glacier-tunnel-9-wren",
    "saffron-island-4-quill",
];

#[tokio::test]
async fn reuse_is_refused_for_the_account_and_the_same_persons_other_accounts() {
    let env = Env::new();
    let state = env.state().await;
    let admin = &state.admin;
    let (a, otp) = admin
        .create(staff("yamada", None), InitialPassword::Generate, "test")
        .await
        .unwrap();
    let otp = otp.unwrap();
    assert_eq!(
        a.status,
        AccountStatus::MustChangePassword,
        "admin-set passwords force a change (G-19)"
    );

    // First change from the one-time password activates the account.
    let changed = admin
        .change_own_password("yamada", &otp, &SecretString::from(PW[0]))
        .await
        .unwrap();
    assert_eq!(changed.status, AccountStatus::Active);
    // The current password, and the one-time password before it, are both refused.
    let e = admin
        .change_own_password(
            "yamada",
            &SecretString::from(PW[0]),
            &SecretString::from(PW[0]),
        )
        .await
        .unwrap_err();
    assert_eq!(codes(e), vec!["same_as_current"]);
    let e = admin
        .change_own_password("yamada", &SecretString::from(PW[0]), &otp)
        .await
        .unwrap_err();
    assert_eq!(codes(e), vec!["reused_recent"]);

    // A linked account of the same person (an admin account) may not take a password the
    // clinical account uses.
    let (_, otp2) = admin
        .create(
            staff("yamada-kanri", Some(a.person_id)),
            InitialPassword::Generate,
            "test",
        )
        .await
        .unwrap();
    let e = admin
        .change_own_password(
            "yamada-kanri",
            &otp2.clone().unwrap(),
            &SecretString::from(PW[0]),
        )
        .await
        .unwrap_err();
    assert_eq!(codes(e), vec!["reused_other_account"]);
    // Nor may an admin set it there.
    let e = admin
        .reset_password(
            "yamada-kanri",
            InitialPassword::Given(SecretString::from(PW[0])),
            "helpdesk call 1234",
            "test",
        )
        .await
        .unwrap_err();
    assert_eq!(codes(e), vec!["reused_other_account"]);
    // An unrelated person may use it (reuse is per person, not global).
    let (_, otp3) = admin
        .create(staff("suzuki", None), InitialPassword::Generate, "test")
        .await
        .unwrap();
    admin
        .change_own_password("suzuki", &otp3.unwrap(), &SecretString::from(PW[0]))
        .await
        .unwrap();

    // After five newer passwords, the oldest falls out of the history window.
    let mut current = PW[0];
    for next in &PW[1..6] {
        admin
            .change_own_password(
                "yamada",
                &SecretString::from(current),
                &SecretString::from(*next),
            )
            .await
            .unwrap();
        current = next;
    }
    let e = admin
        .change_own_password(
            "yamada",
            &SecretString::from(current),
            &SecretString::from(PW[2]),
        )
        .await
        .unwrap_err();
    assert_eq!(codes(e), vec!["reused_recent"]);
    admin
        .change_own_password(
            "yamada",
            &SecretString::from(current),
            &SecretString::from(PW[0]),
        )
        .await
        .unwrap();

    // Every change and refusal is in the audit log.
    let rows = state
        .stores
        .audit
        .query_audit(&AuditQuery::default())
        .await
        .unwrap();
    let rejected = rows
        .iter()
        .filter(|r| r.event.kind == EventKind::PasswordRejected)
        .count();
    let changed = rows
        .iter()
        .filter(|r| r.event.kind == EventKind::PasswordChanged)
        .count();
    assert_eq!(rejected, 5);
    assert_eq!(changed, 8);
    let reasons = &rows
        .iter()
        .find(|r| r.event.kind == EventKind::PasswordRejected)
        .unwrap()
        .event
        .detail["reasons"];
    assert_eq!(reasons, &serde_json::json!(["same_as_current"]));
}

#[tokio::test]
async fn full_width_and_half_width_passwords_are_the_same_password() {
    let env = Env::new();
    let state = env.state().await;
    let (_, otp) = state
        .admin
        .create(staff("tanaka", None), InitialPassword::Generate, "t")
        .await
        .unwrap();
    state
        .admin
        .change_own_password(
            "tanaka",
            &otp.unwrap(),
            &SecretString::from("ｏｃｅａｎ－ｗａｌｎｕｔ－７－ｌａｎｔｅｒｎ"),
        )
        .await
        .unwrap();
    // NFKC before hashing: the half-width form is the same password.
    let a = state.admin.find("tanaka").await.unwrap();
    assert!(
        state
            .passwords
            .verify(&a, &SecretString::from("ocean-walnut-7-lantern"))
            .await
            .unwrap()
    );
    assert!(
        !state
            .passwords
            .verify(&a, &SecretString::from("ocean-walnut-7-lanterx"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn weaker_hashes_are_upgraded_on_successful_verify() {
    let env = Env::new();
    let state = env.state().await;
    let (a, _) = state
        .admin
        .create(staff("ito", None), InitialPassword::Generate, "t")
        .await
        .unwrap();
    let weak = sekimori::crypto::hash::HashParams {
        memory_kib: 4096,
        iterations: 1,
        parallelism: 1,
    };
    let phc = sekimori::crypto::hash::hash_password("ocean-walnut-7-lantern", weak, None).unwrap();
    state
        .stores
        .credentials
        .set_password(a.id, a.person_id, &phc, state.clock.now(), 5)
        .await
        .unwrap();
    assert!(
        !state
            .passwords
            .verify(&a, &SecretString::from("wrong-password-1"))
            .await
            .unwrap()
    );
    assert!(
        state
            .stores
            .credentials
            .find_password(a.id)
            .await
            .unwrap()
            .unwrap()
            .phc
            .contains("m=4096"),
        "no upgrade on a mismatch"
    );
    assert!(
        state
            .passwords
            .verify(&a, &SecretString::from("ocean-walnut-7-lantern"))
            .await
            .unwrap()
    );
    let stored = state
        .stores
        .credentials
        .find_password(a.id)
        .await
        .unwrap()
        .unwrap()
        .phc;
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert!(
        state
            .passwords
            .verify(&a, &SecretString::from("ocean-walnut-7-lantern"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn bootstrap_creates_one_admin_once() {
    let env = Env::new();
    let state = env.state().await;
    let (admin, otp) = state.admin.bootstrap_if_empty().await.unwrap().unwrap();
    assert_eq!(admin.username.as_str(), "admin");
    assert_eq!(admin.status, AccountStatus::MustChangePassword);
    assert!(admin.enforces_second_factor());
    assert!(otp.expose().len() >= 20);
    assert!(state.admin.bootstrap_if_empty().await.unwrap().is_none());
}

#[tokio::test]
async fn refused_initial_password_leaves_no_account_behind() {
    let env = Env::new();
    let state = env.state().await;
    let e = state
        .admin
        .create(
            staff("kato", None),
            InitialPassword::Given(SecretString::from("password")),
            "t",
        )
        .await
        .unwrap_err();
    assert!(codes(e).contains(&"too_short"));
    assert!(matches!(
        state.admin.find("kato").await,
        Err(Error::AccountNotFound(_))
    ));
}
