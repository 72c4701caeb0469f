//! RFC 5424 syslog lines, and one datagram to the local syslog daemon's Unix socket
//! (`/dev/log`). The datagram is used where something must reach the operators even if
//! nobody reads the audit log (a break-glass account was used); best effort by nature: a
//! missing daemon is logged, and the caller's work goes on. The off-box copy of every audit
//! row (`audit::forward`) builds its lines here too.

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

/// This host's name for the HOSTNAME field (`-` when unknown), read once.
fn hostname() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|h| h.trim().to_owned())
            .find(|h| !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| "-".to_owned())
    })
}

/// An SD-PARAM value with `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
pub fn sd_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// One RFC 5424 line: `<PRI>1 TIMESTAMP HOSTNAME APP PROCID MSGID - MSG`.
pub fn format(severity: Severity, msgid: &str, message: &str, at: DateTime<Utc>) -> String {
    format_with(severity, msgid, "-", message, at)
}

/// The same with STRUCTURED-DATA (`-` for none).
pub fn format_with(
    severity: Severity,
    msgid: &str,
    structured: &str,
    message: &str,
    at: DateTime<Utc>,
) -> String {
    let pri = u16::from(AUTHPRIV) * 8 + severity as u16;
    // Control characters would split the line or confuse a collector.
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "<{pri}>1 {} {} sekimori {} {msgid} {structured} {clean}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        hostname(),
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
