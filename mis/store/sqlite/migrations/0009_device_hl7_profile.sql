-- An HL7 device's profile: how it is acknowledged (for analyzers that
-- misuse MSH-15/16) and which parser tolerances it needs.
ALTER TABLE devices ADD COLUMN ack_mode TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN lenient TEXT NOT NULL DEFAULT '[]';
