-- Indexes for the FHIR searches (mis/store/sqlstore/search.go). Observations
-- get none by organization: paging an organization walks the primary key, and
-- every index costs each of millions of inserts. Other searches
-- without a patient walk an organization's rows in id order, and based-on
-- and code searches look up by order and by code.

CREATE INDEX IF NOT EXISTS search_observations_code ON observations (code, id);
CREATE INDEX IF NOT EXISTS search_observations_request ON observations (request_id);
CREATE INDEX IF NOT EXISTS search_reports_org ON reports (org_id, id);
CREATE INDEX IF NOT EXISTS search_reports_request ON reports (request_id);
CREATE INDEX IF NOT EXISTS search_imaging_studies_org ON imaging_studies (org_id, id);
CREATE INDEX IF NOT EXISTS search_imaging_studies_request ON imaging_studies (request_id);
CREATE INDEX IF NOT EXISTS search_specimens_patient ON specimens (patient_id);
CREATE INDEX IF NOT EXISTS search_service_requests_org ON service_requests (org_id, id);
CREATE INDEX IF NOT EXISTS search_audit_events_time ON audit_events (org_id, time);
