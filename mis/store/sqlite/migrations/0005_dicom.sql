-- DICOM: instances are kept in the blob store (messages.blob is the key;
-- message_raw holds no bytes for them), studies remember what the modality
-- said about the patient (for reconciliation and study-level C-FIND before
-- a person attaches them), and the worklist and the study stabilizer get
-- their indexes.
ALTER TABLE messages ADD COLUMN blob TEXT NOT NULL DEFAULT '';
ALTER TABLE imaging_studies ADD COLUMN src_patient_id TEXT NOT NULL DEFAULT '';
ALTER TABLE imaging_studies ADD COLUMN src_issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE imaging_studies ADD COLUMN src_patient_name TEXT NOT NULL DEFAULT '';
ALTER TABLE imaging_studies ADD COLUMN src_birth_date TEXT NOT NULL DEFAULT '';
ALTER TABLE imaging_studies ADD COLUMN src_sex TEXT NOT NULL DEFAULT '';
ALTER TABLE imaging_studies ADD COLUMN study_id TEXT NOT NULL DEFAULT '';
ALTER TABLE imaging_studies ADD COLUMN referring TEXT NOT NULL DEFAULT '';
CREATE INDEX imaging_studies_accession ON imaging_studies (org_id, accession);
CREATE INDEX imaging_studies_request ON imaging_studies (request_id, updated);
CREATE INDEX service_requests_worklist ON service_requests (org_id, category, status, scheduled);
-- The publisher purges delivered events by age.
CREATE INDEX outbox_events_sent ON outbox_events (sent) WHERE sent IS NOT NULL;
