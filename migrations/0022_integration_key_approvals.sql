-- Admins mint integration keys but see no case data (issue 11): a key that writes case
-- data works only once a supervisor of every office it covers has approved it.  Keys
-- that exist already need the approval too.
CREATE TABLE integration_key_approvals (
    key_id       text        NOT NULL REFERENCES integration_keys (key_id),
    office       text        NOT NULL,
    approved_by  text        NOT NULL,
    approved_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, office)
);

-- Messages stored before this migration with no office although they named a case by id:
-- place them at that case's office when the key covers it.  The others keep office NULL,
-- which now means "readable only by a supervisor of every office of the key".
UPDATE integration_messages m
   SET case_id = c.case_id, office = c.office
  FROM cases c, integration_keys k
 WHERE m.office IS NULL AND k.key_id = m.key_id
   AND c.case_id = m.payload ->> 'case_id' AND c.office = ANY (k.offices);
