-- The event store: every domain event of every case, in order, never changed.
CREATE TABLE case_events (
    case_id      text        NOT NULL,
    seq          integer     NOT NULL CHECK (seq > 0),
    event_id     uuid        NOT NULL UNIQUE,
    event_type   text        NOT NULL,
    actor_kind   text        NOT NULL,
    actor_id     text        NOT NULL,
    actor_role   text,
    occurred_at  timestamptz NOT NULL,
    payload      jsonb       NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, seq)
);

CREATE INDEX case_events_type_time ON case_events (event_type, occurred_at);

-- Append-only, enforced by the database and not only by the application.
CREATE FUNCTION itinera_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER case_events_append_only
    BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION itinera_forbid_change();

CREATE TRIGGER case_events_no_truncate
    BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION itinera_forbid_change();
