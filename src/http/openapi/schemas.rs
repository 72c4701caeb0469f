//! The answer bodies the handlers build as JSON, described for the OpenAPI document (the
//! handlers themselves answer with `serde_json` values of this shape; schemathesis checks a
//! running gateway against these).

use serde::Serialize;
use utoipa::ToSchema;

/// Every error answer: a stable code, a safe message, and details for some codes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInner,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorInner {
    /// A stable code (see the table in the description).
    pub code: String,
    /// A message safe to show; internal detail goes to the gateway's log only.
    pub message: String,
    /// Code-specific details (`reasons` of a refused password, `flow_id` to try again, …).
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// The answers of `POST /api/v1/login`: `outcome` tells which.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginAnswer {
    /// `authenticated`, `second_factor_required`, `enrolment_required` or
    /// `password_change_required`.
    pub outcome: String,
    /// The next step's flow id (every outcome but `authenticated`).
    pub flow_id: Option<String>,
    pub expires_at: Option<String>,
    /// Factor kinds that would satisfy the policy (`possession`, `inherence`).
    pub kinds: Option<Vec<String>>,
    /// What the account can answer with (`totp`, `webauthn`, `recovery_code`, …).
    pub methods: Option<Vec<String>>,
    /// Why a password change is needed (`one_time`, `compromised`, `breached`, `too_short`).
    pub reason: Option<String>,
    pub policy_ids: Option<Vec<String>>,
    /// `authenticated`: the new session (its cookie is set on the answer).
    #[schema(value_type = Option<Object>)]
    pub session: Option<serde_json::Value>,
    pub amr: Option<Vec<String>>,
    pub acr: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub notices: Option<Vec<serde_json::Value>>,
    pub return_to: Option<String>,
    /// A step-up: the session this one replaced.
    pub replaces_sid: Option<String>,
}

/// The body of an operation that reads none: `{}` or nothing, always sent as
/// `application/json` (a state-changing request of another type is refused, so that no page
/// can send it without a CORS preflight).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoBody {}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedOut {
    /// `logged_out`
    pub outcome: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub sid: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub amr: Vec<String>,
    pub acr: String,
    pub zone: String,
    pub created_at: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactorItem {
    pub id: i64,
    pub kind: String,
    pub label: String,
    pub aaguid: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactorList {
    pub factors: Vec<FactorItem>,
    pub recovery_codes_remaining: u64,
    /// The account (administrators' listing only).
    pub username: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpStart {
    pub enrolment_id: String,
    /// Base32, shown once.
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: Option<String>,
    pub expires_at: String,
    pub flow_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactorAdded {
    pub factor_id: i64,
    pub kind: String,
    pub credential_kind: Option<String>,
    pub aaguid: Option<String>,
    pub user_verified: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown once; each works once.
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Renamed {
    pub id: i64,
    pub label: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Removed {
    pub removed: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebauthnStart {
    pub registration_id: String,
    /// `PublicKeyCredentialCreationOptions` for `navigator.credentials.create`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    pub expires_at: String,
    pub flow_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Challenge {
    /// `PublicKeyCredentialRequestOptions` for `navigator.credentials.get`.
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    pub flow_id: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceAnswer {
    pub device: crate::device::Device,
    /// A new credential, shown once (creation and rotation only).
    pub credential: Option<String>,
    /// A terminal's one-time enrolment link (enrolment-link only).
    pub enrolment_url: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<crate::device::Device>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LockState {
    pub username: String,
    #[schema(value_type = Vec<Object>)]
    pub zones: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unlocked {
    pub unlocked: bool,
    #[schema(value_type = Vec<Object>)]
    pub before: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionItem {
    pub sid: String,
    pub created_at: String,
    pub expires_at: String,
    pub amr: Vec<String>,
    pub zone: String,
    pub ip: String,
    pub user_agent: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub username: String,
    pub sessions: Vec<SessionItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsEnded {
    pub sessions_ended: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FactorsRemoved {
    pub removed: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PamAnswer {
    /// `allow`, `deny`, `pending`, `approved`, `denied`, `expired`, `recorded`.
    pub result: String,
    pub message: Option<String>,
    pub reason: Option<String>,
    pub until: Option<String>,
    pub amr: Option<Vec<String>>,
    pub policy_ids: Option<Vec<String>>,
    /// The audit row that records a break-glass use (`recorded`).
    pub seq: Option<i64>,
    /// The break-glass use's id, as the consoles list it (`recorded`).
    pub event: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceFlowStart {
    pub flow_id: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub interval: u64,
    pub expires_in: i64,
    pub expires_at: String,
}

/// A device flow started, or refused at once (the same deny as a sign-in: a locked
/// account, a policy that forbids this device).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DeviceFlowAnswer {
    Started(DeviceFlowStart),
    Refused(PamAnswer),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalChallenge {
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    #[schema(value_type = Object)]
    pub pending: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub checks: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub audit: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}
