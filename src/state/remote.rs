//! The state store of a running gateway, reached through its control socket (a Unix socket
//! beside the database, mode 0600). With in-process state, `sekimori user unlock`,
//! `session list|revoke` and `user disable` run in another process than the gateway; they act
//! on the gateway's live state through this client, one operation per request.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{StateError, StateKey, StateStore};
use crate::lockout::{Blocked, LockState, LockoutPolicy, Reserved};

/// One state operation on the wire. Keys travel as built by the typed constructors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Put {
        key: String,
        value: Vec<u8>,
        ttl_ms: u64,
    },
    Get {
        key: String,
    },
    Take {
        key: String,
    },
    Delete {
        key: String,
    },
    GetTouch {
        key: String,
        ttl_ms: u64,
    },
    SetAdd {
        key: String,
        member: String,
        ttl_ms: u64,
    },
    SetMembers {
        key: String,
    },
    SetRemove {
        key: String,
        member: String,
    },
    Touch {
        key: String,
        ttl_ms: u64,
    },
    IncrWindow {
        key: String,
        window_ms: u64,
    },
    Counter {
        key: String,
    },
    AdvanceIfGreater {
        key: String,
        value: i64,
        ttl_ms: u64,
    },
    LockoutBegin {
        key: String,
        now_ms: i64,
        policy: WirePolicy,
    },
    LockoutState {
        key: String,
    },
    LockoutReset {
        key: String,
    },
    Ping,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct WirePolicy {
    pub threshold: u32,
    pub window_ms: i64,
    pub base_lock_ms: i64,
    pub max_lock_ms: i64,
    pub hard_threshold: u32,
}

impl From<&LockoutPolicy> for WirePolicy {
    fn from(p: &LockoutPolicy) -> Self {
        Self {
            threshold: p.threshold,
            window_ms: p.window.num_milliseconds(),
            base_lock_ms: p.base_lock.num_milliseconds(),
            max_lock_ms: p.max_lock.num_milliseconds(),
            hard_threshold: p.hard_threshold,
        }
    }
}

