//! WebAuthn ceremonies with the stores: registration of security keys and passkeys,
//! assertion as a second factor and passwordless sign-in with passkeys.
//!
//! Ceremony state never leaves the server: a registration waits in the state store under the
//! hash of a random id (5 minutes, taken on first use); an assertion's state travels inside
//! the login flow record, which is taken on first use as well. Stored credentials are sealed
//! with the factor key, so whoever can write the database still cannot plant a key of their
//! own. A credential id belongs to one account only.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{
    AttestationCaList, AttestationCaListBuilder, Credential, DiscoverableAuthentication, Passkey,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, SecurityKey,
    SecurityKeyAuthentication, SecurityKeyRegistration, Webauthn, WebauthnBuilder,
};

use super::{CredentialKind, Refusal, aaguid_of, amr_of, fake_credential_ids, refusal_of};
use crate::account::{Account, AccountId};
use crate::config::WebauthnConfig;
use crate::crypto::seal_ring::SealRing;
use crate::crypto::{SecretString, random_token};
use crate::error::Error;
use crate::state::{StateKey, StateStore};
use crate::store::{StoreError, Stores};

/// How long a registration waits for the authenticator.
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);
pub const FACTOR_KIND: &str = "webauthn";

#[derive(Debug, Serialize, Deserialize)]
struct PendingRegistration {
    account_id: String,
    kind: CredentialKind,
    state: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredCredential {
    kind: CredentialKind,
    aaguid: Option<uuid::Uuid>,
    credential: Credential,
}

/// A registration ready for the browser.
#[derive(Debug)]
pub struct RegistrationStart {
    pub id: SecretString,
    /// `PublicKeyCredentialCreationOptions` as `navigator.credentials.create` takes them.
    pub options: Value,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub factor_id: i64,
    pub kind: CredentialKind,
    pub aaguid: Option<uuid::Uuid>,
    pub user_verified: bool,
}

/// Which assertion a flow waits for; kept inside the flow record (server side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum AssertionState {
    /// After a password: any of the account's keys, user verification preferred.
    SecondFactor { state: Value },
    /// Without a password: a passkey with user verification required.
    Passwordless { state: Value },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub account_id: AccountId,
    pub factor_id: i64,
    pub amr: Vec<String>,
    pub user_verified: bool,
}

#[derive(Debug, Clone)]
pub struct WebauthnService {
    webauthn: Arc<Webauthn>,
    ca_list: Option<AttestationCaList>,
    stores: Stores,
    state: Arc<dyn StateStore>,
    seal: SealRing,
    fake_key: [u8; 32],
    passwordless: bool,
}

fn owner(account: &AccountId) -> String {
    crate::crypto::seal_ring::owner(account.0, "webauthn")
}

fn json_err(e: serde_json::Error) -> Error {
    Error::Invalid(format!("webauthn state: {e}"))
}

pub fn credential_id_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

impl WebauthnService {
    pub fn new(
        config: &WebauthnConfig,
        stores: Stores,
        state: Arc<dyn StateStore>,
        seal: SealRing,
    ) -> Result<Self, Error> {
        let first = config
            .origins
            .first()
            .ok_or_else(|| Error::Config("webauthn.origins is empty".into()))?;
        let mut builder = WebauthnBuilder::new(&config.rp_id, first)
            .map_err(|e| Error::Config(format!("webauthn relying party: {e:?}")))?
            .rp_name(&config.rp_name)
            .timeout(CEREMONY_TTL);
        for o in config.origins.iter().skip(1) {
            builder = builder.append_allowed_origin(o);
        }
        let webauthn = builder
            .build()
            .map_err(|e| Error::Config(format!("webauthn relying party: {e:?}")))?;
        let ca_list = match &config.attestation {
            None => None,
            Some(p) => {
                let mut b = AttestationCaListBuilder::new();
                for pem in pem_blocks(&p.ca_pem) {
                    for aaguid in &p.allowed_aaguids {
                        b.insert_device_pem(
                            pem.as_bytes(),
                            *aaguid,
                            aaguid.to_string(),
                            Default::default(),
                        )
                        .map_err(|e| {
                            Error::Config(format!(
                                "webauthn.attestation.ca_file {}: {e}",
                                p.ca_file.display()
                            ))
                        })?;
                    }
                }
                Some(b.build())
            }
        };
        let fake_key = seal.derive("webauthn-fake-credentials");
        Ok(Self {
            webauthn: Arc::new(webauthn),
            ca_list,
            stores,
            state,
            seal,
            fake_key,
            passwordless: config.passwordless,
        })
    }

