//! Application wiring: open the store, load the password rules' data, build the services,
//! and hand them to the HTTP layer and the CLI as one [`AppState`].

pub mod housekeeping;
pub mod probe;

use std::sync::Arc;

use crate::admin::AccountAdmin;
use crate::audit::Auditor;
use crate::auth::LoginService;
use crate::clock::Clock;
use crate::config::{Config, StateBackend};
use crate::error::Error;
use crate::password::PasswordService;
use crate::password::blocklist::Blocklist;
use crate::password::breach::BreachFilter;
use crate::password::hasher::Hasher;
use crate::policy::PolicyEngine;
use crate::policy::cache::DecisionCache;
use crate::session::SessionService;
use crate::session::assertion::Assertions;
use crate::session::keys::KeyRing;
use crate::state::StateStore;
use crate::state::memory::MemoryState;
use crate::state::redis::RedisState;
use crate::state::remote::RemoteState;
use crate::store::Stores;
use crate::store::sql::{OpenMode, SqlStore};
use crate::totp::service::TotpService;
use crate::webauthn::service::WebauthnService;

/// See `SessionService::with_local_trust`.
pub const LOCAL_TRUST: std::time::Duration = std::time::Duration::from_millis(500);

/// Where this process's short-lived state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateSource {
    /// In this process (the gateway itself).
    Local,
    /// A shared Redis.
    Redis,
    /// The running gateway's memory, through its control socket (an admin command).
    Gateway,
    /// An admin command with in-process state and no running gateway: nothing is live.
    Detached,
}

/// Everything a request handler or a CLI command needs, behind one `Arc`: axum clones the
/// state for every request, and that must cost one reference count, not dozens.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services themselves.
#[derive(Debug)]
pub struct Services {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub stores: Stores,
    pub auditor: Auditor,
    pub passwords: Arc<PasswordService>,
    pub admin: AccountAdmin,
    pub state: Arc<dyn StateStore>,
    pub state_source: StateSource,
    pub policy: Arc<PolicyEngine>,
    pub sessions: SessionService,
    pub login: LoginService,
    /// TOTP enrolment and verification (absent in admin commands before the first start).
    pub totp: Option<TotpService>,
    /// WebAuthn ceremonies (absent, like TOTP, without the factor-sealing key).
    pub webauthn: Option<WebauthnService>,
    /// The factor-sealing keys (absent in admin commands before the first start).
    pub seal: Option<crate::crypto::seal_ring::SealRing>,
    /// Loaded by `serve` (and tests) only: CLI commands never create key files.
    pub assertions: Option<Arc<Assertions>>,
    /// The device register (機器台帳).
    pub devices: crate::device::service::DeviceRegister,
    /// Vendors' maintenance windows.
    pub windows: crate::vendor::service::WindowService,
    /// Emergency (break-glass) accounts: codes, uses, acknowledgements.
    pub emergency: crate::emergency::service::EmergencyService,
    /// `access` decisions of the last few seconds (forward-auth hot path).
    pub access_cache: Arc<DecisionCache>,
    /// The audit chain as verified so far; the auditor console feeds it the newer rows.
    pub chain: Arc<crate::audit::watch::ChainWatch>,
    /// Signs checkpoints of the chain; absent without the audit key (`audit_key_problem`).
    pub signer: Option<Arc<crate::audit::signer::Signer>>,
    /// Why there is no signer.
    pub audit_key_problem: Option<String>,
    /// The off-box copy to syslog (`[audit] syslog`); it runs in the gateway only.
    pub forwarder: Option<Arc<crate::audit::forward::Forwarder>>,
    sql: Arc<SqlStore>,
}

