-- The outbox: side effects (mail, meter reports, auto top-ups, Stripe event handling) written in
-- the transaction that causes them and carried out by one relay with retries (core/outbox.py).

CREATE TABLE outbox_tasks (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
    dedupe_key   text UNIQUE,                    -- enqueueing the same key twice is one task
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
    attempts     integer NOT NULL DEFAULT 0,     -- counted when claimed, so a task that kills its relay ends dead
    run_after    timestamptz NOT NULL DEFAULT now(),
    locked_by    text,
    locked_until timestamptz,                    -- the claiming relay's lease; lapsed = claimable again
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz
);
CREATE INDEX outbox_tasks_due_idx ON outbox_tasks (run_after) WHERE status = 'pending';
CREATE INDEX outbox_tasks_status_idx ON outbox_tasks (status, created_at DESC);

-- A Stripe event whose handler kept failing until its outbox task went dead.
ALTER TABLE stripe_events ADD COLUMN dead_at timestamptz;
