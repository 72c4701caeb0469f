//! The audit log (guideline 17①–③): typed events, the hash-chained record, the service that
//! appends them, and verification and export.
//!
//! Every row carries the SHA-256 of the row before it. An edited row no longer matches its
//! own hash, a deleted row leaves a gap or a broken link, an inserted row makes two rows claim
//! the same predecessor. Times are server-side only, stored in JST with the offset (G-23).

pub mod chain;
pub mod checkpoint;
pub mod export;
pub mod forward;
pub mod signer;
pub mod verify;
pub mod watch;
mod writer;

pub use writer::Auditor;

/// Rows read at a time when the chain is walked (verification, signing): the rows of one
/// batch are in memory together, and memory the C library got back from a large batch stays
/// with the process, so a walk over a long log must not cost more than a small batch.
pub(crate) const WALK_BATCH: u64 = 500;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::account::{FacilityId, token_enum};

token_enum! {
    /// What happened.
    EventKind {
        LoginAttempt => "login_attempt", "ログイン試行";
        AccountLocked => "account_locked", "アカウントロック";
        AccountUnlocked => "account_unlocked", "ロック解除";
        LoginBlocked => "login_blocked", "ロック中のログイン拒否";
        SessionIssued => "session_issued", "セッション発行";
        SessionRevoked => "session_revoked", "セッション失効";
        Logout => "logout", "ログアウト";
        AccessDenied => "access_denied", "アクセス拒否";
        RequestRefused => "request_refused", "解釈が一つに定まらないリクエストの拒否";
        StepUpRequired => "step_up_required", "追加の認証要素の要求";
        SessionUpgraded => "session_upgraded", "セッションへの認証要素の追加";
        FactorEnrolled => "factor_enrolled", "二要素の登録";
        FactorRemoved => "factor_removed", "二要素の削除";
        FactorsReset => "factors_reset", "二要素のリセット";
        RecoveryCodesIssued => "recovery_codes_issued", "リカバリーコード発行";
        DeviceRegistered => "device_registered", "機器の登録";
        DeviceDisabled => "device_disabled", "機器の無効化";
        DeviceCredentialRotated => "device_credential_rotated", "機器資格情報の更新";
        DeviceAuthFailed => "device_auth_failed", "機器認証の失敗";
        TerminalEnrolmentIssued => "terminal_enrolment_issued", "端末登録リンクの発行";
        TerminalBound => "terminal_bound", "端末ブラウザーの登録";
        TerminalCookieReused => "terminal_cookie_reused", "端末クッキーの複製検知";
        BreakGlassUsed => "break_glass_used", "緊急用アカウントの使用";
        BreakGlassAcknowledged => "break_glass_acknowledged", "緊急用アカウント使用の確認";
        BreakGlassCodesIssued => "break_glass_codes_issued", "緊急用コードの発行";
        MaintenanceWindowScheduled => "maintenance_window_scheduled", "保守作業枠の登録";
        MaintenanceWindowOpened => "maintenance_window_opened", "保守作業枠の開始";
        MaintenanceWindowClosed => "maintenance_window_closed", "保守作業枠の終了";
        MaintenanceRequest => "maintenance_request", "保守作業中のリクエスト";
        AccountExpiryChanged => "account_expiry_changed", "利用期限の変更";
        PasswordChanged => "password_changed", "パスワード変更";
        PasswordRejected => "password_rejected", "パスワード拒否";
        PasswordReset => "password_reset", "パスワード再発行";
        AccountCreated => "account_created", "アカウント作成";
        AccountDisabled => "account_disabled", "アカウント無効化";
        AccountEnabled => "account_enabled", "アカウント有効化";
        RoleChanged => "role_changed", "権限変更";
        AccountCompromised => "account_compromised", "漏えい疑いの登録";
        AdminAction => "admin_action", "管理操作";
        BootstrapAdminCreated => "bootstrap_admin_created", "初期管理者作成";
    }
}

token_enum! {
    /// How it ended.
    Outcome {
        Success => "success", "成功";
        Failure => "failure", "失敗";
        Denied => "denied", "拒否";
        Info => "info", "情報";
    }
}

/// An event as the caller describes it; the log adds time, id and chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub facility_id: FacilityId,
    pub kind: EventKind,
    pub outcome: Outcome,
    /// Who did it: `account:<username>`, `cli:<os user>`, `system`.
    pub actor: Option<String>,
    /// Whom it concerns (normalised username, device id).
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub device: Option<String>,
    /// Structured detail: reason codes, counts, zone, policy ids, the operator's reason.
    pub detail: serde_json::Value,
}

impl AuditEvent {
    pub fn new(facility_id: FacilityId, kind: EventKind, outcome: Outcome) -> Self {
        Self {
            facility_id,
            kind,
            outcome,
            actor: None,
            subject: None,
            ip: None,
            device: None,
            detail: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        if let serde_json::Value::Object(map) = &mut self.detail {
            map.insert(key.to_owned(), value.into());
        }
        self
    }
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub event_id: Uuid,
    /// The instant, UTC.
    #[serde(skip)]
    pub at: DateTime<Utc>,
    /// The instant as stored and hashed: JST with offset.
    #[serde(rename = "at")]
    pub at_text: String,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

/// Times written with an audit commit rather than in transactions of their own: the latest
/// use of each factor (by id) and the latest sign-in of each account (by id), noted since the
/// previous commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RideAlong {
    pub factor_uses: Vec<(i64, DateTime<Utc>)>,
    pub sign_ins: Vec<(String, DateTime<Utc>)>,
}

impl RideAlong {
    pub fn is_empty(&self) -> bool {
        self.factor_uses.is_empty() && self.sign_ins.is_empty()
    }
}

/// A row about to be appended: everything but its place in the chain.
#[derive(Debug, Clone)]
pub struct PendingRecord {
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
    pub at_text: String,
    pub event: AuditEvent,
}
