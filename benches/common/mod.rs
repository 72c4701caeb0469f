//! What the benchmarks share: a gateway on a temporary SQLite file, a staff account, and a
//! real `redis-server` (the integration tests' helper) when one is installed.

// Each bench uses a part of these.
#![allow(dead_code)]

use std::sync::Arc;

use sekimori::account::{AccountType, FacilityId, NewAccount, Role};
use sekimori::admin::InitialPassword;
use sekimori::app::AppState;
use sekimori::auth::{LoginOutcome, Origin};
use sekimori::clock::SystemClock;
use sekimori::config::Config;
use sekimori::crypto::SecretString;
use sekimori::lockout::Zone;
use sekimori::store::sql::OpenMode;

#[path = "../../tests/it/redis_server.rs"]
mod redis_server;
pub mod server;
pub use redis_server::RedisServer;

/// Serve `router` on a free loopback port, with the peer address as the real server has it.
pub async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// A gateway with its data under `dir`, signing keys loaded, plus `extra` TOML.
pub async fn gateway(dir: &std::path::Path, extra: &str) -> AppState {
    let toml = format!(
        "[store]\nsqlite_path = \"{}/data/sekimori.db\"\n[log]\nlevel = \"error\"\n{extra}",
        dir.display()
    );
    let config = Config::from_toml_str(&toml).unwrap();
    AppState::build(config, Arc::new(SystemClock), OpenMode::CreateAndMigrate)
        .await
        .unwrap()
        .with_signing_keys()
        .unwrap()
}

pub const PASSWORD: &str = "ocean-walnut-7-lantern";
pub const FIRST: &str = "maple-harbor-3-cinder";

/// An account with its own password (`PASSWORD`).
pub async fn user(state: &AppState, name: &str, roles: &[&str]) {
    let mut new = account(name);
    new.roles = roles.iter().map(|r| Role::parse(r).unwrap()).collect();
    state
        .admin
        .create(new, InitialPassword::Given(FIRST.into()), "bench")
        .await
        .unwrap();
    state
        .admin
        .change_own_password(name, &SecretString::from(FIRST), &PASSWORD.into())
        .await
        .unwrap();
}

pub fn origin() -> Origin {
    Origin {
        ip: "127.0.0.1".parse().unwrap(),
        zone: Zone::External,
        user_agent: "bench".into(),
        device: None,
        channel: sekimori::auth::Channel::Web,
    }
}

/// `name=value` of a session cookie for `name` entering `system`.
pub async fn session_cookie(state: &AppState, name: &str, system: &str) -> String {
    match state
        .login
        .login(name, &PASSWORD.into(), system, &origin())
        .await
        .unwrap()
    {
        LoginOutcome::Authenticated { cookie, .. } => {
            format!("{}={}", state.config.session.cookie_name, cookie.expose())
        }
        other => panic!("{other:?}"),
    }
}

pub fn account(name: &str) -> NewAccount {
    NewAccount {
        facility_id: FacilityId("default".into()),
        login_name: name.into(),
        display_name: "ベンチ".into(),
        kana_name: None,
        email: None,
        account_type: AccountType::Staff,
        roles: vec![Role::parse("nurse").unwrap()],
        groups: vec![],
        person_id: None,
        second_factor_required: false,
        expires_at: None,
    }
}

/// A Redis server for the Redis figures, or None (and the figure is skipped).
pub fn redis() -> Option<RedisServer> {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| RedisServer::start())
}

/// `n` accounts `{prefix}0…` with a TOTP factor confirmed at `t0`: name, id and secret each.
/// Their password (`PASSWORD`) is a one-time one, to be changed at the first web sign-in.
pub async fn enrolled(
    state: &AppState,
    prefix: &str,
    n: usize,
    t0: chrono::DateTime<chrono::Utc>,
) -> Vec<(
    String,
    sekimori::account::AccountId,
    sekimori::totp::TotpSecret,
)> {
    enrolled_with(state, prefix, n, t0, false).await
}

/// The same, made 32 at a time; with `own_password`, each account has already changed its
/// one-time password to `PASSWORD` (a web sign-in then needs no change).
pub async fn enrolled_with(
    state: &AppState,
    prefix: &str,
    n: usize,
    t0: chrono::DateTime<chrono::Utc>,
    own_password: bool,
) -> Vec<(
    String,
    sekimori::account::AccountId,
    sekimori::totp::TotpSecret,
)> {
    let totp = state.totp.clone().unwrap();
    let mut out = Vec::with_capacity(n);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let (state, totp, name) = (state.clone(), totp.clone(), format!("{prefix}{i}"));
        tasks.spawn(async move {
            let first = if own_password { FIRST } else { PASSWORD };
            let (a, _) = state
                .admin
                .create(
                    account(&name),
                    InitialPassword::Given(first.into()),
                    "bench",
                )
                .await
                .unwrap();
            if own_password {
                state
                    .admin
                    .change_own_password(&name, &FIRST.into(), &PASSWORD.into())
                    .await
                    .unwrap();
            }
            let e = totp.begin(&a, t0).await.unwrap();
            let bytes = totp_rs::Secret::try_from_base32(e.secret_base32.expose()).unwrap();
            let secret = sekimori::totp::TotpSecret::from_bytes(bytes.as_bytes().to_vec());
            let code = secret.code_at(t0.timestamp() as u64).unwrap();
            totp.confirm(&a, e.id.expose(), &code, "bench", t0)
                .await
                .unwrap()
                .unwrap();
            (i, (name, a.id, secret))
        });
        if tasks.len() >= 32 {
            out.push(tasks.join_next().await.unwrap().unwrap());
        }
    }
    while let Some(r) = tasks.join_next().await {
        out.push(r.unwrap());
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, p)| p).collect()
}

/// A registered server (`bench-server`) for the PAM calls: its credential.
pub async fn server_device(state: &AppState) -> String {
    let (_, credential) = state
        .devices
        .add(
            sekimori::device::service::NewDevice {
                name: "bench-server".into(),
                kind: sekimori::device::DeviceKind::Server,
                location: String::new(),
                owner: String::new(),
            },
            "bench",
        )
        .await
        .unwrap();
    credential.expose().to_owned()
}

/// Each timed run's length, `SEKIMORI_BENCH_SECONDS` (default 10).
pub fn seconds() -> u64 {
    std::env::var("SEKIMORI_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}
