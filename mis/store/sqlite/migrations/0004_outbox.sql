-- Outbox of outbound events (mis/events publishes them to MQTT). Rows are
-- written in the transaction that makes their fact true and marked sent
-- once the broker acknowledged them; payload is JSON with ids only.
CREATE TABLE outbox_events (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER REFERENCES organizations (id),
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created    INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT    NOT NULL DEFAULT '',
    sent       INTEGER
);
CREATE INDEX outbox_events_unsent ON outbox_events (id) WHERE sent IS NULL;
