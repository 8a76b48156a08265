-- Integration keys (UNHCR feed, clinic, embassy, airline, receiving partner): stored as
-- hashes, scoped to event types and offices, revocable and rotatable.
CREATE TABLE integration_keys (
    key_id       text        PRIMARY KEY,
    name         text        NOT NULL,
    secret_hash  text        NOT NULL,
    event_types  text[]      NOT NULL,
    offices      text[]      NOT NULL,
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    replaces     text REFERENCES integration_keys (key_id),
    last_used_at timestamptz
);

-- Every message an integration sends, accepted or rejected: nothing is silently dropped.
CREATE TABLE integration_messages (
    id           bigserial   PRIMARY KEY,
    key_id       text        NOT NULL REFERENCES integration_keys (key_id),
    received_at  timestamptz NOT NULL DEFAULT now(),
    event_type   text        NOT NULL,
    case_id      text,
    office       text,
    status       text        NOT NULL CHECK (status IN ('accepted', 'rejected')),
    http_status  integer     NOT NULL,
    error        jsonb,
    payload      jsonb       NOT NULL
);
CREATE INDEX integration_messages_office ON integration_messages (office, id DESC);
CREATE INDEX integration_messages_key ON integration_messages (key_id, id DESC);
