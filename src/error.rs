//! The domain error: what went wrong, in terms of the product, for the code that called.
//! It knows nothing of HTTP; `http::error::ApiError` turns it into a stable code and a safe
//! message at the edge, and the CLI turns it into a message and an exit code.

use crate::account::{AccountError, TokenError, UsernameError};
use crate::crypto::hash::HashError;
use crate::password::breach::BreachError;
use crate::password::reason::RejectReason;
use crate::state::StateError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid username: {0}")]
    Username(#[from] UsernameError),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{0}")]
    Invalid(String),
    #[error("no account named `{0}`")]
    AccountNotFound(String),
    #[error("an account named `{0}` already exists")]
    AccountExists(String),
    #[error("password refused: {}", .0.iter().map(RejectReason::code).collect::<Vec<_>>().join(", "))]
    PasswordRejected(Vec<RejectReason>),
    #[error("a reason is required for this action (it goes into the audit log)")]
    ReasonRequired,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Breach(#[from] BreachError),
    #[error("{0}")]
    Code(#[from] crate::totp::CodeError),
    #[error("the login flow is unknown, expired or already used")]
    FlowInvalid,
    /// A second-factor action that cannot be done, with a stable code and a message a person
    /// can act on (no security key registered, the last factor, passwordless sign-in off …).
    #[error("{message}")]
    Refused {
        code: &'static str,
        message: &'static str,
    },
    #[error("configuration: {0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Username(e) => e.code(),
            Error::Token(_) => "invalid_token",
            Error::Invalid(_) => "invalid_input",
            Error::AccountNotFound(_) => "account_not_found",
            Error::AccountExists(_) => "account_exists",
            Error::PasswordRejected(_) => "password_rejected",
            Error::ReasonRequired => "reason_required",
            Error::Store(e) => e.code(),
            Error::State(e) => e.code(),
            Error::Hash(_) => "hash_error",
            Error::Breach(_) => "breach_filter_error",
            Error::Code(e) => e.code(),
            Error::FlowInvalid => "flow_invalid",
            Error::Refused { code, .. } => code,
            Error::Config(_) => "config_invalid",
            Error::Io { .. } => "io_error",
        }
    }
}

/// A new account's refused fields keep the codes the API answers with.
impl From<AccountError> for Error {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Username(u) => Error::Username(u),
            AccountError::Invalid(m) => Error::Invalid(m),
        }
    }
}