    pub fn passwordless_allowed(&self) -> bool {
        self.passwordless
    }

    async fn stored(&self, account: AccountId) -> Result<Vec<(i64, StoredCredential)>, Error> {
        let rows = self
            .stores
            .factors
            .factor_secrets(account, FACTOR_KIND)
            .await?;
        rows.into_iter()
            .map(|(id, sealed)| {
                let plain = self.seal.open(&sealed, &owner(&account)).map_err(|e| {
                    Error::Config(format!(
                        "stored WebAuthn credential {id} does not open: {e}"
                    ))
                })?;
                let c: StoredCredential =
                    serde_json::from_slice(plain.expose()).map_err(json_err)?;
                Ok((id, c))
            })
            .collect()
    }

    fn seal_credential(&self, account: AccountId, c: &StoredCredential) -> Result<Vec<u8>, Error> {
        let bytes = serde_json::to_vec(c).map_err(json_err)?;
        self.seal
            .seal(&bytes, &owner(&account))
            .map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Start registering a key for `account`; its existing keys are excluded.
    pub async fn begin_registration(
        &self,
        account: &Account,
        kind: CredentialKind,
        now: DateTime<Utc>,
    ) -> Result<RegistrationStart, Error> {
        let exclude: Vec<_> = self
            .stored(account.id)
            .await?
            .into_iter()
            .map(|(_, c)| c.credential.cred_id.clone())
            .collect();
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let display = if account.display_name.is_empty() {
            account.username.as_str()
        } else {
            account.display_name.as_str()
        };
        let user = account.id.0;
        let name = account.username.as_str();
        let (mut options, state) = match kind {
            CredentialKind::SecurityKey => {
                let (ccr, s) = self
                    .webauthn
                    .start_securitykey_registration(
                        user,
                        name,
                        display,
                        exclude,
                        self.ca_list.clone(),
                        None,
                    )
                    .map_err(|e| Error::Invalid(format!("webauthn: {e:?}")))?;
                (to_json(&ccr)?, to_json::<SecurityKeyRegistration>(&s)?)
            }
            CredentialKind::Passkey => {
                let (ccr, s) = self
                    .webauthn
                    .start_passkey_registration(user, name, display, exclude)
                    .map_err(|e| Error::Invalid(format!("webauthn: {e:?}")))?;
                (to_json(&ccr)?, to_json::<PasskeyRegistration>(&s)?)
            }
        };
        if kind == CredentialKind::SecurityKey
            && let Some(ext) = options["publicKey"]["extensions"].as_object_mut()
        {
            // Chrome refuses a credProtect policy on a non-discoverable credential
            // ("protection policy is inconsistent"); the key's own UV setting applies.
            ext.remove("credentialProtectionPolicy");
            ext.remove("enforceCredentialProtectionPolicy");
        }
        if kind == CredentialKind::Passkey {
            // Discoverable, so that it can sign in without a username or password.
            let sel = &mut options["publicKey"]["authenticatorSelection"];
            sel["residentKey"] = Value::from("required");
            sel["requireResidentKey"] = Value::from(true);
        }
        let id = random_token();
        let pending = PendingRegistration {
            account_id: account.id.to_string(),
            kind,
            state,
        };
        let bytes = serde_json::to_vec(&pending).map_err(json_err)?;
        self.state
            .put(&StateKey::webauthn_registration(&id), &bytes, CEREMONY_TTL)
            .await?;
        Ok(RegistrationStart {
            id: SecretString::new(id),
            options,
            expires_at: now + chrono::Duration::from_std(CEREMONY_TTL).unwrap_or_default(),
        })
    }

    /// Finish a registration: the challenge state is taken (single use) whatever happens.
    pub async fn finish_registration(
        &self,
        account: &Account,
        registration_id: &str,
        credential: &RegisterPublicKeyCredential,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<Registered, Refusal>, Error> {
        if !crate::crypto::is_token(registration_id) {
            return Err(Error::FlowInvalid);
        }
        let bytes = self
            .state
            .take(&StateKey::webauthn_registration(registration_id))
            .await?
            .ok_or(Error::FlowInvalid)?;
        let pending: PendingRegistration =
            serde_json::from_slice(&bytes).map_err(|_| Error::FlowInvalid)?;
        if pending.account_id != account.id.to_string() {
            return Err(Error::FlowInvalid);
        }
        let result = match pending.kind {
            CredentialKind::SecurityKey => {
                let s: SecurityKeyRegistration =
                    serde_json::from_value(pending.state).map_err(json_err)?;
                self.webauthn
                    .finish_securitykey_registration(credential, &s)
                    .map(Credential::from)
            }
            CredentialKind::Passkey => {
                let s: PasskeyRegistration =
                    serde_json::from_value(pending.state).map_err(json_err)?;
                self.webauthn
                    .finish_passkey_registration(credential, &s)
                    .map(Credential::from)
            }
        };
        let cred = match result {
            Ok(c) => c,
            Err(e) => return Ok(Err(refusal_of(&e))),
        };
        let cred_id = credential_id_text(&cred.cred_id);
        let stored = StoredCredential {
            kind: pending.kind,
            aaguid: aaguid_of(&credential.response.attestation_object),
            credential: cred,
        };
        let sealed = self.seal_credential(account.id, &stored)?;
        let added = self
            .stores
            .factors
            .add_webauthn_factor(
                account.id,
                label,
                &sealed,
                &cred_id,
                stored.aaguid.map(|u| u.to_string()).as_deref(),
                now,
            )
            .await;
        match added {
            Ok(factor_id) => Ok(Ok(Registered {
                factor_id,
                kind: stored.kind,
                aaguid: stored.aaguid,
                user_verified: stored.credential.user_verified,
            })),
            Err(StoreError::Conflict(_)) => Ok(Err(Refusal::new(
                "credential_already_registered",
                "the credential id is registered already",
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Options for the second-factor step; None when the account has no key.
    pub async fn begin_second_factor(
        &self,
        account: AccountId,
    ) -> Result<Option<(Value, AssertionState)>, Error> {
        let keys: Vec<SecurityKey> = self
            .stored(account)
            .await?
            .into_iter()
            .map(|(_, c)| SecurityKey::from(c.credential))
            .collect();
        if keys.is_empty() {
            return Ok(None);
        }
        let (rcr, s) = self
            .webauthn
            .start_securitykey_authentication(&keys)
            .map_err(|e| Error::Invalid(format!("webauthn: {e:?}")))?;
        Ok(Some((
            to_json(&rcr)?,
            AssertionState::SecondFactor {
                state: to_json::<SecurityKeyAuthentication>(&s)?,
            },
        )))
    }

    /// Options for a passwordless sign-in. With a username, the account's credential ids are
    /// listed (fake ones, stable per name, for a name without credentials); without one, the
    /// browser offers its discoverable passkeys.
    pub async fn begin_passwordless(
        &self,
        username: Option<&str>,
        account: Option<AccountId>,
    ) -> Result<(Value, AssertionState), Error> {
        let (mut rcr, s) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| Error::Invalid(format!("webauthn: {e:?}")))?;
        // A modal "sign in with a passkey" button, not the autofill variant.
        rcr.mediation = None;
        let mut options = to_json(&rcr)?;
        if let Some(name) = username {
            let ids: Vec<Vec<u8>> = match account {
                Some(a) => self
                    .stored(a)
                    .await?
                    .into_iter()
                    .map(|(_, c)| c.credential.cred_id.clone())
                    .collect(),
                None => Vec::new(),
            };
            let ids = if ids.is_empty() {
                fake_credential_ids(&self.fake_key, name)
            } else {
                ids
            };
            options["publicKey"]["allowCredentials"] = ids
                .iter()
                .map(|id| serde_json::json!({ "type": "public-key", "id": credential_id_text(id) }))
                .collect();
        }
        Ok((
            options,
            AssertionState::Passwordless {
                state: to_json::<DiscoverableAuthentication>(&s)?,
            },
        ))
    }

    /// Check an assertion. `account` is the account the flow is about (always known after a
    /// password; for passwordless, the one named by a username, if any).
    pub async fn finish_assertion(
        &self,
        ceremony: &AssertionState,
        account: Option<AccountId>,
        credential: &PublicKeyCredential,
    ) -> Result<Result<Verified, Refusal>, Error> {
        let cred_id = credential_id_text(credential.get_credential_id());
        let handle = credential
            .get_user_unique_id()
            .and_then(|b| uuid::Uuid::from_slice(b).ok())
            .map(AccountId);
        let claimed = match (account, handle) {
            (Some(a), Some(h)) if a != h => {
                return Ok(Err(Refusal::new(
                    "credential_account_mismatch",
                    format!("user handle {h} answered for account {a}"),
                )));
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => {
                return Ok(Err(Refusal::new(
                    "unknown_credential",
                    "no user handle and no username",
                )));
            }
        };
        let owner_of = self.stores.factors.webauthn_owner(&cred_id).await?;
        match owner_of {
            None => {
                return Ok(Err(Refusal::new(
                    "unknown_credential",
                    format!("credential {cred_id} is not registered"),
                )));
            }
            Some((_, o)) if o != claimed => {
                return Ok(Err(Refusal::new(
                    "credential_account_mismatch",
                    format!("credential {cred_id} belongs to another account"),
                )));
            }
            Some(_) => {}
        }
        let stored = self.stored(claimed).await?;
        let Some((factor_id, mut entry)) = stored
            .into_iter()
            .find(|(_, c)| credential_id_text(&c.credential.cred_id) == cred_id)
        else {
            return Ok(Err(Refusal::new(
                "unknown_credential",
                "not in the account",
            )));
        };
        let result = match ceremony {
            AssertionState::SecondFactor { state } => {
                let s: SecurityKeyAuthentication =
                    serde_json::from_value(state.clone()).map_err(json_err)?;
                self.webauthn
                    .finish_securitykey_authentication(credential, &s)
            }
            AssertionState::Passwordless { state } => {
                if !self.passwordless {
                    return Ok(Err(Refusal::new(
                        "passwordless_disabled",
                        "webauthn.passwordless is false",
                    )));
                }
                let s: DiscoverableAuthentication =
                    serde_json::from_value(state.clone()).map_err(json_err)?;
                self.webauthn.finish_discoverable_authentication_v2(
                    credential,
                    s,
                    &entry.credential,
                )
            }
        };
        let res = match result {
            Ok(r) => r,
            Err(e) => return Ok(Err(refusal_of(&e))),
        };
        if res.needs_update() {
            let mut pk = Passkey::from(entry.credential.clone());
            pk.update_credential(&res);
            entry.credential = Credential::from(pk);
            let sealed = self.seal_credential(claimed, &entry)?;
            self.stores
                .factors
                .update_factor_secret(factor_id, &sealed)
                .await?;
        }
        Ok(Ok(Verified {
            account_id: claimed,
            factor_id,
            amr: amr_of(res.backup_eligible(), res.user_verified()),
            user_verified: res.user_verified(),
        }))
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(json_err)
}

/// The certificates of a PEM bundle, one block each.
fn pem_blocks(text: &str) -> Vec<String> {
    const END: &str = "-----END CERTIFICATE-----";
    text.split_inclusive(END)
        .filter_map(|chunk| {
            let start = chunk.find("-----BEGIN CERTIFICATE-----")?;
            chunk.ends_with(END).then(|| chunk[start..].to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::pem_blocks;

    #[test]
    fn a_bundle_splits_into_its_certificates() {
        let one = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
        let text = format!("# vendor A\n{one}\n\n# vendor B\n{one}\ntrailing");
        assert_eq!(pem_blocks(&text), vec![one.to_owned(), one.to_owned()]);
        assert!(pem_blocks("nothing").is_empty());
    }
}
