-- Registered web terminals: a one-time enrolment link (hash and expiry) and the bound
-- browser's current and previous cookie secrets (hashes) with the time of the last rotation.
ALTER TABLE devices ADD COLUMN enrol_hash TEXT;
ALTER TABLE devices ADD COLUMN enrol_expires_at INTEGER;
ALTER TABLE devices ADD COLUMN browser_hash TEXT;
ALTER TABLE devices ADD COLUMN browser_prev_hash TEXT;
ALTER TABLE devices ADD COLUMN browser_rotated_at INTEGER;
