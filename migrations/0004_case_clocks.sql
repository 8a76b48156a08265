-- Clocks and case-level actions: overdue tasks and their escalations, holds.
ALTER TABLE tasks ADD COLUMN overdue boolean NOT NULL DEFAULT false;
ALTER TABLE tasks ADD COLUMN escalated_task_id text;
CREATE INDEX tasks_overdue ON tasks (office, priority_rank, due_at, task_id) WHERE status = 'open' AND overdue;

ALTER TABLE cases ADD COLUMN hold_reason text;
ALTER TABLE cases ADD COLUMN held_at timestamptz;
