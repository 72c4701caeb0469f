//! The off-box copy (`[audit] syslog`): every audit row, as it is committed, goes to a syslog
//! collector as one RFC 5424 message carrying its seq and hash, so an attacker on the gateway
//! host cannot quietly rewrite what the collector already holds.
//!
//! Delivery is at least once. The last row a target holds is kept in the database; rows after
//! it are sent again after a reconnection, so a collector may see a row twice and never misses
//! one. Plain TCP syslog has no acknowledgement, so a row sent over TCP counts as delivered only
//! once the connection has stayed open [`CONFIRM_AFTER`] after it was written (a collector that
//! stops closes its connection, and what it did not take is sent again). Datagrams (UDP, the
//! local socket) count as delivered when sent. A collector that is down never stops the
//! gateway: rows wait in the database, and the lag shows in `/readyz` and the report.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::AsyncWriteExt as _;

use super::{AuditRecord, EventKind, Outcome};
use crate::clock::Clock;
use crate::config::audit::SyslogTarget;
use crate::store::{AuditQuery, AuditStore, StoreError};
use crate::syslog::{Severity, format_with, sd_value};

/// How long a TCP connection must stay open after a row is written for the row to count as
/// delivered.
pub const CONFIRM_AFTER: Duration = Duration::from_secs(2);
/// Rows read and sent per round.
const BATCH: u64 = 500;
/// The SD-ID of the audit parameters (32473: the example enterprise number of RFC 5612).
pub const SD_ID: &str = "sekimori@32473";

fn severity(r: &AuditRecord) -> Severity {
    match (r.event.kind, r.event.outcome) {
        (EventKind::BreakGlassUsed, _) => Severity::Critical,
        (EventKind::AccountLocked | EventKind::TerminalCookieReused, _) => Severity::Warning,
        (_, Outcome::Failure | Outcome::Denied) => Severity::Notice,
        _ => Severity::Info,
    }
}

/// The message for one row: MSGID is the event kind, STRUCTURED-DATA carries seq, hash, the
/// previous hash, kind and outcome, and MSG the whole row as JSON (UTF-8, with its BOM).
pub fn message(r: &AuditRecord) -> String {
    let sd = format!(
        "[{SD_ID} seq=\"{}\" hash=\"{}\" prev=\"{}\" kind=\"{}\" outcome=\"{}\" facility=\"{}\"]",
        r.seq,
        r.hash,
        r.prev_hash,
        r.event.kind.as_str(),
        r.event.outcome.as_str(),
        sd_value(&r.event.facility_id.0)
    );
    let json = serde_json::to_string(r).unwrap_or_default();
    format_with(
        severity(r),
        r.event.kind.as_str(),
        &sd,
        &format!("\u{feff}{json}"),
        r.at,
    )
}

/// What `/readyz` and the report show.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ForwardStatus {
    pub target: String,
    pub connected: bool,
    /// The collector holds every row up to here.
    pub delivered_seq: i64,
    /// The newest row in the log.
    pub head_seq: i64,
    pub last_error: Option<String>,
}

impl ForwardStatus {
    /// Rows committed but not yet known to be at the collector.
    pub fn lag(&self) -> i64 {
        (self.head_seq - self.delivered_seq).max(0)
    }
}

enum Conn {
    Tcp(tokio::net::TcpStream),
    Udp(tokio::net::UdpSocket),
    Unix(tokio::net::UnixDatagram, std::path::PathBuf),
}

