-- medgate schema, SQLite dialect. Times are UTC microseconds since the epoch,
-- dates are YYYY-MM-DD text; see mis/store/sqlstore. Tables whose rows are
-- deleted and made again (reprocessing replaces results) use AUTOINCREMENT,
-- so an id once given out — a FHIR resource id — never names another record.

CREATE TABLE organizations (
    id            INTEGER PRIMARY KEY,
    part_of       INTEGER REFERENCES organizations (id),
    name          TEXT    NOT NULL,
    inn           TEXT    NOT NULL DEFAULT '',
    ogrn          TEXT    NOT NULL DEFAULT '',
    uid_root      TEXT    NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1,
    patient_count INTEGER NOT NULL DEFAULT 0,
    created       INTEGER NOT NULL
);

CREATE TABLE counters (
    org_id INTEGER NOT NULL REFERENCES organizations (id),
    name   TEXT    NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (org_id, name)
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    login         TEXT    NOT NULL,
    login_key     TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created       INTEGER NOT NULL
);

CREATE TABLE memberships (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id  INTEGER NOT NULL REFERENCES organizations (id),
    roles   TEXT    NOT NULL,
    PRIMARY KEY (user_id, org_id)
);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL,
    address    TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE patients (
    id         INTEGER PRIMARY KEY,
    org_id     INTEGER NOT NULL REFERENCES organizations (id),
    family     TEXT    NOT NULL,
    given      TEXT    NOT NULL,
    patronymic TEXT    NOT NULL DEFAULT '',
    name_key   TEXT    NOT NULL,
    birth_date TEXT    NOT NULL,
    gender     TEXT    NOT NULL,
    snils      TEXT    NOT NULL DEFAULT '',
    enp        TEXT    NOT NULL DEFAULT '',
    phone      TEXT    NOT NULL DEFAULT '',
    address    TEXT    NOT NULL DEFAULT '',
    active     INTEGER NOT NULL DEFAULT 1,
    version    INTEGER NOT NULL,
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL
);
CREATE INDEX patients_name ON patients (org_id, name_key, id);
CREATE INDEX patients_birth_date ON patients (org_id, birth_date);

CREATE TABLE patient_identifiers (
    org_id     INTEGER NOT NULL,
    system     TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    patient_id INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, system, value)
);
CREATE INDEX patient_identifiers_patient ON patient_identifiers (patient_id);

CREATE TABLE service_requests (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL REFERENCES organizations (id),
    branch_id      INTEGER REFERENCES organizations (id),
    patient_id     INTEGER NOT NULL REFERENCES patients (id),
    category       TEXT    NOT NULL,
    accession      TEXT    NOT NULL,
    codes          TEXT    NOT NULL DEFAULT '[]',
    procedure_text TEXT    NOT NULL DEFAULT '',
    modality       TEXT    NOT NULL DEFAULT '',
    body_site      TEXT    NOT NULL DEFAULT '',
    priority       TEXT    NOT NULL,
    requester_id   INTEGER REFERENCES users (id),
    status         TEXT    NOT NULL,
    study_uid      TEXT    NOT NULL DEFAULT '',
    station_ae     TEXT    NOT NULL DEFAULT '',
    scheduled      INTEGER,
    note           TEXT    NOT NULL DEFAULT '',
    authored       INTEGER NOT NULL,
    updated        INTEGER NOT NULL,
    UNIQUE (org_id, accession)
);
CREATE INDEX service_requests_patient ON service_requests (patient_id, id);
CREATE INDEX service_requests_status ON service_requests (org_id, status, id);
CREATE UNIQUE INDEX service_requests_study_uid ON service_requests (study_uid) WHERE study_uid <> '';

CREATE TABLE specimens (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES organizations (id),
    patient_id   INTEGER NOT NULL REFERENCES patients (id),
    request_id   INTEGER NOT NULL REFERENCES service_requests (id),
    barcode      TEXT    NOT NULL,
    type_system  TEXT    NOT NULL DEFAULT '',
    type_code    TEXT    NOT NULL DEFAULT '',
    type_display TEXT    NOT NULL DEFAULT '',
    collected    INTEGER,
    status       TEXT    NOT NULL,
    UNIQUE (org_id, barcode)
);
CREATE INDEX specimens_request ON specimens (request_id);

CREATE TABLE reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       INTEGER NOT NULL REFERENCES organizations (id),
    patient_id   INTEGER REFERENCES patients (id),
    request_id   INTEGER REFERENCES service_requests (id),
    message_id   INTEGER,
    code_system  TEXT    NOT NULL DEFAULT '',
    code         TEXT    NOT NULL DEFAULT '',
    code_display TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL,
    effective    INTEGER NOT NULL,
    issued       INTEGER NOT NULL,
    conclusion   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX reports_patient ON reports (patient_id, effective);

