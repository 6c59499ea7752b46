-- Ingest: stored inbound messages, device profiles in full, code maps and
-- the reconciliation queue.

ALTER TABLE devices ADD COLUMN branch_id INTEGER REFERENCES organizations (id);
ALTER TABLE devices ADD COLUMN transport TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN matching_policy TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN sends_results INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN queries_orders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN receives_orders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN updated INTEGER NOT NULL DEFAULT 0;
CREATE INDEX devices_ae_title ON devices (ae_title) WHERE ae_title <> '';
CREATE INDEX devices_sending_app ON devices (sending_application) WHERE sending_application <> '';
CREATE INDEX devices_sender ON devices (sender) WHERE sender <> '';

-- One row per inbound message. is_original marks the first copy of a
-- message; resends (same device and key, or same bytes) are rows of their
-- own that point at it, so the partial unique indexes below decide
-- "first or resend" atomically under concurrency. Their WHERE clauses are
-- repeated word for word by the duplicate lookups, so that both databases
-- can prove the partial index applies.
CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    org_id           INTEGER REFERENCES organizations (id),
    device_id        INTEGER REFERENCES devices (id),
    protocol         TEXT    NOT NULL,
    listener         TEXT    NOT NULL DEFAULT '',
    peer             TEXT    NOT NULL DEFAULT '',
    calling_ae       TEXT    NOT NULL DEFAULT '',
    called_ae        TEXT    NOT NULL DEFAULT '',
    sending_app      TEXT    NOT NULL DEFAULT '',
    sending_facility TEXT    NOT NULL DEFAULT '',
    sender           TEXT    NOT NULL DEFAULT '',
    msg_key          TEXT    NOT NULL DEFAULT '',
    msg_type         TEXT    NOT NULL DEFAULT '',
    received         INTEGER NOT NULL,
    size             INTEGER NOT NULL,
    sha256           TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    reason           TEXT    NOT NULL DEFAULT '',
    duplicate_of     INTEGER REFERENCES messages (id),
    is_original      INTEGER NOT NULL DEFAULT 1,
    attempts         INTEGER NOT NULL DEFAULT 0,
    updated          INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_device_key ON messages (device_id, msg_key) WHERE is_original AND msg_key <> '';
CREATE UNIQUE INDEX messages_device_sha ON messages (device_id, sha256) WHERE is_original;
CREATE INDEX messages_status ON messages (status, id);
CREATE INDEX messages_org ON messages (org_id, id);

-- Raw bytes apart from the row, so listing messages never reads them.
CREATE TABLE message_raw (
    message_id INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    raw        BLOB    NOT NULL
);

CREATE INDEX reports_message ON reports (message_id);

CREATE TABLE code_maps (
    id      INTEGER PRIMARY KEY,
    org_id  INTEGER NOT NULL REFERENCES organizations (id),
    name    TEXT    NOT NULL,
    entries TEXT    NOT NULL,
    version INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE recon_items (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     INTEGER REFERENCES organizations (id),
    message_id INTEGER NOT NULL REFERENCES messages (id),
    device_id  INTEGER REFERENCES devices (id),
    kind       TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    item_key   TEXT    NOT NULL DEFAULT '',
    report_id  INTEGER REFERENCES reports (id),
    study_id   INTEGER REFERENCES imaging_studies (id),
    candidates TEXT    NOT NULL DEFAULT '[]',
    status     TEXT    NOT NULL,
    patient_id INTEGER REFERENCES patients (id),
    request_id INTEGER REFERENCES service_requests (id),
    decided_by INTEGER REFERENCES users (id),
    decided    INTEGER,
    note       TEXT    NOT NULL DEFAULT '',
    created    INTEGER NOT NULL
);
CREATE INDEX recon_items_open ON recon_items (org_id, status, id);
CREATE INDEX recon_items_key ON recon_items (org_id, item_key, status);
CREATE INDEX recon_items_message ON recon_items (message_id);
