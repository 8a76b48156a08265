-- Group movements (issue 13): the read model of the Movement workflows.  The workflow is
-- the source of truth; the record_movement activity writes a movement's row and its
-- manifest rows in one transaction, only ever moving forward (version).
CREATE TABLE movements (
    movement_id         text PRIMARY KEY,
    office              text NOT NULL,
    kind                text NOT NULL,
    status              text NOT NULL,
    flight_number       text NOT NULL,
    carrier             text NOT NULL,
    departure_airport   text NOT NULL,
    arrival_airport     text NOT NULL,
    departure_at        timestamptz NOT NULL,
    departure_time_zone text NOT NULL,
    seat_capacity       integer NOT NULL,
    seats_taken         integer NOT NULL,
    people              integer NOT NULL,
    cases               integer NOT NULL,
    version             integer NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    state               jsonb NOT NULL  -- the whole MovementState: details, manifest, fan-out results
);
CREATE INDEX movements_office_departure ON movements (office, departure_at DESC);

-- One row per case a manifest holds or held.  open: on the manifest of a movement that has
-- neither departed nor been cancelled; a case is on one open movement at a time.
CREATE TABLE movement_cases (
    movement_id     text NOT NULL REFERENCES movements (movement_id) ON DELETE CASCADE,
    case_id         text NOT NULL,
    on_manifest     boolean NOT NULL,
    open            boolean NOT NULL,
    people          integer NOT NULL,
    seats           integer NOT NULL,
    booking         text,      -- what the case's workflow answered to the lock's booking
    departure       text,      -- ... and to the departure or the cancellation
    removed_reason  text,
    PRIMARY KEY (movement_id, case_id)
);
CREATE UNIQUE INDEX movement_cases_one_open_movement ON movement_cases (case_id) WHERE open;

-- The application role gets full DML on new tables through 0030's default privileges.
