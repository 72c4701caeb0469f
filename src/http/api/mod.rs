//! The JSON API under `/api/v1`.

pub mod admin;
pub mod answers;
pub mod devices;
pub mod factors;
pub mod login;
pub mod pam;
pub mod password;
pub mod webauthn;
