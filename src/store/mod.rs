//! Durable data. One trait per aggregate (accounts, credentials, password history, audit);
//! SQLite is the embedded implementation, and PostgreSQL can follow behind the same traits
//! and the same conformance suite (`tests/it/store_conformance.rs`).

pub mod copy;
pub mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::{Account, AccountId, FacilityId, PersonId, Username};
use crate::audit::checkpoint::Checkpoint;
use crate::audit::{AuditRecord, PendingRecord};

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the database is read-only: {0}")]
    ReadOnly(String),
    #[error("the database file is corrupt or not a database: {0}")]
    Corrupt(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is invalid: {0}")]
    Invalid(String),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound(_) => "not_found",
            StoreError::Conflict(_) => "conflict",
            StoreError::ReadOnly(_) => "store_read_only",
            StoreError::Corrupt(_) => "store_corrupt",
            StoreError::Unavailable(_) => "store_unavailable",
            StoreError::Invalid(_) => "store_invalid_data",
        }
    }
}

#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug {
    /// Create the facility row if it does not exist; update its name if it does.
    async fn upsert_facility(&self, id: &FacilityId, name: &str) -> Result<(), StoreError>;
    async fn insert_account(&self, account: &Account) -> Result<(), StoreError>;
    async fn get_account(&self, id: AccountId) -> Result<Account, StoreError>;
    async fn find_account_by_username(
        &self,
        facility: &FacilityId,
        username: &Username,
    ) -> Result<Option<Account>, StoreError>;
    async fn list_accounts(&self, facility: &FacilityId) -> Result<Vec<Account>, StoreError>;
    async fn list_accounts_of_person(&self, person: PersonId) -> Result<Vec<Account>, StoreError>;
    async fn count_accounts(&self) -> Result<u64, StoreError>;
    /// Replace the mutable fields (status, roles, groups, names, flags, timestamps).
    async fn update_account(&self, account: &Account) -> Result<(), StoreError>;
    /// After a password is set: the new status and the time, in one statement that never
    /// lifts a `disabled` status (an administrator's disable racing a password change must
    /// win). Returns the status now stored.
    async fn set_password_status(
        &self,
        id: AccountId,
        status: crate::account::AccountStatus,
        at: DateTime<Utc>,
    ) -> Result<crate::account::AccountStatus, StoreError>;
    /// Record a sign-in's time, touching nothing else: a status an administrator (or a
    /// break-glass use) changed meanwhile must not be written back.
    async fn touch_last_login(&self, id: AccountId, at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// The account's current password credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCredential {
    pub account_id: AccountId,
    pub phc: String,
    pub set_at: DateTime<Utc>,
}

#[async_trait]
pub trait CredentialStore: Send + Sync + std::fmt::Debug {
    async fn find_password(
        &self,
        account: AccountId,
    ) -> Result<Option<PasswordCredential>, StoreError>;
    /// Make `phc` the current password and the newest history entry, keeping at most
    /// `history_depth` history entries for the account; all in one transaction.
    async fn set_password(
        &self,
        account: AccountId,
        person: PersonId,
        phc: &str,
        now: DateTime<Utc>,
        history_depth: usize,
    ) -> Result<(), StoreError>;
    /// Swap the current hash for one with upgraded parameters (same password, no history
    /// entry). Only succeeds if the stored hash is still `old_phc`.
    async fn upgrade_password_hash(
        &self,
        account: AccountId,
        old_phc: &str,
        new_phc: &str,
    ) -> Result<bool, StoreError>;
}

/// A second factor as listed (the secret stays sealed and is read only to verify).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorRecord {
    pub id: i64,
    pub account_id: AccountId,
    /// `totp`, `webauthn`, `recovery` …
    pub kind: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The authenticator model of a WebAuthn credential, when it told.
    pub aaguid: Option<String>,
}

