-- Outbound HL7 orders (mis/outbound sends them over MLLP). A row is written
-- in the transaction that creates, activates or cancels a lab order, one per
-- device set to receive orders; raw holds the message's bytes, built once
-- before the first attempt and sent unchanged on every retry with the same
-- MSH-10 (control_id). A row is sent only when an ACK whose MSA-2 equals
-- control_id has arrived.
CREATE TABLE outbound_messages (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES organizations (id),
    device_id     INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    request_id    INTEGER NOT NULL REFERENCES service_requests (id) ON DELETE CASCADE,
    order_control TEXT    NOT NULL,
    control_id    TEXT    NOT NULL UNIQUE,
    message_type  TEXT    NOT NULL,
    raw           BLOB,
    status        TEXT    NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  INTEGER NOT NULL,
    last_error    TEXT    NOT NULL DEFAULT '',
    created       INTEGER NOT NULL,
    acked_at      INTEGER,
    ack_code      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX outbound_messages_pending ON outbound_messages (device_id, id) WHERE status = 'pending';
CREATE INDEX outbound_messages_request ON outbound_messages (request_id);