impl AppState {
    /// Open the store (creating it when `mode` allows) and build every service.
    pub async fn build(
        config: Config,
        clock: Arc<dyn Clock>,
        mode: OpenMode,
    ) -> Result<Self, Error> {
        // Counters recorded from the first event on (one recorder per process).
        crate::metrics::handle();
        // Policies first: a gateway whose policies do not load must not start at all.
        let policy = Arc::new(load_policies(&config)?);
        let sql = Arc::new(SqlStore::open_config(&config.store, mode).await?);
        let stores = Stores::from_backend(sql.clone());
        let facility_name = if config.facility.name.is_empty() {
            config.facility.id.0.clone()
        } else {
            config.facility.name.clone()
        };
        stores
            .accounts
            .upsert_facility(&config.facility.id, &facility_name)
            .await?;

        let blocklist = match &config.password.blocklist_file {
            Some(path) => Blocklist::with_file(path)
                .map_err(|e| Error::io(format!("reading blocklist {}", path.display()), e))?,
            None => Blocklist::bundled(),
        };
        let breach = match &config.password.breach_filter_file {
            Some(path) => Some(Arc::new(BreachFilter::load(path)?)),
            None => None,
        };
        let hasher = Hasher::new(
            config.password.hashing,
            config.password.pepper.clone(),
            config.password.max_concurrent_hashes,
            config.password.hash_priority,
        )?;
        let passwords = Arc::new(
            PasswordService::new(
                config.password.policy.clone(),
                hasher,
                Arc::new(blocklist),
                breach,
                config.facility.name.clone(),
                stores.clone(),
            )
            .with_bootstrap_file(crate::admin::bootstrap::secret_path(&config))
            .with_factors_optional_until(
                config
                    .systems
                    .iter()
                    .filter_map(|s| s.factors_optional.as_ref().map(|r| r.until))
                    .max(),
            ),
        );
        let auditor = Auditor::new(stores.audit.clone(), clock.clone());
        let (signer, audit_key_problem) = audit_signer(&config, &stores, mode).await?;
        let forwarder = config.audit.syslog.clone().map(|target| {
            Arc::new(crate::audit::forward::Forwarder::new(
                stores.audit.clone(),
                clock.clone(),
                target,
            ))
        });
        let (state, state_source): (Arc<dyn StateStore>, StateSource) = match &config.state {
            // An administrative command acts on the running gateway's memory, if there is one.
            StateBackend::Memory if mode == OpenMode::MustExist => {
                match RemoteState::connect(&config.server.control_socket).await {
                    Some(remote) => (Arc::new(remote), StateSource::Gateway),
                    None => (Arc::new(MemoryState::new()), StateSource::Detached),
                }
            }
            StateBackend::Memory => (Arc::new(MemoryState::new()), StateSource::Local),
            // Connected lazily: a Redis outage at start shows in /readyz, not as a crash loop.
            StateBackend::Redis { url } => (
                Arc::new(
                    RedisState::connect_lazy(url.expose())
                        .map_err(|e| Error::Config(e.to_string()))?,
                ),
                StateSource::Redis,
            ),
        };
        let config = Arc::new(config);
        let mut sessions = SessionService::new(state.clone(), config.session.clone());
        // On Redis, a session the store confirmed is trusted for half a second before the
        // next round trip: forward-auth then mostly answers from memory, and a session
        // another replica revoked is refused within that time (this replica's own
        // revocations at once).
        if state_source == StateSource::Redis {
            sessions = sessions.with_local_trust(LOCAL_TRUST);
        }
        let admin = AccountAdmin::new(
            stores.clone(),
            passwords.clone(),
            auditor.clone(),
            clock.clone(),
            config.facility.id.clone(),
        )
        .with_state(state.clone(), sessions.clone());
        // The factor-sealing key: created by the gateway, only read by admin commands.
        let key_path = &config.factors.seal_key_file;
        let seal = if mode == OpenMode::CreateAndMigrate || key_path.exists() {
            Some(
                TotpService::load_key(key_path, mode == OpenMode::CreateAndMigrate)?
                    .with_reload(config.keys.reload_every),
            )
        } else {
            None
        };
        let totp = seal.as_ref().map(|key| {
            TotpService::new(stores.clone(), state.clone(), key.clone())
                .with_auditor(auditor.clone())
        });
        let webauthn = match &seal {
            Some(key) => Some(WebauthnService::new(
                &config.webauthn,
                stores.clone(),
                state.clone(),
                key.clone(),
            )?),
            None => None,
        };
        let login = LoginService::new(
            config.clone(),
            clock.clone(),
            stores.clone(),
            passwords.clone(),
            policy.clone(),
            state.clone(),
            sessions.clone(),
            auditor.clone(),
        )
        .await?;
        let login = login.with_factors(totp.clone(), webauthn.clone());
        let windows = login.windows().clone();
        let emergency = login.emergency().clone();
        let devices = crate::device::service::DeviceRegister::new(
            stores.clone(),
            auditor.clone(),
            clock.clone(),
            config.facility.id.clone(),
        )
        .with_cookie_key(seal.as_ref().map(|k| k.derive("terminal-cookie")));
        Ok(Self(Arc::new(Services {
            config,
            clock,
            stores,
            auditor,
            passwords,
            admin,
            state,
            state_source,
            policy,
            sessions,
            login,
            totp,
            webauthn,
            seal,
            assertions: None,
            chain: Arc::default(),
            signer,
            audit_key_problem,
            forwarder,
            devices,
            windows,
            emergency,
            access_cache: Arc::new(DecisionCache::new(
                std::time::Duration::from_secs(5),
                100_000,
            )),
            sql,
        })))
    }

