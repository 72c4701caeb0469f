//! Messages to the local syslog daemon: one RFC 5424 datagram on its Unix socket
//! (`/dev/log`). Used where something must reach the operators even if nobody reads the
//! audit log: a break-glass account was used. Best effort by nature: a missing daemon is
//! logged, and the caller's work goes on (the audit log has the row either way).

use std::path::Path;

use chrono::{DateTime, Utc};

/// Severities used here (RFC 5424 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Alert = 1,
    Critical = 2,
    Warning = 4,
    Notice = 5,
    Info = 6,
}

/// `authpriv` (RFC 5424 facility 10): security messages.
const AUTHPRIV: u8 = 10;

/// One RFC 5424 line: `<PRI>1 TIMESTAMP HOSTNAME APP PROCID MSGID - MSG`.
pub fn format(severity: Severity, msgid: &str, message: &str, at: DateTime<Utc>) -> String {
    let pri = u16::from(AUTHPRIV) * 8 + severity as u16;
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && h.is_ascii())
        .unwrap_or_else(|| "-".to_owned());
    // Control characters would split the line or confuse a collector.
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "<{pri}>1 {} {host} sekimori {} {msgid} - {clean}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        std::process::id()
    )
}

/// Send one message to the syslog socket at `socket`; `false` (and a log line) when it
/// cannot be delivered.
pub fn send(
    socket: &Path,
    severity: Severity,
    msgid: &str,
    message: &str,
    at: DateTime<Utc>,
) -> bool {
    let line = format(severity, msgid, message, at);
    let sent = std::os::unix::net::UnixDatagram::unbound()
        .and_then(|s| s.send_to(line.as_bytes(), socket).map(|_| ()));
    match sent {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(socket = %socket.display(), error = %e, msgid, "syslog message not delivered");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn lines_follow_rfc_5424_and_stay_on_one_line() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
        let l = format(Severity::Alert, "break_glass", "used by\nsomeone", at);
        assert!(l.starts_with("<81>1 2026-12-06T10:00:00.000Z "), "{l}");
        assert!(
            l.contains(" sekimori ") && l.ends_with("break_glass - used by someone"),
            "{l}"
        );
    }

    #[test]
    fn a_datagram_reaches_a_listening_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let server = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
        assert!(send(&path, Severity::Critical, "t", "hello", at));
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("t - hello"));
        assert!(!send(
            &dir.path().join("none"),
            Severity::Info,
            "t",
            "x",
            at
        ));
    }
}
