-- The login throttle, shared by every API process (issue 11): one row per login attempt
-- that has not succeeded, counted per client and account, per account and per client
-- over a sliding window.  A working table, not a record: rows older than the window are
-- purged, and the audit trail (audit_log) is where failed logins are kept.
CREATE TABLE login_failures (
    id        bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    client    text        NOT NULL,
    username  text        NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, at);
CREATE INDEX login_failures_client ON login_failures (client, at);
CREATE INDEX login_failures_at ON login_failures (at);