impl Conn {
    async fn open(target: &SyslogTarget) -> std::io::Result<Self> {
        let timeout = |e| std::io::Error::new(std::io::ErrorKind::TimedOut, e);
        Ok(match target {
            SyslogTarget::Tcp(addr) => {
                let s = tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio::net::TcpStream::connect(addr.as_str()),
                )
                .await
                .map_err(|_| timeout("connecting timed out"))??;
                s.set_nodelay(true)?;
                Conn::Tcp(s)
            }
            SyslogTarget::Udp(addr) => {
                let bind = if addr.starts_with('[') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                };
                let s = tokio::net::UdpSocket::bind(bind).await?;
                s.connect(addr.as_str()).await?;
                Conn::Udp(s)
            }
            SyslogTarget::Unix(path) => {
                Conn::Unix(tokio::net::UnixDatagram::unbound()?, path.clone())
            }
        })
    }

    /// Whether a write proves nothing until the connection has stayed up a while.
    fn needs_confirmation(&self) -> bool {
        matches!(self, Conn::Tcp(_))
    }

    async fn send(&mut self, line: &str) -> std::io::Result<()> {
        match self {
            // RFC 6587 octet counting: no line in a row can split a frame.
            Conn::Tcp(s) => {
                let frame = format!("{} {line}", line.len());
                tokio::time::timeout(Duration::from_secs(10), s.write_all(frame.as_bytes()))
                    .await
                    .map_err(|_| {
                        std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the collector stopped reading",
                        )
                    })?
            }
            Conn::Udp(s) => s.send(line.as_bytes()).await.map(|_| ()),
            Conn::Unix(s, path) => s.send_to(line.as_bytes(), &*path).await.map(|_| ()),
        }
    }

    /// False once the peer has closed or reset a TCP connection.
    fn alive(&self) -> bool {
        match self {
            Conn::Tcp(s) => {
                let mut buf = [0u8; 256];
                loop {
                    match s.try_read(&mut buf) {
                        // A collector never speaks; whatever it sends is drained and ignored.
                        Ok(n) if n > 0 => continue,
                        Ok(_) => return false,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                        Err(_) => return false,
                    }
                }
            }
            _ => true,
        }
    }
}

/// Copies the audit log to one syslog target.
#[derive(Debug)]
pub struct Forwarder {
    store: Arc<dyn AuditStore>,
    clock: Arc<dyn Clock>,
    target: SyslogTarget,
    status: Mutex<ForwardStatus>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conn")
    }
}

/// The sending side's memory of rows written but not yet confirmed.
#[derive(Debug, Default)]
struct Flight {
    conn: Option<Conn>,
    /// The last row written on this connection.
    sent: i64,
    /// Rows written and when, oldest first.
    unconfirmed: VecDeque<(i64, Instant)>,
}

impl Forwarder {
    pub fn new(store: Arc<dyn AuditStore>, clock: Arc<dyn Clock>, target: SyslogTarget) -> Self {
        let status = ForwardStatus {
            target: target.name(),
            ..ForwardStatus::default()
        };
        Self {
            store,
            clock,
            target,
            status: Mutex::new(status),
        }
    }

    pub fn status(&self) -> ForwardStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut ForwardStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    fn drop_conn(&self, flight: &mut Flight, delivered: i64, why: String) {
        tracing::warn!(target = %self.target.name(), error = %why, "syslog collector lost; unconfirmed rows will be sent again");
        flight.conn = None;
        flight.sent = delivered;
        flight.unconfirmed.clear();
        self.update(|s| {
            s.connected = false;
            s.last_error = Some(why);
        });
    }

    /// One round: connect if needed, confirm what stayed up long enough, send what is new.
    /// Returns whether a full batch was sent (more may be waiting).
    async fn round(&self, flight: &mut Flight, delivered: &mut i64) -> Result<bool, StoreError> {
        if flight.conn.is_none() {
            match Conn::open(&self.target).await {
                Ok(c) => {
                    tracing::info!(target = %self.target.name(), from = *delivered + 1, "syslog collector connected");
                    flight.conn = Some(c);
                    flight.sent = *delivered;
                    flight.unconfirmed.clear();
                    self.update(|s| {
                        s.connected = true;
                        s.last_error = None;
                    });
                }
                Err(e) => {
                    self.update(|s| {
                        s.connected = false;
                        s.last_error = Some(e.to_string());
                    });
                    return Ok(false);
                }
            }
        }
        if flight.conn.as_ref().is_some_and(|c| !c.alive()) {
            self.drop_conn(
                flight,
                *delivered,
                "the collector closed the connection".into(),
            );
            return Ok(false);
        }
        let now = Instant::now();
        let mut confirmed = None;
        while let Some((seq, at)) = flight.unconfirmed.front().copied() {
            if now.duration_since(at) < CONFIRM_AFTER {
                break;
            }
            confirmed = Some(seq);
            flight.unconfirmed.pop_front();
        }
        if let Some(seq) = confirmed {
            self.store
                .set_delivered_seq(&self.target.name(), seq, self.clock.now())
                .await?;
            *delivered = seq;
            self.update(|s| s.delivered_seq = seq);
        }
        let rows = self
            .store
            .query_audit(&AuditQuery {
                after_seq: Some(flight.sent),
                limit: Some(BATCH),
                ..AuditQuery::default()
            })
            .await?;
        let mut last_datagram = None;
        for r in &rows {
            let Some(conn) = flight.conn.as_mut() else {
                break;
            };
            if let Err(e) = conn.send(&message(r)).await {
                self.drop_conn(flight, *delivered, e.to_string());
                return Ok(false);
            }
            flight.sent = r.seq;
            if conn.needs_confirmation() {
                flight.unconfirmed.push_back((r.seq, Instant::now()));
            } else {
                last_datagram = Some(r.seq);
            }
        }
        if let Some(seq) = last_datagram {
            self.store
                .set_delivered_seq(&self.target.name(), seq, self.clock.now())
                .await?;
            *delivered = seq;
            self.update(|s| s.delivered_seq = seq);
        }
        if let Some(last) = rows.last() {
            self.update(|s| s.head_seq = s.head_seq.max(last.seq));
        }
        Ok(rows.len() as u64 == BATCH)
    }

