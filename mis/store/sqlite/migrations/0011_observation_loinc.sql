-- An observation's LOINC code beside the clinic's own code (a code-map
-- entry with both code and loinc): FHIR Observation.code's second coding,
-- which code searches match like the first. NULL when there is none — when
-- the code is LOINC itself, or no LOINC code is known.
--
-- No index on it: an index costs every observation insert, and the ingest
-- writes millions. observation_loinc instead lists which own codes have
-- carried which LOINC code beside them, and a search by a LOINC code
-- reaches the observations that carry it as a second coding through their
-- own codes, on search_observations_code (mis/store/sqlstore/search.go).
-- The store records a report's pairs with its observations, one statement
-- and only when one has a LOINC code beside; a pair already known is a
-- lookup, not a write. Pairs are never removed: one whose observations are
-- gone only widens that lookup.
ALTER TABLE observations ADD COLUMN loinc TEXT;

CREATE TABLE observation_loinc (
    loinc TEXT NOT NULL,
    code  TEXT NOT NULL,
    PRIMARY KEY (loinc, code)
);
