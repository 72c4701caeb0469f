-- Second factors live in `credentials` beside the password: a label the owner chose, the
-- last time the factor was used, and an id that is stable for the owner's listings.
ALTER TABLE credentials ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN last_used_at INTEGER;
CREATE INDEX credentials_account_kind ON credentials(account_id, kind);
