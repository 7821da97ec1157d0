-- A finished job can be extended (`POST /v1/research/{id}/extend`): it keeps its id and goes back
-- to the queue with a larger budget. Each extension is one entry here, in order:
-- {at, mode, max_credits, reserved, charged_before, credits, idempotency_key}.
ALTER TABLE research_jobs ADD COLUMN extensions jsonb NOT NULL DEFAULT '[]'::jsonb;
