-- Orders from outside systems (HL7 ORM^O01, OML^O21): the placer and filler
-- numbers a LIS or HIS gave an order, each with the system that assigned
-- it. medgate keeps its own accession number; results and later messages
-- find the order by these too (lookups by value within an organization).
CREATE TABLE order_identifiers (
    org_id     INTEGER NOT NULL REFERENCES organizations (id),
    system     TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    request_id INTEGER NOT NULL REFERENCES service_requests (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, system, value)
);
CREATE INDEX order_identifiers_value ON order_identifiers (org_id, value);
CREATE INDEX order_identifiers_request ON order_identifiers (request_id);
