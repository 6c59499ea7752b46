-- A report's presentedForm: the documents and images sent with its
-- results (HL7 OBX-2 ED), as a JSON array of attachments whose bytes are
-- in the blob store (key, size, SHA-256, content type, title).
ALTER TABLE reports ADD COLUMN presented_form TEXT NOT NULL DEFAULT '[]';
