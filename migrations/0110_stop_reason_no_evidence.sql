-- A run that found nothing relevant stops with `no_evidence`: its brief says so, cites nothing,
-- and it is charged its metered provider spend only.
ALTER TABLE research_jobs DROP CONSTRAINT research_jobs_stop_reason_check;
ALTER TABLE research_jobs ADD CONSTRAINT research_jobs_stop_reason_check
    CHECK (stop_reason IN ('complete', 'budget', 'deadline', 'canceled', 'no_evidence'));