CREATE TABLE observations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id            INTEGER NOT NULL REFERENCES organizations (id),
    patient_id        INTEGER REFERENCES patients (id),
    request_id        INTEGER REFERENCES service_requests (id),
    specimen_id       INTEGER REFERENCES specimens (id),
    report_id         INTEGER REFERENCES reports (id),
    device_id         INTEGER,
    message_id        INTEGER,
    code_system       TEXT    NOT NULL DEFAULT '',
    code              TEXT    NOT NULL,
    code_display      TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL,
    value_type        TEXT    NOT NULL,
    value_num         REAL,
    value_comparator  TEXT    NOT NULL DEFAULT '',
    value_text        TEXT    NOT NULL DEFAULT '',
    value_code_system TEXT    NOT NULL DEFAULT '',
    value_code        TEXT    NOT NULL DEFAULT '',
    value_display     TEXT    NOT NULL DEFAULT '',
    value_low         REAL,
    value_high        REAL,
    unit              TEXT    NOT NULL DEFAULT '',
    ref_low           REAL,
    ref_high          REAL,
    ref_text          TEXT    NOT NULL DEFAULT '',
    interpretation    TEXT    NOT NULL DEFAULT '',
    effective         INTEGER NOT NULL,
    issued            INTEGER NOT NULL,
    note              TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX observations_patient ON observations (patient_id, effective, id);
CREATE INDEX observations_report ON observations (report_id);

CREATE TABLE imaging_studies (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organizations (id),
    patient_id  INTEGER REFERENCES patients (id),
    request_id  INTEGER REFERENCES service_requests (id),
    study_uid   TEXT    NOT NULL,
    accession   TEXT    NOT NULL DEFAULT '',
    modalities  TEXT    NOT NULL DEFAULT '[]',
    description TEXT    NOT NULL DEFAULT '',
    started     INTEGER,
    status      TEXT    NOT NULL,
    n_series    INTEGER NOT NULL DEFAULT 0,
    n_instances INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL,
    UNIQUE (org_id, study_uid)
);
CREATE INDEX imaging_studies_patient ON imaging_studies (patient_id);

CREATE TABLE imaging_series (
    id          INTEGER PRIMARY KEY,
    study_id    INTEGER NOT NULL REFERENCES imaging_studies (id) ON DELETE CASCADE,
    uid         TEXT    NOT NULL,
    number      INTEGER NOT NULL DEFAULT 0,
    modality    TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    body_part   TEXT    NOT NULL DEFAULT '',
    n_instances INTEGER NOT NULL DEFAULT 0,
    UNIQUE (study_id, uid)
);

CREATE TABLE imaging_instances (
    id              INTEGER PRIMARY KEY,
    series_id       INTEGER NOT NULL REFERENCES imaging_series (id) ON DELETE CASCADE,
    sop_uid         TEXT    NOT NULL,
    sop_class       TEXT    NOT NULL DEFAULT '',
    number          INTEGER NOT NULL DEFAULT 0,
    transfer_syntax TEXT    NOT NULL DEFAULT '',
    size            INTEGER NOT NULL DEFAULT 0,
    sha256          TEXT    NOT NULL DEFAULT '',
    location        TEXT    NOT NULL DEFAULT '',
    UNIQUE (series_id, sop_uid)
);

CREATE TABLE devices (
    id                  INTEGER PRIMARY KEY,
    org_id              INTEGER NOT NULL REFERENCES organizations (id),
    name                TEXT    NOT NULL,
    protocol            TEXT    NOT NULL,
    ae_title            TEXT    NOT NULL DEFAULT '',
    addresses           TEXT    NOT NULL DEFAULT '[]',
    sending_application TEXT    NOT NULL DEFAULT '',
    sending_facility    TEXT    NOT NULL DEFAULT '',
    sender              TEXT    NOT NULL DEFAULT '',
    encoding            TEXT    NOT NULL DEFAULT '',
    code_map            TEXT    NOT NULL DEFAULT '',
    active              INTEGER NOT NULL DEFAULT 1,
    created             INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

-- Audit rows carry no foreign keys: the trail must outlive what it describes.
CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY,
    time          INTEGER NOT NULL,
    user_id       INTEGER,
    login         TEXT    NOT NULL DEFAULT '',
    action        TEXT    NOT NULL,
    event         TEXT    NOT NULL,
    org_id        INTEGER,
    patient_id    INTEGER,
    resource_type TEXT    NOT NULL DEFAULT '',
    resource_id   INTEGER,
    address       TEXT    NOT NULL DEFAULT '',
    outcome       INTEGER NOT NULL,
    detail        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_patient ON audit_events (patient_id, id);
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_org ON audit_events (org_id, id);
