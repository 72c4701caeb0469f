//! Passwords under guideline 7.0: pure rules (`rules`), reason codes (`reason`), the bundled
//! blocklist, the offline breach filter, the bounded hashing pool, and the service that ties
//! them to stored history.

pub mod blocklist;
pub mod breach;
pub mod hasher;
pub mod reason;
pub mod rules;
pub mod service;

pub use reason::RejectReason;
pub use rules::{Assessment, PasswordPolicy, RuleContext};
pub use service::PasswordService;