    /// Load (or on first run create) the assertion signing keys.
    pub fn with_signing_keys(mut self) -> Result<Self, Error> {
        let services = Arc::get_mut(&mut self.0).ok_or_else(|| {
            Error::Config("signing keys are loaded before the state is shared".into())
        })?;
        let now = services.clock.now();
        let keys = &services.config.keys;
        let ring = KeyRing::load_or_create(&keys.dir, now, keys.rotate_after)?;
        let ttl = chrono::Duration::from_std(services.config.session.assertion_ttl)
            .unwrap_or(chrono::Duration::seconds(60));
        services.assertions = Some(Arc::new(
            Assertions::new(
                ring,
                services.config.server.public_url.clone(),
                ttl,
                keys.rotate_after,
            )
            .with_sharing(keys.reload_every, keys.activation),
        ));
        Ok(self)
    }

    /// Start the checkpoint signer and the syslog forwarder (the gateway only).
    pub fn spawn_audit_tasks(&self) -> AuditTasks {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut handles = Vec::new();
        if let Some(signer) = &self.signer {
            handles.push(signer.clone().spawn(
                self.clock.clone(),
                self.auditor.subscribe(),
                stopped.clone(),
            ));
        }
        if let Some(forwarder) = &self.forwarder {
            handles.push(
                forwarder
                    .clone()
                    .spawn(self.auditor.subscribe(), stopped.clone()),
            );
        }
        AuditTasks { stop, handles }
    }

    /// Close the database cleanly (checkpoints the WAL).
    pub async fn close(&self) {
        self.sql.close().await;
    }
}

/// The audit tasks of a running gateway.
#[derive(Debug)]
pub struct AuditTasks {
    stop: tokio::sync::watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl AuditTasks {
    /// Stop them: the signer signs the head once more, so a clean stop leaves no unsigned
    /// tail. Waits at most `grace`.
    pub async fn stop(self, grace: std::time::Duration) {
        self.stop.send_replace(true);
        let all = futures_join_all(self.handles);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("audit tasks did not stop in time");
        }
    }
}

async fn futures_join_all(handles: Vec<tokio::task::JoinHandle<()>>) {
    for h in handles {
        let _ = h.await;
    }
}

/// The checkpoint signer. The gateway creates the audit key on a store with no checkpoint
/// yet; a missing key for a store that has some is reported (a fresh key would make every
/// earlier checkpoint look forged), and the gateway runs on without signing.
async fn audit_signer(
    config: &Config,
    stores: &Stores,
    mode: OpenMode,
) -> Result<(Option<Arc<crate::audit::signer::Signer>>, Option<String>), Error> {
    let path = &config.audit.checkpoint_key_file;
    let has_checkpoints = stores.audit.last_checkpoint().await?.is_some();
    if mode == OpenMode::MustExist && !path.exists() && !has_checkpoints {
        return Ok((
            None,
            Some(format!(
                "no audit key at {} yet: the gateway creates it at its first start",
                path.display()
            )),
        ));
    }
    match crate::audit::signer::load_key(
        path,
        mode == OpenMode::CreateAndMigrate && !has_checkpoints,
    ) {
        Ok(key) => Ok((
            Some(Arc::new(crate::audit::signer::Signer::new(
                stores.audit.clone(),
                key,
                &config.audit,
            ))),
            None,
        )),
        Err(e) => {
            tracing::error!(error = %e, "audit checkpoints cannot be signed");
            Ok((None, Some(e.to_string())))
        }
    }
}

/// Load the default and the deployment's policies; every problem in one error.
pub fn load_policies(config: &Config) -> Result<PolicyEngine, Error> {
    PolicyEngine::load(config.policy_dir.as_deref(), &config.access_rules).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
        Error::Config(format!("policies do not load:\n{}", lines.join("\n")))
    })
}
