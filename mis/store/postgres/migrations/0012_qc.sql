-- A device's own mark of its quality-control runs (a sample-ID prefix),
-- and QC results kept apart from patients' results.
ALTER TABLE devices ADD COLUMN qc_prefix TEXT NOT NULL DEFAULT '';
ALTER TABLE reports ADD COLUMN qc BOOLEAN NOT NULL DEFAULT FALSE;
