-- Destination profiles (issue 15): which services each resettlement country asks of IOM.
-- Every change is a new version; versions are never updated or deleted, because a case follows
-- the version in force when it was referred (recorded in its CaseReferred event) and the
-- version it names must stay readable.  The current profile of a country is its latest version.
CREATE TABLE destination_profiles (
    country             text NOT NULL,
    version             integer NOT NULL CHECK (version >= 1),
    skipped_stages      text[] NOT NULL DEFAULT '{}',
    fit_to_travel_check boolean NOT NULL DEFAULT true,
    reason              text NOT NULL,
    changed_by          text NOT NULL,
    changed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (country, version)
);

GRANT SELECT, INSERT ON destination_profiles TO itinera_app;
REVOKE UPDATE, DELETE, TRUNCATE ON destination_profiles FROM itinera_app;

-- Defaults for the demo's destinations: every stage applies (IOM's full service), and one
-- destination that screens health itself, so a demo case shows a stage skipped.
INSERT INTO destination_profiles (country, version, skipped_stages, fit_to_travel_check, reason, changed_by)
SELECT c, 1, '{}', true, 'Default: case processing, health assessment, orientation and movement', 'migration'
FROM unnest(ARRAY['NO', 'SE', 'CA', 'DE', 'FI', 'NL', 'US', 'GB', 'AU', 'FR']) AS c;
INSERT INTO destination_profiles (country, version, skipped_stages, fit_to_travel_check, reason, changed_by)
VALUES ('IE', 1, '{health}', true, 'Demo profile: this destination screens health itself on arrival', 'migration');
