-- Figures for supervisors (GET /api/v1/reports/..., api/reports.py): indexes for their plain
-- SQL over the read model.  Every report is scoped to the caller's offices, so each index
-- leads with the office.  Indexes only: the application role itinera_app needs no grant.

-- Cases by stage and programme now (an index-only scan per office).
CREATE INDEX cases_report_stage ON cases (office, programme, stage) INCLUDE (member_count);

-- Referrals, departures, arrivals and closures per week or month (index-only: people and
-- programme included), and the case list's matching date filters.
CREATE INDEX cases_report_referred ON cases (office, referred_at) INCLUDE (member_count, programme);
CREATE INDEX cases_report_departed ON cases (office, departed_at) INCLUDE (member_count, programme)
    WHERE departed_at IS NOT NULL;
CREATE INDEX cases_report_arrived ON cases (office, arrived_on) INCLUDE (member_count, programme)
    WHERE arrived_on IS NOT NULL;
CREATE INDEX cases_report_closed ON cases (office, closed_at) INCLUDE (member_count, programme)
    WHERE closed_at IS NOT NULL;

-- By destination and origin.
CREATE INDEX cases_report_destination ON cases (office, destination_country) INCLUDE (member_count, programme);
CREATE INDEX cases_report_origin ON cases (office, origin_country) INCLUDE (member_count, programme);

-- By nationality (every member), and the case list's nationality filter.
CREATE INDEX case_members_nationality ON case_members (nationality, case_id);

-- Median days per stage: a case's stage boundaries (StageEntered, CaseClosed) in order.
CREATE INDEX case_events_stage_marks ON case_events (case_id, seq) INCLUDE (occurred_at)
    WHERE event_type IN ('StageEntered', 'CaseClosed');

-- SLA compliance per stage and training completions per month: completed tasks by time.
CREATE INDEX tasks_report_completed ON tasks (office, completed_at) INCLUDE (stage, task_type, due_at, case_id)
    WHERE status = 'completed';
