-- Stage stays: one row per time a case entered a stage (its StageEntered event), ended by the
-- next StageEntered or its CaseClosed.  Written by the projection with the events, in the same
-- transaction (store/projection.py), rebuilt with it, and compared by `itinera check`.
-- Why: the supervisors' "median days per stage" report read every StageEntered / CaseClosed
-- event of the office's cases through a window function: 1.1 s at 100,000 cases (bench
-- workload 7's reports phase).  The stays it needs are now rows, found by when they ended.
CREATE TABLE stage_stays (
    case_id     text        NOT NULL,
    seq         integer     NOT NULL,   -- the StageEntered event that began the stay
    stage       text        NOT NULL,
    entered_at  timestamptz NOT NULL,
    left_at     timestamptz,            -- null: the case is in this stage now
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX stage_stays_left_at ON stage_stays (left_at) INCLUDE (case_id, stage, entered_at)
    WHERE left_at IS NOT NULL;

INSERT INTO stage_stays (case_id, seq, stage, entered_at, left_at)
SELECT case_id, seq, stage, occurred_at, left_at
FROM (
    SELECT case_id, seq, event_type, payload->>'stage' AS stage, occurred_at,
           lead(occurred_at) OVER (PARTITION BY case_id ORDER BY seq) AS left_at
    FROM case_events
    WHERE event_type IN ('StageEntered', 'CaseClosed')
) marks
WHERE event_type = 'StageEntered';

GRANT SELECT, INSERT, UPDATE, DELETE ON stage_stays TO itinera_app;
