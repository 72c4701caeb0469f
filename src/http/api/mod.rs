//! The JSON API under `/api/v1`.

pub mod login;
pub mod password;
