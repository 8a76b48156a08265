-- AVRR in the read model: consent, eligibility, escort and exit permission on the case;
-- the reintegration plan's items and the monitoring visits in tables of their own (one row
-- each, so an office can ask "which assistance is still to be delivered" or "average
-- reintegration score at 12 months").  All of it is rebuildable from case_events.
-- The columns are null (escort_required false) for resettlement cases.

ALTER TABLE cases ADD COLUMN consent_status text;            -- pending / given / reconfirmed / withdrawn
ALTER TABLE cases ADD COLUMN consent_given_on date;
ALTER TABLE cases ADD COLUMN consent_reconfirmed_on date;
ALTER TABLE cases ADD COLUMN eligibility text;               -- pending / eligible / not_eligible
ALTER TABLE cases ADD COLUMN escort_required boolean NOT NULL DEFAULT false;
ALTER TABLE cases ADD COLUMN escort_arranged boolean NOT NULL DEFAULT false;
ALTER TABLE cases ADD COLUMN exit_permission text;           -- pending / granted / refused
ALTER TABLE cases ADD COLUMN reintegration_plan_agreed_on date;

CREATE TABLE reintegration_items (
    case_id       text          NOT NULL REFERENCES cases (case_id),
    item_number   integer       NOT NULL CHECK (item_number > 0),
    kind          text          NOT NULL CHECK (kind IN ('economic', 'social', 'psychosocial')),
    description   text          NOT NULL,
    amount        numeric(14, 2),
    currency      text,
    delivered_on  date,
    PRIMARY KEY (case_id, item_number)
);
-- Assistance still to be delivered.
CREATE INDEX reintegration_items_undelivered ON reintegration_items (case_id) WHERE delivered_on IS NULL;

CREATE TABLE monitoring_visits (
    case_id               text         NOT NULL REFERENCES cases (case_id),
    visit_number          integer      NOT NULL CHECK (visit_number > 0),
    months_after_arrival  integer      NOT NULL,
    opens_at              timestamptz  NOT NULL,
    task_id               text,
    visited_on            date,
    reintegration_score   numeric(4, 3) CHECK (reintegration_score BETWEEN 0 AND 1),
    PRIMARY KEY (case_id, visit_number)
);
CREATE INDEX monitoring_visits_months ON monitoring_visits (months_after_arrival) WHERE visited_on IS NOT NULL;
