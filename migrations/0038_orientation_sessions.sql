-- Orientation as group sessions (issue 15): the read model of the OrientationSession
-- workflows.  The workflow is the source of truth; the record_orientation_session activity
-- writes a session's row and its participant rows in one transaction, only ever moving
-- forward (version).
CREATE TABLE orientation_sessions (
    session_id           text PRIMARY KEY,
    office               text NOT NULL,
    status               text NOT NULL,          -- scheduled / held / cancelled
    starts_at            timestamptz NOT NULL,
    time_zone            text NOT NULL,
    session_date         date NOT NULL,          -- the day in time_zone
    mode                 text NOT NULL,          -- in_person / online
    language             text NOT NULL,
    destination_country  text NOT NULL,
    capacity             integer NOT NULL,
    facilitator          text NOT NULL,
    participants         integer NOT NULL,
    attended             integer NOT NULL,
    absent               integer NOT NULL,
    version              integer NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    state                jsonb NOT NULL          -- the whole SessionState
);
CREATE INDEX orientation_sessions_office_start ON orientation_sessions (office, starts_at DESC);

-- One row per person a session holds or held.  on_session: still a participant (not removed);
-- attendance: null until recorded, then attended / absent.  A member is on one scheduled
-- session at a time (open).  The figures count attended rows per month (session_date),
-- destination and language.
CREATE TABLE orientation_participants (
    session_id      text NOT NULL REFERENCES orientation_sessions (session_id) ON DELETE CASCADE,
    member_id       text NOT NULL,
    case_id         text NOT NULL,
    on_session      boolean NOT NULL,
    open            boolean NOT NULL,
    reinvited       boolean NOT NULL,
    attendance      text,
    absence_reason  text,
    applied         boolean,                     -- what the case's workflow answered (attendees)
    PRIMARY KEY (session_id, member_id)
);
CREATE UNIQUE INDEX orientation_participants_one_open_session ON orientation_participants (member_id) WHERE open;
CREATE INDEX orientation_participants_member ON orientation_participants (member_id) WHERE attendance = 'absent';
CREATE INDEX orientation_participants_case ON orientation_participants (case_id);

-- The application role gets full DML on new tables through 0030's default privileges.
