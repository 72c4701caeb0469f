-- Sekimori schema, version 1. Every account and audit row carries a facility (tenant) id.
-- Timestamps are milliseconds since the Unix epoch (UTC); the audit log also stores the
-- JST rendering it hashes.

CREATE TABLE facilities (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL
);

CREATE TABLE accounts (
    id                      TEXT PRIMARY KEY NOT NULL,
    facility_id             TEXT NOT NULL REFERENCES facilities(id),
    username                TEXT NOT NULL,
    login_name              TEXT NOT NULL,
    display_name            TEXT NOT NULL,
    kana_name               TEXT,
    email                   TEXT,
    account_type            TEXT NOT NULL CHECK (account_type IN ('staff','admin','vendor','emergency','service')),
    status                  TEXT NOT NULL CHECK (status IN ('active','disabled','must_change_password','compromised')),
    roles                   TEXT NOT NULL DEFAULT '[]',
    groups_json             TEXT NOT NULL DEFAULT '[]',
    person_id               TEXT NOT NULL,
    second_factor_required  INTEGER NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    last_login_at           INTEGER,
    password_set_at         INTEGER,
    UNIQUE (facility_id, username)
);
CREATE INDEX accounts_person ON accounts(person_id);

CREATE TABLE credentials (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX credentials_one_password ON credentials(account_id) WHERE kind = 'password';

CREATE TABLE password_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    person_id   TEXT NOT NULL,
    phc         TEXT NOT NULL,
    set_at      INTEGER NOT NULL
);
CREATE INDEX password_history_account ON password_history(account_id, id);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    facility_id TEXT NOT NULL,
    at          TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    actor       TEXT,
    subject     TEXT,
    ip          TEXT,
    device      TEXT,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at_ms);

-- Append-only: the application never updates or deletes audit rows. Someone with write
-- access to the file can drop these triggers, which `sekimori audit verify` then catches.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
