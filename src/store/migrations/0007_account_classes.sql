-- The account classes guideline 7.0 names (issue: vendor windows, emergency accounts,
-- fixed-term and dormant accounts).
-- Fixed-term accounts end at `expires_at` (disabled by the housekeeping task); `created_by`
-- names who made the account, for the yearly account review (棚卸し).
ALTER TABLE accounts ADD COLUMN expires_at INTEGER;
ALTER TABLE accounts ADD COLUMN created_by TEXT NOT NULL DEFAULT '';

-- Approved maintenance windows of vendor accounts: the only times a vendor account may sign
-- in to a system (a [systems.*] id, or `device:NAME` for a registered server).
CREATE TABLE maintenance_windows (
    id            TEXT PRIMARY KEY NOT NULL,
    facility_id   TEXT NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    system        TEXT NOT NULL,
    starts_at     INTEGER NOT NULL,
    ends_at       INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    approved_by   TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    -- `scheduled`, or closed early: `cancelled` (before it opened) or `ended`.
    state         TEXT NOT NULL CHECK (state IN ('scheduled', 'cancelled', 'ended')),
    closed_at     INTEGER,
    closed_by     TEXT,
    close_reason  TEXT,
    -- Whether its opening and closing are in the audit log yet.
    opened_logged INTEGER NOT NULL DEFAULT 0,
    closed_logged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX maintenance_windows_account ON maintenance_windows(account_id, ends_at);

-- Each use of an emergency (break-glass) account, until an administrator acknowledges it with
-- a reason: the consoles show a banner while any is open.
CREATE TABLE break_glass_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    facility_id      TEXT NOT NULL,
    account_id       TEXT,
    username         TEXT NOT NULL,
    at               INTEGER NOT NULL,
    channel          TEXT NOT NULL,
    device           TEXT,
    ip               TEXT,
    acknowledged_at  INTEGER,
    acknowledged_by  TEXT,
    ack_reason       TEXT
);
CREATE INDEX break_glass_open ON break_glass_events(facility_id, acknowledged_at);
