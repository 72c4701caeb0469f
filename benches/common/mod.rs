//! What the benchmarks share: a gateway on a temporary SQLite file, a staff account, and a
//! real `redis-server` (the integration tests' helper) when one is installed.

use std::sync::Arc;

use sekimori::account::{AccountType, FacilityId, NewAccount, Role};
use sekimori::app::AppState;
use sekimori::clock::SystemClock;
use sekimori::config::Config;
use sekimori::store::sqlite::OpenMode;

#[path = "../../tests/it/redis_server.rs"]
mod redis_server;
pub use redis_server::RedisServer;

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
