-- Projections: the read model the API serves.  Rebuildable from case_events.

CREATE TABLE cases (
    case_id               text        PRIMARY KEY,
    external_referral_id  text        NOT NULL UNIQUE,
    referral_fingerprint  text        NOT NULL,
    programme             text        NOT NULL,
    office                text        NOT NULL,
    priority              text        NOT NULL,
    priority_rank         smallint    NOT NULL,
    destination_country   text,
    origin_country        text,
    stage                 text        NOT NULL,
    status                text        NOT NULL,
    closure_reason        text,
    principal_name        text        NOT NULL,
    member_count          integer     NOT NULL,
    referred_at           timestamptz NOT NULL,
    stage_entered_at      timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    closed_at             timestamptz,
    next_due_at           timestamptz,
    departure_at          timestamptz,
    departed_at           timestamptz,
    arrived_on            date,
    version               integer     NOT NULL,
    -- names of every member and the external id, for the list's text filter
    search                tsvector    NOT NULL
);

-- Keyset pagination: newest referral first, ties broken by case id.
CREATE INDEX cases_office_list ON cases (office, referred_at DESC, case_id DESC);
CREATE INDEX cases_list ON cases (referred_at DESC, case_id DESC);
CREATE INDEX cases_stage ON cases (stage, referred_at DESC, case_id DESC);
CREATE INDEX cases_search ON cases USING gin (search);

CREATE TABLE case_members (
    member_id              text    PRIMARY KEY,
    case_id                text    NOT NULL REFERENCES cases (case_id),
    position               integer NOT NULL,
    full_name              text    NOT NULL,
    date_of_birth          date    NOT NULL,
    sex                    text    NOT NULL,
    nationality            text    NOT NULL,
    relationship           text    NOT NULL,
    health_status          text    NOT NULL,
    clearance_valid_until  date,
    follow_up_needed       boolean NOT NULL DEFAULT false,
    orientation_status     text    NOT NULL,
    visa_status            text    NOT NULL,
    visa_valid_until       date
);
CREATE INDEX case_members_case ON case_members (case_id, position);

CREATE TABLE tasks (
    task_id        text        PRIMARY KEY,
    case_id        text        NOT NULL REFERENCES cases (case_id),
    task_type      text        NOT NULL,
    stage          text        NOT NULL,
    role           text        NOT NULL,
    member_id      text,
    office         text        NOT NULL,
    priority_rank  smallint    NOT NULL,
    status         text        NOT NULL,
    opened_at      timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    completed_at   timestamptz,
    completed_by   text
);
CREATE INDEX tasks_case ON tasks (case_id);
-- The inbox: open tasks of an office, most urgent first.
CREATE INDEX tasks_inbox ON tasks (office, priority_rank, due_at, task_id) WHERE status = 'open';
CREATE INDEX tasks_inbox_all ON tasks (priority_rank, due_at, task_id) WHERE status = 'open';

-- Who is working a task.  Work distribution, not case history: claims are kept apart
-- from the projection so that a projection rebuild never drops them.
CREATE TABLE task_claims (
    task_id     text        PRIMARY KEY,
    claimed_by  text        NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_claims_user ON task_claims (claimed_by);
