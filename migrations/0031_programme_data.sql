-- Programme-only data in one JSONB column: a programme (domain/programmes/<name>/) adds no
-- columns or tables of its own.  Each programme documents its keys (its read_model_data);
-- AVRR's: consent_status, consent_given_on, consent_reconfirmed_on, eligibility,
-- vulnerabilities, escort_required, escort_arranged, exit_permission,
-- reintegration_plan_agreed_on, reintegration_plan [...], monitoring_visits [...].
-- The AVRR columns and tables of 0005 move into it; all of it is rebuildable from case_events
-- (itinera rebuild-projection).

ALTER TABLE cases ADD COLUMN programme_data jsonb NOT NULL DEFAULT '{}'::jsonb;

UPDATE cases c SET programme_data = jsonb_build_object(
    'consent_status', coalesce(c.consent_status, 'pending'),
    'consent_given_on', c.consent_given_on,
    'consent_reconfirmed_on', c.consent_reconfirmed_on,
    'eligibility', coalesce(c.eligibility, 'pending'),
    'vulnerabilities', '[]'::jsonb,
    'escort_required', c.escort_required,
    'escort_arranged', c.escort_arranged,
    'exit_permission', coalesce(c.exit_permission, 'pending'),
    'reintegration_plan_agreed_on', c.reintegration_plan_agreed_on,
    'reintegration_plan', coalesce((
        SELECT jsonb_agg(jsonb_build_object('item_number', i.item_number, 'kind', i.kind, 'description', i.description,
                                            'amount', i.amount::text, 'currency', i.currency,
                                            'delivered_on', i.delivered_on) ORDER BY i.item_number)
        FROM reintegration_items i WHERE i.case_id = c.case_id), '[]'::jsonb),
    'monitoring_visits', coalesce((
        SELECT jsonb_agg(jsonb_build_object('visit_number', v.visit_number,
                                            'months_after_arrival', v.months_after_arrival,
                                            'opens_at', v.opens_at, 'task_id', v.task_id,
                                            'visited_on', v.visited_on,
                                            'reintegration_score', v.reintegration_score::float8) ORDER BY v.visit_number)
        FROM monitoring_visits v WHERE v.case_id = c.case_id), '[]'::jsonb))
WHERE c.programme = 'avrr';

DROP TABLE reintegration_items;
DROP TABLE monitoring_visits;
ALTER TABLE cases DROP COLUMN consent_status, DROP COLUMN consent_given_on, DROP COLUMN consent_reconfirmed_on,
    DROP COLUMN eligibility, DROP COLUMN escort_required, DROP COLUMN escort_arranged, DROP COLUMN exit_permission,
    DROP COLUMN reintegration_plan_agreed_on;
