-- Outbound webhooks (issue 14): subscribers receive stage changes and arrivals, signed
-- (HMAC-SHA256 over "<timestamp>.<body>"), retried with backoff, every attempt recorded.
--
-- The outbox row of an event is written by store.projection.record_case_events in the same
-- transaction as the event and the read model (only while some active subscription could
-- want it), so an event is delivered if and only if it was recorded.  A dispatcher
-- (webhook_dispatch.py, in every worker process; SKIP LOCKED, so several share the work)
-- fans each outbox row out to the matching subscriptions and delivers.

CREATE TABLE webhook_subscriptions (
    subscription_id       text PRIMARY KEY,
    url                   text NOT NULL,
    description           text,
    event_types           text[] NOT NULL,
    offices               text[] NOT NULL,
    include_health_data   boolean NOT NULL DEFAULT false,
    -- The signing key: kept as it is (it must sign), shown to the subscriber only when made.
    secret                text NOT NULL,
    -- After a rotation the old key signs too (a second v1 signature) until this time.
    previous_secret       text,
    previous_secret_until timestamptz,
    active                boolean NOT NULL DEFAULT true,
    created_by            text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    rotated_at            timestamptz,
    deactivated_at        timestamptz
);

CREATE TABLE webhook_outbox (
    outbox_id    bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,        -- the case event it reports (a retried recording adds nothing)
    case_id      text NOT NULL,
    office       text NOT NULL,
    event_type   text NOT NULL,               -- case.stage_changed, case.arrived, case.health_assessed
    payload      jsonb NOT NULL,              -- the body, health details under "health" (removed per subscription)
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    fanned_out   boolean NOT NULL DEFAULT false
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (outbox_id) WHERE NOT fanned_out;

CREATE TABLE webhook_deliveries (
    delivery_id      bigserial PRIMARY KEY,
    outbox_id        bigint NOT NULL REFERENCES webhook_outbox (outbox_id),
    subscription_id  text NOT NULL REFERENCES webhook_subscriptions (subscription_id),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    delivered_at     timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (outbox_id, subscription_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, delivery_id DESC);

-- Every attempt, append-only.
CREATE TABLE webhook_attempts (
    attempt_id    bigserial PRIMARY KEY,
    delivery_id   bigint NOT NULL REFERENCES webhook_deliveries (delivery_id),
    attempt       integer NOT NULL,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    status_code   integer,
    error         text,
    duration_ms   integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_subscriptions, webhook_outbox, webhook_deliveries TO itinera_app;
GRANT SELECT, INSERT ON webhook_attempts TO itinera_app;
REVOKE UPDATE, DELETE, TRUNCATE ON webhook_attempts FROM itinera_app;
GRANT USAGE, SELECT ON SEQUENCE webhook_outbox_outbox_id_seq, webhook_deliveries_delivery_id_seq,
    webhook_attempts_attempt_id_seq TO itinera_app;
