-- Accounts of the embedded default (production may verify OIDC tokens instead).
CREATE TABLE users (
    username       text        PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    full_name      text        NOT NULL DEFAULT '',
    password_hash  text        NOT NULL,
    role           text        NOT NULL CHECK (role IN ('caseworker', 'medical_officer', 'movement_officer', 'supervisor', 'admin')),
    offices        text[]      NOT NULL DEFAULT '{}',
    active         boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now()
);
