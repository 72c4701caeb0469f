//! Registered web terminals, the use cases: issue a one-time enrolment link, bind the browser
//! that opens it, recognise that browser's cookie on later requests, rotate its secret at
//! each sign-in, and revoke a binding whose old secret turns up again (a copied cookie). Each
//! change is audited; recognitions are cached for a few seconds so that the forward-auth path
//! does not read the register on every request.

use uuid::Uuid;

use super::service::DeviceRegister;
use super::terminal::{self, ENROLMENT_LINK_TTL, Presented, cookie_value, parse_cookie};
use super::{Device, DeviceKind, DeviceStatus};
use crate::audit::{EventKind, Outcome};
use crate::crypto::{SecretString, random_token};
use crate::error::Error;

fn unavailable() -> Error {
    Error::Refused {
        code: "factor_unavailable",
        message: "Terminal registration needs the gateway's factor key; start the gateway once.",
    }
}

fn link_invalid() -> Error {
    Error::Refused {
        code: "enrolment_link_invalid",
        message: "This enrolment link is unknown, used or expired; ask IT for a new one.",
    }
}

impl DeviceRegister {
    fn key(&self) -> Result<&[u8; 32], Error> {
        self.cookie_key.as_deref().ok_or_else(unavailable)
    }

    /// A one-time link that binds the browser opening it to terminal `name` (24 hours). A
    /// new link replaces an unused one; a browser already bound stays bound until it opens
    /// the new link.
    pub async fn enrolment_link(
        &self,
        name: &str,
        public_url: &str,
        actor: &str,
    ) -> Result<(Device, SecretString), Error> {
        let mut d = self.find(name).await?;
        if d.kind != DeviceKind::Terminal || d.status != DeviceStatus::Active {
            return Err(Error::Refused {
                code: "not_an_active_terminal",
                message: "Enrolment links are for active devices of kind terminal.",
            });
        }
        let now = self.clock.now();
        let token = random_token();
        d.terminal.enrol_hash = Some(terminal::secret_hash(&token));
        d.terminal.enrol_expires_at = Some(now + ENROLMENT_LINK_TTL);
        self.stores.devices.set_binding(d.id, &d.terminal).await?;
        self.auditor
            .record(
                self.event(EventKind::TerminalEnrolmentIssued, actor, &d)
                    .detail(
                        "expires_at",
                        crate::clock::to_jst_string(now + ENROLMENT_LINK_TTL),
                    ),
            )
            .await?;
        let url = format!(
            "{}/terminal/enrol?device={}&token={token}",
            public_url.trim_end_matches('/'),
            d.id
        );
        Ok((d, SecretString::new(url)))
    }

    /// The terminal an enrolment link names, if the link still works (for the confirmation
    /// page, which does not spend it).
    pub async fn enrolment_target(&self, device: &str, token: &str) -> Result<Device, Error> {
        let id = Uuid::parse_str(device).map_err(|_| link_invalid())?;
        let d = self
            .stores
            .devices
            .get_device(id)
            .await?
            .filter(|d| d.status == DeviceStatus::Active && d.facility_id == self.facility)
            .ok_or_else(link_invalid)?;
        if !d.terminal.enrolment_open(token, self.clock.now()) {
            return Err(link_invalid());
        }
        Ok(d)
    }

    /// Spend the link: this browser becomes the terminal's. The cookie value is returned.
    pub async fn bind(
        &self,
        device: &str,
        token: &str,
        ip: std::net::IpAddr,
    ) -> Result<(Device, SecretString), Error> {
        let key = *self.key()?;
        let mut d = self.enrolment_target(device, token).await?;
        let secret = random_token();
        d.terminal.bind(&secret, self.clock.now());
        self.stores.devices.set_binding(d.id, &d.terminal).await?;
        self.recognised.forget(d.id);
        let mut e = self.event(EventKind::TerminalBound, "terminal-enrolment", &d);
        e.ip = Some(ip.to_string());
        self.auditor.record(e).await?;
        Ok((
            d.clone(),
            SecretString::new(cookie_value(&key, d.id, &secret)),
        ))
    }

    /// The registered terminal a cookie belongs to, or None. An old secret after the grace is
    /// a copy: the binding is revoked and the event audited.
    pub async fn recognise(
        &self,
        cookie: &str,
        ip: std::net::IpAddr,
    ) -> Result<Option<String>, Error> {
        let Some(key) = self.cookie_key.as_deref() else {
            return Ok(None);
        };
        let Some((id, secret)) = parse_cookie(key, cookie) else {
            return Ok(None);
        };
        let now = self.clock.now();
        let cache_key = terminal::secret_hash(cookie);
        if let Some(name) = self.recognised.get(&cache_key, now) {
            return Ok(Some(name));
        }
        let Some(mut d) = self.stores.devices.get_device(id).await? else {
            return Ok(None);
        };
        if d.status != DeviceStatus::Active || d.kind != DeviceKind::Terminal {
            return Ok(None);
        }
        match d.terminal.presented(&secret, now) {
            Presented::Current | Presented::Previous => {
                self.seen(&mut d).await;
                self.recognised.put(cache_key, &d, now);
                Ok(Some(d.name))
            }
            Presented::Unknown => Ok(None),
            Presented::Reused => {
                d.terminal.revoke();
                self.stores.devices.set_binding(d.id, &d.terminal).await?;
                self.recognised.forget(d.id);
                let mut e = self
                    .event(EventKind::TerminalCookieReused, "system", &d)
                    .detail("action", "binding_revoked");
                e.outcome = Outcome::Denied;
                e.ip = Some(ip.to_string());
                self.auditor.record(e).await?;
                Ok(None)
            }
        }
    }

    /// A new secret for the terminal's browser after a sign-in from it; the new cookie value.
    pub async fn rotate_browser(&self, name: &str) -> Result<Option<SecretString>, Error> {
        let key = *self.key()?;
        let mut d = self.find(name).await?;
        if !d.terminal.is_bound() {
            return Ok(None);
        }
        let secret = random_token();
        d.terminal.rotate(&secret, self.clock.now());
        self.stores.devices.set_binding(d.id, &d.terminal).await?;
        self.recognised.forget(d.id);
        Ok(Some(SecretString::new(cookie_value(&key, d.id, &secret))))
    }
}

/// The `Set-Cookie` value for a terminal cookie.
pub fn set_cookie(value: &str, secure: bool) -> String {
    format!(
        "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{}",
        terminal::COOKIE,
        terminal::COOKIE_MAX_AGE_SECS,
        if secure { "; Secure" } else { "" }
    )
}
