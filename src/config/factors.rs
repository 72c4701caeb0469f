//! The second-factor sections of the configuration: `[factors]` (the sealing key of TOTP
//! secrets and the enrolment nudges before 2027-04-01) and `[webauthn]` (relying party,
//! allowed origins, passwordless sign-in and the optional attestation allow-list). A relying
//! party that its own origins could not use is refused here, at start-up, not at the first
//! ceremony.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::Url;

use super::Problem;
use super::problem::problem;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawFactors {
    /// The AEAD key that seals TOTP secrets; defaults to `factor-seal.key` in the key dir.
    pub seal_key_file: Option<PathBuf>,
    /// Sign-ins without a second factor allowed before enrolment becomes part of the login.
    pub enrolment_grace_logins: u32,
}

impl Default for RawFactors {
    fn default() -> Self {
        Self {
            seal_key_file: None,
            enrolment_grace_logins: 10,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawWebauthn {
    /// Defaults to the host of `server.public_url`.
    pub rp_id: Option<String>,
    pub rp_name: Option<String>,
    /// Defaults to `[server.public_url]`.
    pub origins: Vec<String>,
    /// Passkeys (discoverable credentials with user verification) may sign in without a
    /// password: possession plus the PIN or biometric the authenticator verified.
    pub passwordless: Option<bool>,
    pub attestation: RawAttestation,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawAttestation {
    /// PEM file of the vendors' attestation root certificates.
    pub ca_file: Option<PathBuf>,
    /// Only these authenticator models (AAGUIDs) may be registered.
    pub allowed_aaguids: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FactorsConfig {
    pub seal_key_file: PathBuf,
    pub enrolment_grace_logins: u32,
}

#[derive(Debug, Clone)]
pub struct WebauthnConfig {
    pub rp_id: String,
    pub rp_name: String,
    pub origins: Vec<Url>,
    pub passwordless: bool,
    /// Attestation roots (PEM text) and the AAGUIDs allowed under them.
    pub attestation: Option<AttestationPolicy>,
}

#[derive(Debug, Clone)]
pub struct AttestationPolicy {
    pub ca_file: PathBuf,
    pub ca_pem: String,
    pub allowed_aaguids: Vec<uuid::Uuid>,
}

pub(super) fn factors(raw: &RawFactors, key_dir: &Path) -> FactorsConfig {
    FactorsConfig {
        seal_key_file: raw
            .seal_key_file
            .clone()
            .unwrap_or_else(|| key_dir.join("factor-seal.key")),
        enrolment_grace_logins: raw.enrolment_grace_logins,
    }
}

fn is_local(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

/// Is `host` the relying party id or one of its subdomains?
pub fn host_within_rp(host: &str, rp_id: &str) -> bool {
    host == rp_id
        || host
            .strip_suffix(rp_id)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

pub(super) fn webauthn(
    raw: &RawWebauthn,
    public_url: &str,
    problems: &mut Vec<Problem>,
) -> WebauthnConfig {
    let public = Url::parse(public_url).ok();
    let rp_id = match &raw.rp_id {
        Some(id) => id.trim().to_ascii_lowercase(),
        None => public
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default(),
    };
    if rp_id.is_empty() || rp_id.contains([':', '/']) || rp_id.parse::<std::net::IpAddr>().is_ok() {
        problems.push(problem(
            "webauthn.rp_id",
            format!("`{rp_id}` is not a domain name"),
            "use the gateway's domain, e.g. \"auth.clinic.example\" or \"clinic.example\" \
             (WebAuthn does not work on IP addresses)",
        ));
    }
    let texts: Vec<String> = if raw.origins.is_empty() {
        vec![public_url.trim_end_matches('/').to_owned()]
    } else {
        raw.origins.clone()
    };
    let mut origins = Vec::new();
    for text in &texts {
        let Ok(url) = Url::parse(text) else {
            problems.push(problem(
                "webauthn.origins",
                format!("`{text}` is not a URL"),
                "list origins as scheme://host[:port], e.g. \"https://auth.clinic.example\"",
            ));
            continue;
        };
        let host = url.host_str().unwrap_or_default().to_owned();
        if !host_within_rp(&host, &rp_id) {
            problems.push(problem(
                "webauthn.origins",
                format!("origin `{text}` is not within the relying party `{rp_id}`"),
                "an origin's host must be webauthn.rp_id or one of its subdomains; \
                 change rp_id or the origin",
            ));
        }
        if url.scheme() != "https" && !is_local(&host) {
            problems.push(problem(
                "webauthn.origins",
                format!("origin `{text}` is not https"),
                "browsers allow WebAuthn only on https (and on localhost for development)",
            ));
        }
        origins.push(url);
    }
    let attestation = attestation(&raw.attestation, problems);
    WebauthnConfig {
        rp_name: raw.rp_name.clone().unwrap_or_else(|| "Sekimori".into()),
        rp_id,
        origins,
        passwordless: raw.passwordless.unwrap_or(true),
        attestation,
    }
}

fn attestation(raw: &RawAttestation, problems: &mut Vec<Problem>) -> Option<AttestationPolicy> {
    let key = "webauthn.attestation";
    let mut aaguids = Vec::new();
    for text in &raw.allowed_aaguids {
        match uuid::Uuid::parse_str(text.trim()) {
            Ok(u) => aaguids.push(u),
            Err(_) => problems.push(problem(
                &format!("{key}.allowed_aaguids"),
                format!("`{text}` is not an AAGUID"),
                "write AAGUIDs as UUIDs, e.g. \"cb69481e-8ff7-4039-93ec-0a2729a154a8\"",
            )),
        }
    }
    match (
        &raw.ca_file,
        aaguids.is_empty() && raw.allowed_aaguids.is_empty(),
    ) {
        (None, true) => None,
        (None, false) => {
            problems.push(problem(
                &format!("{key}.ca_file"),
                "an AAGUID allow-list needs the vendors' attestation roots to check it against",
                "set ca_file to a PEM file of the attestation root certificates",
            ));
            None
        }
        (Some(path), true) => {
            problems.push(problem(
                &format!("{key}.allowed_aaguids"),
                format!("{} is set but no AAGUID is allowed", path.display()),
                "list the AAGUIDs of the security keys you issue, or remove ca_file",
            ));
            None
        }
        (Some(path), false) => match std::fs::read_to_string(path) {
            Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Some(AttestationPolicy {
                ca_file: path.clone(),
                ca_pem: pem,
                allowed_aaguids: aaguids,
            }),
            Ok(_) => {
                problems.push(problem(
                    &format!("{key}.ca_file"),
                    format!("{} holds no PEM certificate", path.display()),
                    "use the PEM roots your key vendor publishes",
                ));
                None
            }
            Err(e) => {
                problems.push(problem(
                    &format!("{key}.ca_file"),
                    format!("{} cannot be read: {e}", path.display()),
                    "check the path and its permissions",
                ));
                None
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &RawWebauthn, public: &str) -> (WebauthnConfig, Vec<Problem>) {
        let mut p = Vec::new();
        let c = webauthn(raw, public, &mut p);
        (c, p)
    }

    #[test]
    fn defaults_follow_the_public_url() {
        let (c, p) = check(&RawWebauthn::default(), "https://auth.clinic.example");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(c.rp_id, "auth.clinic.example");
        assert_eq!(c.origins[0].as_str(), "https://auth.clinic.example/");
        assert!(c.passwordless);
    }

    #[test]
    fn an_origin_outside_the_relying_party_is_refused() {
        let raw = RawWebauthn {
            rp_id: Some("clinic.example".into()),
            origins: vec![
                "https://auth.clinic.example".into(),
                "https://evilclinic.example".into(),
                "http://emr.clinic.example".into(),
            ],
            ..Default::default()
        };
        let (_, p) = check(&raw, "https://auth.clinic.example");
        let msgs: Vec<&str> = p.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(p.len(), 2, "{msgs:?}");
        assert!(msgs[0].contains("evilclinic.example"), "{msgs:?}");
        assert!(msgs[1].contains("not https"), "{msgs:?}");
    }

    #[test]
    fn ip_addresses_cannot_be_relying_parties() {
        let (_, p) = check(&RawWebauthn::default(), "https://10.0.0.5");
        assert!(p.iter().any(|p| p.key == "webauthn.rp_id"), "{p:?}");
    }

    #[test]
    fn an_allow_list_needs_its_roots() {
        let raw = RawWebauthn {
            attestation: RawAttestation {
                ca_file: None,
                allowed_aaguids: vec!["not-a-uuid".into(), uuid::Uuid::nil().to_string()],
            },
            ..Default::default()
        };
        let (_, p) = check(&raw, "http://localhost:8080");
        let keys: Vec<&str> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "webauthn.attestation.allowed_aaguids",
                "webauthn.attestation.ca_file"
            ]
        );
    }

    #[test]
    fn subdomains_are_within_but_lookalikes_are_not() {
        assert!(host_within_rp("clinic.example", "clinic.example"));
        assert!(host_within_rp("a.b.clinic.example", "clinic.example"));
        assert!(!host_within_rp("evilclinic.example", "clinic.example"));
        assert!(!host_within_rp("clinic.example.evil", "clinic.example"));
    }
}
