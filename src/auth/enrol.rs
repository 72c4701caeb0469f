//! Enrolment inside a login flow: after `enrolment_required` (an account with no second
//! factor, where the policy asks for one), the flow id authorises enrolling a first TOTP
//! secret or WebAuthn key for that account only. The confirmed enrolment proves the new
//! factor, its methods join `amr`, and the policy is asked again, so the first session of an
//! administrator already has two factors.
//!
//! Only the password stands behind such an enrolment (trust on first use). That is why the
//! flow accepts accounts without any factor only, and why administrators should hand out
//! one-time passwords for first sign-ins (`user create` does).

use super::flow::{self, FlowRecord, FlowStep};
use super::{LoginOutcome, LoginService, Origin, factor_facts};
use crate::account::Account;
use crate::audit::{EventKind, Outcome};
use crate::crypto::SecretString;
use crate::error::Error;

impl LoginService {
    /// Take an enrolment flow: the record and its account.
    pub async fn take_enrolment(&self, flow_id: &str) -> Result<(FlowRecord, Account), Error> {
        let record = flow::take(self.state.as_ref(), flow_id, self.clock.now()).await?;
        let FlowStep::Enrol { .. } = &record.step else {
            return Err(Error::FlowInvalid);
        };
        let account = self.flow_account(&record).await?;
        if factor_facts(&self.stores, &self.config, &account)
            .await?
            .has_second_factor
        {
            // Enrolled meanwhile (another tab): sign in with it instead.
            return Err(Error::FlowInvalid);
        }
        Ok((record, account))
    }

    /// Put an enrolment flow back under a new id (after starting or failing a step).
    pub async fn reopen(&self, record: &FlowRecord) -> Result<SecretString, Error> {
        flow::begin(self.state.as_ref(), record, self.flow_ttl()).await
    }

    /// A factor was enrolled in the flow and proved `methods`: ask the policy again.
    pub async fn enrolled(
        &self,
        record: FlowRecord,
        account: &Account,
        methods: Vec<String>,
        origin: &Origin,
    ) -> Result<LoginOutcome, Error> {
        let now = self.clock.now();
        let amr = super::with_methods(record.amr.clone(), methods);
        self.auditor
            .record(
                self.event(
                    EventKind::LoginAttempt,
                    Outcome::Info,
                    account.username.as_str(),
                    origin,
                )
                .detail("step", "enrolment")
                .detail("result", "enrolled")
                .detail("amr", amr.clone()),
            )
            .await?;
        let system = self.system(&record.system).await?;
        let proof = super::decide::Proof::of_flow(&record, amr, "ok");
        self.decide(account, &system, proof, origin, now).await
    }
}
