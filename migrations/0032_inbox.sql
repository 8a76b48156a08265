-- Issue 14: idempotency keys and the durable inbox of integration messages.
--
-- integration_messages becomes the inbox.  A message refused at intake (bad key scope,
-- invalid body, unknown case) is kept as before, 'rejected' with the HTTP status it was
-- answered with.  A message accepted at intake (answered 202) is 'pending' until the API's
-- delivery loop has applied it to its case ('applied') or the workflow refused it
-- ('rejected', with the workflow's code, message and details); a supervisor may send a
-- rejected one again (back to 'pending') or dismiss it with a reason ('dismissed').
-- Messages accepted before this migration were applied synchronously: 'applied'.
ALTER TABLE integration_messages DROP CONSTRAINT IF EXISTS integration_messages_status_check;
UPDATE integration_messages SET status = 'applied' WHERE status = 'accepted';
ALTER TABLE integration_messages ADD CONSTRAINT integration_messages_status_check
    CHECK (status IN ('pending', 'applied', 'rejected', 'dismissed'));
ALTER TABLE integration_messages
    ADD COLUMN idempotency_key  text,
    ADD COLUMN accepted         boolean     NOT NULL DEFAULT false,  -- answered 202: delivered by the inbox
    ADD COLUMN attempts         integer     NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at  timestamptz,
    ADD COLUMN lease_until      timestamptz,          -- a delivery is under way until then
    ADD COLUMN last_failure     jsonb,                -- the last transient failure (engine unavailable)
    ADD COLUMN held_reason      text,                 -- early: waiting for its task to open
    ADD COLUMN held_until       timestamptz,
    ADD COLUMN case_version_seen integer,             -- a held message is looked at again when its case changes
    ADD COLUMN task_id          text,                 -- the task it completes, once found (a new attempt sends it again)
    ADD COLUMN resolved_at      timestamptz,
    ADD COLUMN result           jsonb,                -- applied: the case's stage, status and version after it
    ADD COLUMN retried_by       text,
    ADD COLUMN retried_at       timestamptz,
    ADD COLUMN dismissed_by     text,
    ADD COLUMN dismissed_at     timestamptz,
    ADD COLUMN dismissed_reason text;
UPDATE integration_messages SET accepted = true, resolved_at = received_at WHERE status = 'applied';
CREATE INDEX integration_messages_due ON integration_messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX integration_messages_rejected ON integration_messages (office, id DESC) WHERE status = 'rejected';

-- Idempotency-Key (IETF draft "The Idempotency-Key HTTP Header Field"): per client (an
-- integration key, or a user), the request's fingerprint and, once answered, its answer.
-- A row without an answer is a request in progress until locked_until.  Purged after
-- ITINERA_IDEMPOTENCY_RETENTION_HOURS.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,  -- 'integration:<key id>' or 'user:<username>'
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,  -- SHA-256 of method, route and body
    created_at   timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    status_code  integer,
    response     jsonb,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO itinera_app;
