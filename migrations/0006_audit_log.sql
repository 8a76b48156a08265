-- Accountability: every read of a case's personal or health data and every change, who
-- did it, from where, and whether it was allowed.  Append-only, enforced here.
CREATE TABLE audit_log (
    id             bigserial   PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    actor_kind     text        NOT NULL,
    actor_id       text        NOT NULL,
    actor_role     text,
    actor_offices  text[]      NOT NULL DEFAULT '{}',
    action         text        NOT NULL,
    case_id        text,
    office         text,
    outcome        text        NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
    status         integer     NOT NULL,
    source_ip      text
);
CREATE INDEX audit_log_office ON audit_log (office, id DESC);
CREATE INDEX audit_log_case ON audit_log (case_id, id DESC);
CREATE INDEX audit_log_actor_offices ON audit_log USING gin (actor_offices);

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION itinera_forbid_change();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION itinera_forbid_change();
