-- The inbox lists overdue tasks first, whatever their priority (api/readmodel.py: list_tasks,
-- ORDER BY overdue-first, priority_rank, due_at, task_id).  The inbox indexes of 0002 were in
-- the old order (priority_rank first), so since that change every inbox page sorted all of the
-- offices' open tasks: 141 ms for a caseworker's page and 509 ms for a supervisor's unassigned
-- list at 100,000 cases (bench workload 4), against about 1 ms with the order in the index.
-- The same indexes, in the inbox's order: the office one for one office's filters, the other
-- read in order and filtered (office, role, stage, claim) until the page is full.
DROP INDEX IF EXISTS tasks_inbox_all;
CREATE INDEX tasks_inbox_all ON tasks ((CASE WHEN overdue THEN 0 ELSE 1 END), priority_rank, due_at, task_id)
    WHERE status = 'open';
DROP INDEX IF EXISTS tasks_inbox;
CREATE INDEX tasks_inbox ON tasks (office, (CASE WHEN overdue THEN 0 ELSE 1 END), priority_rank, due_at, task_id)
    WHERE status = 'open';