    /// Forward until the gateway stops: wake on every committed row, and every half second
    /// to confirm, to reconnect and to pick up rows other processes committed.
    pub fn spawn(
        self: Arc<Self>,
        mut head: tokio::sync::watch::Receiver<i64>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut delivered = match self.store.delivered_seq(&self.target.name()).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "reading the syslog delivery mark; starting from the first row");
                    0
                }
            };
            let newest = self.store.head_seq().await.unwrap_or(0);
            self.update(|s| {
                s.delivered_seq = delivered;
                s.head_seq = newest;
            });
            let mut flight = Flight::default();
            let mut backoff = Duration::from_millis(500);
            loop {
                let more = match self.round(&mut flight, &mut delivered).await {
                    Ok(more) => more,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the audit log for syslog");
                        false
                    }
                };
                let wait = if more {
                    Duration::ZERO
                } else if flight.conn.is_none() {
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    backoff
                } else {
                    backoff = Duration::from_millis(500);
                    Duration::from_millis(500)
                };
                tokio::select! {
                    _ = head.changed() => {
                        let h = *head.borrow_and_update();
                        self.update(|s| s.head_seq = s.head_seq.max(h));
                        // A new row does not hurry a reconnection that is backing off.
                        if flight.conn.is_none() {
                            tokio::time::sleep(wait).await;
                        }
                    }
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::FacilityId;
    use crate::audit::AuditEvent;
    use chrono::{TimeZone as _, Utc};

    #[test]
    fn a_row_becomes_one_rfc_5424_line_with_its_seq_and_hash() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 10, 28, 48).unwrap();
        let r = AuditRecord {
            seq: 42,
            event_id: uuid::Uuid::nil(),
            at,
            at_text: crate::clock::to_jst_string(at),
            event: AuditEvent::new(
                FacilityId("clinic\"]".into()),
                EventKind::BreakGlassUsed,
                Outcome::Success,
            )
            .detail("note", "line one\nline two"),
            prev_hash: "aa".into(),
            hash: "bb".into(),
        };
        let line = message(&r);
        // authpriv.crit = 10 * 8 + 2
        assert!(
            line.starts_with("<82>1 2026-12-06T10:28:48.000Z "),
            "{line}"
        );
        assert!(
            line.contains(" break_glass_used [sekimori@32473 seq=\"42\" hash=\"bb\" prev=\"aa\" kind=\"break_glass_used\" outcome=\"success\" facility=\"clinic\\\"\\]\"] \u{feff}{"),
            "{line}"
        );
        assert!(!line.contains('\n'));
        let json = line.split('\u{feff}').nth(1).unwrap();
        let back: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(back["seq"], 42);
        assert_eq!(back["detail"]["note"], "line one\nline two");
    }

    #[test]
    fn lag_is_never_negative() {
        let s = ForwardStatus {
            delivered_seq: 10,
            head_seq: 7,
            ..ForwardStatus::default()
        };
        assert_eq!(s.lag(), 0);
    }
}