#[async_trait]
pub trait FactorStore: Send + Sync + std::fmt::Debug {
    /// Store a confirmed factor; its id.
    async fn add_factor(
        &self,
        account: AccountId,
        kind: &str,
        label: &str,
        sealed: &[u8],
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// The account's factors (never passwords), oldest first.
    async fn list_factors(&self, account: AccountId) -> Result<Vec<FactorRecord>, StoreError>;
    /// The sealed secrets of the account's factors of one kind, with their ids.
    async fn factor_secrets(
        &self,
        account: AccountId,
        kind: &str,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError>;
    async fn touch_factor(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Remove one factor of the account; false if it has no such factor.
    async fn delete_factor(&self, account: AccountId, id: i64) -> Result<bool, StoreError>;
    /// Remove every factor of the account (helpdesk reset); how many there were.
    async fn delete_all_factors(&self, account: AccountId) -> Result<u64, StoreError>;
    /// Store a WebAuthn credential; `Conflict` if its credential id is registered already
    /// (to this or any other account).
    async fn add_webauthn_factor(
        &self,
        account: AccountId,
        label: &str,
        sealed: &[u8],
        credential_id: &str,
        aaguid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    /// The factor id and account of a WebAuthn credential id.
    async fn webauthn_owner(
        &self,
        credential_id: &str,
    ) -> Result<Option<(i64, AccountId)>, StoreError>;
    /// Replace a factor's sealed value (a WebAuthn signature counter moved on).
    async fn update_factor_secret(&self, id: i64, sealed: &[u8]) -> Result<(), StoreError>;
    /// Rename one factor of the account; false if it has no such factor.
    async fn rename_factor(
        &self,
        account: AccountId,
        id: i64,
        label: &str,
    ) -> Result<bool, StoreError>;
    /// Replace the account's single-use codes of one kind (`recovery`, `break_glass`; their
    /// hashes) in one transaction. An empty list removes them.
    async fn replace_codes(
        &self,
        account: AccountId,
        kind: &str,
        hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Spend a single-use code: true exactly once per code, also under concurrent use.
    async fn use_code(
        &self,
        account: AccountId,
        kind: &str,
        hash: &str,
    ) -> Result<bool, StoreError>;
    /// Sign-ins without a second factor so far, after counting one more if `add`.
    async fn enrolment_nudges(&self, account: AccountId, add: bool) -> Result<u32, StoreError>;
}

#[async_trait]
pub trait DeviceStore: Send + Sync + std::fmt::Debug {
    /// Register a device; `Conflict` when the facility has one of that name.
    async fn add_device(&self, device: &crate::device::Device) -> Result<(), StoreError>;
    async fn list_devices(
        &self,
        facility: &FacilityId,
    ) -> Result<Vec<crate::device::Device>, StoreError>;
    async fn find_device(
        &self,
        facility: &FacilityId,
        name: &str,
    ) -> Result<Option<crate::device::Device>, StoreError>;
    /// Save status, credential, location, owner and last-seen time.
    async fn update_device(&self, device: &crate::device::Device) -> Result<(), StoreError>;
    /// Record a device's last contact, touching nothing else (a status or binding changed
    /// meanwhile must not be overwritten).
    async fn touch_device(
        &self,
        id: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError>;
    /// Replace a terminal's binding (enrolment link, browser secrets), touching nothing else:
    /// a browser's enrolment racing an administrator's disable must not re-enable the device.
    async fn set_binding(
        &self,
        id: uuid::Uuid,
        binding: &crate::device::terminal::Binding,
    ) -> Result<(), StoreError>;
    async fn get_device(&self, id: uuid::Uuid)
    -> Result<Option<crate::device::Device>, StoreError>;
}

/// Vendors' maintenance windows.
#[async_trait]
pub trait WindowStore: Send + Sync + std::fmt::Debug {
    async fn insert_window(&self, window: &crate::vendor::Window) -> Result<(), StoreError>;
    async fn find_window(
        &self,
        facility: &FacilityId,
        id: &str,
    ) -> Result<Option<crate::vendor::Window>, StoreError>;
    /// The facility's windows (one account's, if given), newest start first.
    async fn list_windows(
        &self,
        facility: &FacilityId,
        account: Option<AccountId>,
    ) -> Result<Vec<crate::vendor::Window>, StoreError>;
    /// A window of this account and system open at `now`.
    async fn open_window(
        &self,
        account: AccountId,
        system: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::vendor::Window>, StoreError>;
    /// Close a scheduled window early (`cancelled` or `ended`); false when it was not
    /// scheduled any more.
    async fn close_window(
        &self,
        id: &str,
        state: crate::vendor::WindowState,
        at: DateTime<Utc>,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError>;
    /// Windows whose opening or closing is due in the audit log at `now`.
    async fn windows_to_announce(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<crate::vendor::Window>, StoreError>;
    /// Record that a window's opening or closing is in the audit log.
    async fn mark_window_announced(
        &self,
        id: &str,
        opened: bool,
        closed: bool,
    ) -> Result<(), StoreError>;
}

/// Uses of emergency accounts, until acknowledged.
#[async_trait]
pub trait BreakGlassStore: Send + Sync + std::fmt::Debug {
    async fn insert_break_glass(
        &self,
        event: &crate::emergency::BreakGlassEvent,
    ) -> Result<i64, StoreError>;
    /// Newest first; only the unacknowledged ones when `open_only`.
    async fn list_break_glass(
        &self,
        facility: &FacilityId,
        open_only: bool,
    ) -> Result<Vec<crate::emergency::BreakGlassEvent>, StoreError>;
    /// Acknowledge one; false when there is no such open use.
    async fn acknowledge_break_glass(
        &self,
        facility: &FacilityId,
        id: i64,
        at: DateTime<Utc>,
        by: &str,
        reason: &str,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait PasswordHistoryStore: Send + Sync + std::fmt::Debug {
    /// The newest `limit` password hashes of the account, newest first (the current one
    /// included).
    async fn recent_password_hashes(
        &self,
        account: AccountId,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
}

/// Which audit rows to read. Filters are exact matches; `None` leaves a column open.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after_seq: Option<i64>,
    /// Rows before this one (newest-first paging).
    pub before_seq: Option<i64>,
    pub limit: Option<u64>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
    pub subject: Option<String>,
    pub kind: Option<String>,
    pub outcome: Option<String>,
    pub ip: Option<String>,
    /// `trusted` or `external` (the zone recorded in the event's details).
    pub zone: Option<String>,
}

#[async_trait]
pub trait AuditStore: Send + Sync + std::fmt::Debug {
    /// Append rows to the chain, in order, in one transaction; returns once they are
    /// committed (all of them, or none). The factors' last uses and the accounts' last
    /// sign-ins noted since the previous batch (`also`) are written in the same transaction,
    /// so a sign-in commits once.
    async fn append_audit_batch(
        &self,
        pending: Vec<PendingRecord>,
        also: &crate::audit::RideAlong,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// Append one row to the chain; returns once it is committed.
    async fn append_audit(&self, pending: PendingRecord) -> Result<AuditRecord, StoreError> {
        self.append_audit_batch(vec![pending], &crate::audit::RideAlong::default())
            .await?
            .pop()
            .ok_or_else(|| StoreError::Invalid("the append returned no row".into()))
    }
    async fn query_audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
    /// The newest row's seq (0 for an empty log).
    async fn head_seq(&self) -> Result<i64, StoreError> {
        let newest = self
            .query_audit(&AuditQuery {
                limit: Some(1),
                newest_first: true,
                ..AuditQuery::default()
            })
            .await?;
        Ok(newest.first().map_or(0, |r| r.seq))
    }
    /// Store a signed checkpoint; false when one for that row is already stored.
    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> Result<bool, StoreError>;
    /// Every checkpoint, oldest first.
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;
    /// The newest checkpoint.
    async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;
    /// The last row `target` is known to hold (0: none yet).
    async fn delivered_seq(&self, target: &str) -> Result<i64, StoreError>;
    /// Record that `target` holds every row up to `seq`; never moves backwards.
    async fn set_delivered_seq(
        &self,
        target: &str,
        seq: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait StoreHealth: Send + Sync + std::fmt::Debug {
    /// Cheap round trip that proves the store answers and can be written.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The store handles the rest of the program holds.
#[derive(Debug, Clone)]
pub struct Stores {
    pub accounts: Arc<dyn AccountStore>,
    pub credentials: Arc<dyn CredentialStore>,
    pub factors: Arc<dyn FactorStore>,
    pub devices: Arc<dyn DeviceStore>,
    pub windows: Arc<dyn WindowStore>,
    pub break_glass: Arc<dyn BreakGlassStore>,
    pub history: Arc<dyn PasswordHistoryStore>,
    pub audit: Arc<dyn AuditStore>,
    pub health: Arc<dyn StoreHealth>,
}

impl Stores {
    /// All aggregates from one backend object.
    pub fn from_backend<B>(backend: Arc<B>) -> Self
    where
        B: AccountStore
            + CredentialStore
            + FactorStore
            + DeviceStore
            + WindowStore
            + BreakGlassStore
            + PasswordHistoryStore
            + AuditStore
            + StoreHealth
            + 'static,
    {
        Self {
            accounts: backend.clone(),
            factors: backend.clone(),
            devices: backend.clone(),
            windows: backend.clone(),
            break_glass: backend.clone(),
            credentials: backend.clone(),
            history: backend.clone(),
            audit: backend.clone(),
            health: backend,
        }
    }
}
