-- Tokens can be revoked (issue 11): the API checks the account on every request.
-- token_generation is written into every token the service issues; bumping it (deactivate,
-- password reset) makes every earlier token of the account invalid at once, and a later
-- reactivation does not bring them back.
ALTER TABLE users ADD COLUMN token_generation integer NOT NULL DEFAULT 0;

-- Single tokens revoked before they expire (logout, API and UI): the token's jti, or a
-- digest of the token for an OIDC token without one.  Rows are useless after expires_at
-- and are purged as new ones arrive.
CREATE TABLE revoked_tokens (
    token_id    text        PRIMARY KEY,
    username    text        NOT NULL,
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