impl From<WirePolicy> for LockoutPolicy {
    fn from(w: WirePolicy) -> Self {
        Self {
            threshold: w.threshold,
            window: chrono::Duration::milliseconds(w.window_ms),
            base_lock: chrono::Duration::milliseconds(w.base_lock_ms),
            max_lock: chrono::Duration::milliseconds(w.max_lock_ms),
            hard_threshold: w.hard_threshold,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum Reply {
    Unit,
    Bytes {
        value: Option<Vec<u8>>,
    },
    Bool {
        value: bool,
    },
    Count {
        value: u64,
    },
    Members {
        value: Vec<String>,
    },
    Lock {
        value: LockState,
    },
    Reserved {
        in_window: u32,
        consecutive: u32,
        locks_until_ms: Option<i64>,
        hard_locked: bool,
    },
    BlockedUntil {
        ms: i64,
    },
    BlockedUntilAdmin,
    Error {
        message: String,
    },
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn dur(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Carry out one operation on a local store (the server side of the socket).
pub async fn apply(state: &dyn StateStore, op: Op) -> Reply {
    let k = |s: String| StateKey::from_wire(s);
    let r: Result<Reply, StateError> = async {
        Ok(match op {
            Op::Put { key, value, ttl_ms } => {
                state.put(&k(key)?, &value, dur(ttl_ms)).await?;
                Reply::Unit
            }
            Op::Get { key } => Reply::Bytes {
                value: state.get(&k(key)?).await?,
            },
            Op::Take { key } => Reply::Bytes {
                value: state.take(&k(key)?).await?,
            },
            Op::Delete { key } => {
                state.delete(&k(key)?).await?;
                Reply::Unit
            }
            Op::GetTouch { key, ttl_ms } => Reply::Bytes {
                value: state.get_touch(&k(key)?, dur(ttl_ms)).await?,
            },
            Op::SetAdd {
                key,
                member,
                ttl_ms,
            } => {
                state.set_add(&k(key)?, &member, dur(ttl_ms)).await?;
                Reply::Unit
            }
            Op::SetMembers { key } => Reply::Members {
                value: state.set_members(&k(key)?).await?,
            },
            Op::SetRemove { key, member } => {
                state.set_remove(&k(key)?, &member).await?;
                Reply::Unit
            }
            Op::Touch { key, ttl_ms } => Reply::Bool {
                value: state.touch(&k(key)?, dur(ttl_ms)).await?,
            },
            Op::IncrWindow { key, window_ms } => Reply::Count {
                value: state.incr_window(&k(key)?, dur(window_ms)).await?,
            },
            Op::Counter { key } => Reply::Count {
                value: state.counter(&k(key)?).await?,
            },
            Op::AdvanceIfGreater { key, value, ttl_ms } => Reply::Bool {
                value: state
                    .advance_if_greater(&k(key)?, value, dur(ttl_ms))
                    .await?,
            },
            Op::LockoutBegin {
                key,
                now_ms,
                policy,
            } => {
                let now = crate::clock::from_millis(now_ms);
                match state.lockout_begin(&k(key)?, now, &policy.into()).await? {
                    Ok(r) => Reply::Reserved {
                        in_window: r.in_window,
                        consecutive: r.consecutive,
                        locks_until_ms: r.locks_until.map(|t| t.timestamp_millis()),
                        hard_locked: r.hard_locked,
                    },
                    Err(Blocked::Until(t)) => Reply::BlockedUntil {
                        ms: t.timestamp_millis(),
                    },
                    Err(Blocked::UntilAdminUnlock) => Reply::BlockedUntilAdmin,
                }
            }
            Op::LockoutState { key } => Reply::Lock {
                value: state.lockout_state(&k(key)?).await?,
            },
            Op::LockoutReset { key } => {
                state.lockout_reset(&k(key)?).await?;
                Reply::Unit
            }
            Op::Ping => {
                state.ping().await?;
                Reply::Unit
            }
        })
    }
    .await;
    r.unwrap_or_else(|e| Reply::Error {
        message: e.to_string(),
    })
}

/// A client of a running gateway's state.
#[derive(Debug, Clone)]
pub struct RemoteState {
    socket: PathBuf,
}

fn wrong(r: &Reply) -> StateError {
    match r {
        Reply::Error { message } => StateError::Unavailable(message.clone()),
        other => StateError::Invalid(format!("unexpected control reply {other:?}")),
    }
}

impl RemoteState {
    /// Connect only if a gateway answers on `socket`.
    pub async fn connect(socket: &Path) -> Option<Self> {
        let s = Self {
            socket: socket.to_owned(),
        };
        s.call(&Op::Ping)
            .await
            .ok()
            .filter(|r| matches!(r, Reply::Unit))
            .map(|_| s)
    }

    async fn call(&self, op: &Op) -> Result<Reply, StateError> {
        let unavailable = |e: std::io::Error| {
            StateError::Unavailable(format!("control socket {}: {e}", self.socket.display()))
        };
        let body = serde_json::to_vec(op).map_err(|e| StateError::Invalid(e.to_string()))?;
        let io = async {
            let mut stream = tokio::net::UnixStream::connect(&self.socket).await?;
            let head = format!(
                "POST /state HTTP/1.1\r\nHost: control\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body).await?;
            let mut out = Vec::new();
            stream.read_to_end(&mut out).await?;
            Ok::<_, std::io::Error>(out)
        };
        let raw = tokio::time::timeout(Duration::from_secs(5), io)
            .await
            .map_err(|_| StateError::Unavailable("control socket timed out".into()))?
            .map_err(unavailable)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| StateError::Invalid("malformed control reply".into()))?;
        let status_ok = raw.starts_with(b"HTTP/1.1 200");
        let reply: Reply = serde_json::from_slice(&raw[split + 4..])
            .map_err(|e| StateError::Invalid(format!("control reply: {e}")))?;
        if !status_ok {
            return Err(wrong(&reply));
        }
        Ok(reply)
    }

    async fn unit(&self, op: Op) -> Result<(), StateError> {
        match self.call(&op).await? {
            Reply::Unit => Ok(()),
            r => Err(wrong(&r)),
        }
    }

    async fn bytes(&self, op: Op) -> Result<Option<Vec<u8>>, StateError> {
        match self.call(&op).await? {
            Reply::Bytes { value } => Ok(value),
            r => Err(wrong(&r)),
        }
    }

    async fn boolean(&self, op: Op) -> Result<bool, StateError> {
        match self.call(&op).await? {
            Reply::Bool { value } => Ok(value),
            r => Err(wrong(&r)),
        }
    }

    async fn count(&self, op: Op) -> Result<u64, StateError> {
        match self.call(&op).await? {
            Reply::Count { value } => Ok(value),
            r => Err(wrong(&r)),
        }
    }
}

fn key(k: &StateKey) -> String {
    k.as_str().to_owned()
}

#[async_trait]
impl StateStore for RemoteState {
    async fn put(&self, k: &StateKey, value: &[u8], ttl: Duration) -> Result<(), StateError> {
        self.unit(Op::Put {
            key: key(k),
            value: value.to_vec(),
            ttl_ms: ms(ttl),
        })
        .await
    }
    async fn get(&self, k: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        self.bytes(Op::Get { key: key(k) }).await
    }
    async fn take(&self, k: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        self.bytes(Op::Take { key: key(k) }).await
    }
    async fn delete(&self, k: &StateKey) -> Result<(), StateError> {
        self.unit(Op::Delete { key: key(k) }).await
    }
    async fn get_touch(&self, k: &StateKey, ttl: Duration) -> Result<Option<Vec<u8>>, StateError> {
        self.bytes(Op::GetTouch {
            key: key(k),
            ttl_ms: ms(ttl),
        })
        .await
    }
    async fn set_add(&self, k: &StateKey, member: &str, ttl: Duration) -> Result<(), StateError> {
        self.unit(Op::SetAdd {
            key: key(k),
            member: member.to_owned(),
            ttl_ms: ms(ttl),
        })
        .await
    }
    async fn set_members(&self, k: &StateKey) -> Result<Vec<String>, StateError> {
        match self.call(&Op::SetMembers { key: key(k) }).await? {
            Reply::Members { value } => Ok(value),
            r => Err(wrong(&r)),
        }
    }
    async fn set_remove(&self, k: &StateKey, member: &str) -> Result<(), StateError> {
        self.unit(Op::SetRemove {
            key: key(k),
            member: member.to_owned(),
        })
        .await
    }
    async fn touch(&self, k: &StateKey, ttl: Duration) -> Result<bool, StateError> {
        self.boolean(Op::Touch {
            key: key(k),
            ttl_ms: ms(ttl),
        })
        .await
    }
    async fn incr_window(&self, k: &StateKey, window: Duration) -> Result<u64, StateError> {
        self.count(Op::IncrWindow {
            key: key(k),
            window_ms: ms(window),
        })
        .await
    }
    async fn counter(&self, k: &StateKey) -> Result<u64, StateError> {
        self.count(Op::Counter { key: key(k) }).await
    }
    async fn advance_if_greater(
        &self,
        k: &StateKey,
        value: i64,
        ttl: Duration,
    ) -> Result<bool, StateError> {
        self.boolean(Op::AdvanceIfGreater {
            key: key(k),
            value,
            ttl_ms: ms(ttl),
        })
        .await
    }
    async fn lockout_begin(
        &self,
        k: &StateKey,
        now: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Result<Result<Reserved, Blocked>, StateError> {
        let op = Op::LockoutBegin {
            key: key(k),
            now_ms: now.timestamp_millis(),
            policy: policy.into(),
        };
        match self.call(&op).await? {
            Reply::Reserved {
                in_window,
                consecutive,
                locks_until_ms,
                hard_locked,
            } => Ok(Ok(Reserved {
                in_window,
                consecutive,
                locks_until: locks_until_ms.map(crate::clock::from_millis),
                hard_locked,
            })),
            Reply::BlockedUntil { ms } => Ok(Err(Blocked::Until(crate::clock::from_millis(ms)))),
            Reply::BlockedUntilAdmin => Ok(Err(Blocked::UntilAdminUnlock)),
            r => Err(wrong(&r)),
        }
    }
    async fn lockout_state(&self, k: &StateKey) -> Result<LockState, StateError> {
        match self.call(&Op::LockoutState { key: key(k) }).await? {
            Reply::Lock { value } => Ok(value),
            r => Err(wrong(&r)),
        }
    }
    async fn lockout_reset(&self, k: &StateKey) -> Result<(), StateError> {
        self.unit(Op::LockoutReset { key: key(k) }).await
    }
    async fn ping(&self) -> Result<(), StateError> {
        self.unit(Op::Ping).await
    }
}
