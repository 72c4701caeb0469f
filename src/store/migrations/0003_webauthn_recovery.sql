-- WebAuthn credentials are found by their credential id (passwordless sign-in names the
-- credential, not the account), and one credential id belongs to one account only.
-- The authenticator model (AAGUID) is kept for the listings and the attestation policy.
ALTER TABLE credentials ADD COLUMN credential_id TEXT;
ALTER TABLE credentials ADD COLUMN aaguid TEXT;
CREATE UNIQUE INDEX credentials_webauthn_id ON credentials(credential_id)
    WHERE credential_id IS NOT NULL;

-- Sign-ins without a second factor before enrolment became mandatory (the grace count).
CREATE TABLE enrolment_nudges (
    account_id  TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    count       INTEGER NOT NULL
);
