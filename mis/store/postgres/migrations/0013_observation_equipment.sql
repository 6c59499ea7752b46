-- The instrument that produced a result, as the device names it (HL7
-- OBX-18: a module, or an analyzer behind a middleware).
ALTER TABLE observations ADD COLUMN equipment TEXT NOT NULL DEFAULT '';
