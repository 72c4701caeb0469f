//! The gateway over HTTPS: a blocking `ureq` agent with short connect and overall timeouts,
//! trusting only the configured CA file when there is one. Every failure is a sentence for
//! syslog; the caller denies.

use std::time::Duration;

use ureq::Agent;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::Gateway;
use crate::config::Config;

pub struct HttpGateway {
    agent: Agent,
    base: String,
    credential: zeroize::Zeroizing<String>,
}

impl HttpGateway {
    pub fn new(config: &Config) -> Result<Self, String> {
        let mut tls = TlsConfig::builder();
        if let Some(path) = &config.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
            let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(format!(
                    "ca_file {} holds no PEM certificate",
                    path.display()
                ));
            }
            tls = tls.root_certs(RootCerts::Specific(std::sync::Arc::new(certs)));
        }
        let agent = Agent::config_builder()
            .tls_config(tls.build())
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("pam_sekimori/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self {
            agent,
            base: config.gateway_url.clone(),
            credential: config.credential.clone(),
        })
    }
}

/// Say what went wrong in words an administrator can act on.
fn describe(e: &ureq::Error, url: &str) -> String {
    match e {
        // rustls reports a failed handshake (an unknown issuer, a wrong name, an expired
        // certificate) as invalid data on the stream.
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
            format!("TLS error talking to {url}: {io}")
        }
        ureq::Error::Io(io) => format!("gateway unreachable at {url}: {io}"),
        ureq::Error::ConnectionFailed => format!("gateway unreachable at {url}: connection failed"),
        ureq::Error::HostNotFound => format!("gateway unreachable: host of {url} not found"),
        ureq::Error::Timeout(t) => format!("gateway at {url} did not answer in time ({t})"),
        ureq::Error::Tls(t) => format!("TLS error talking to {url}: {t}"),
        ureq::Error::Rustls(t) => format!("TLS error talking to {url}: {t}"),
        other => format!("request to {url} failed: {other}"),
    }
}

impl Gateway for HttpGateway {
    fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(u16, serde_json::Value), String> {
        let url = format!("{}{path}", self.base);
        let bearer = zeroize::Zeroizing::new(format!("Bearer {}", self.credential.as_str()));
        let mut res = self
            .agent
            .post(&url)
            .header("Authorization", bearer.as_str())
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| describe(&e, &url))?;
        let status = res.status().as_u16();
        let text = res
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .map_err(|e| describe(&e, &url))?;
        let value = serde_json::from_str(&text)
            .map_err(|_| format!("the gateway at {url} answered {status} without JSON"))?;
        Ok((status, value))
    }

    // The module is synchronous (libpam calls it on the application's thread): sleeping is
    // the right way to wait here, unlike in the gateway.
    #[allow(clippy::disallowed_methods)]
    fn wait(&self, d: Duration) {
        std::thread::sleep(d);
    }
}
