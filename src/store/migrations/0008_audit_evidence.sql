-- Evidence for auditors (G-22): signed checkpoints of the audit chain, and how far each
-- off-box copy (syslog target) has been delivered.

-- A checkpoint is the chain head (seq, hash) at a time, signed with the audit key, which is
-- kept outside the database. Append-only like the log itself; a copy of every checkpoint is
-- also appended to a file outside the database.
CREATE TABLE audit_checkpoints (
    seq       INTEGER PRIMARY KEY,
    hash      TEXT NOT NULL,
    at        TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;

-- The last row each syslog target is known to hold. Rows after it are sent again after a
-- reconnection: a collector may see a row twice, never miss one.
CREATE TABLE audit_forwarding (
    target        TEXT PRIMARY KEY NOT NULL,
    delivered_seq INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);
