-- `plan_approval: true`: after planning the job waits for the client with status
-- `awaiting_approval`, its plan (sub-questions, queries) stored here, until
-- `POST /v1/research/{id}/plan` queues it again or `approval_expires_at` passes (canceled).
ALTER TABLE research_jobs DROP CONSTRAINT research_jobs_status_check;
ALTER TABLE research_jobs ADD CONSTRAINT research_jobs_status_check
    CHECK (status IN ('queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'));
ALTER TABLE research_jobs ADD COLUMN plan jsonb;
ALTER TABLE research_jobs ADD COLUMN approval_expires_at timestamptz;
CREATE INDEX research_jobs_approval_idx ON research_jobs (approval_expires_at)
    WHERE status = 'awaiting_approval';
