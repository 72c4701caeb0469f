-- The device register (機器台帳): terminals, servers and network devices, each with a device
-- credential stored only as the SHA-256 of a 256-bit random token.
CREATE TABLE devices (
    id                    TEXT PRIMARY KEY,
    facility_id           TEXT NOT NULL,
    name                  TEXT NOT NULL,
    kind                  TEXT NOT NULL,
    location              TEXT NOT NULL DEFAULT '',
    owner                 TEXT NOT NULL DEFAULT '',
    registered_by         TEXT NOT NULL,
    status                TEXT NOT NULL,
    credential_hash       TEXT NOT NULL,
    credential_rotated_at INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    last_seen_at          INTEGER
);
CREATE UNIQUE INDEX devices_name ON devices(facility_id, name);
