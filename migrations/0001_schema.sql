-- The whole schema the HTTP contract implies. Invariants live here as constraints.


-- Accounts -------------------------------------------------------------------------------

CREATE TABLE users (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email                    text NOT NULL CHECK (email = lower(btrim(email)) AND email LIKE '%_@_%'),
    password_hash            text NOT NULL,
    first_name               text NOT NULL DEFAULT '' CHECK (length(first_name) <= 100),
    last_name                text NOT NULL DEFAULT '' CHECK (length(last_name) <= 100),
    email_verified_at        timestamptz,
    marketing_emails_enabled boolean NOT NULL DEFAULT false,
    is_admin                 boolean NOT NULL DEFAULT false,
    suspended_at             timestamptz,
    flagged_at               timestamptz,          -- e.g. a Stripe dispute, for admins to look at
    flagged_reason           text,
    stripe_customer_id       text UNIQUE,
    webhook_secret           text NOT NULL DEFAULT ('whsec_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_created_at_idx ON users (created_at);
CREATE INDEX users_suspended_idx ON users (suspended_at) WHERE suspended_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,                          -- set when exchanged for a newer token
    revoked_at  timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE email_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('verify', 'reset')),
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_idx ON email_tokens (expires_at);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix        text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,              -- SHA-256 of the plaintext
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at DESC);

-- Money ----------------------------------------------------------------------------------

CREATE TABLE credit_accounts (
    user_id                  uuid PRIMARY KEY REFERENCES users (id) ON DELETE RESTRICT,
    balance                  bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
    auto_topup_enabled       boolean NOT NULL DEFAULT false,
    auto_topup_threshold     bigint NOT NULL DEFAULT 0 CHECK (auto_topup_threshold >= 0),
    auto_topup_pack_id       text,
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT auto_topup_enabled OR auto_topup_pack_id IS NOT NULL)
);

CREATE TABLE credit_ledger (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES credit_accounts (user_id) ON DELETE RESTRICT,
    delta            bigint NOT NULL CHECK (delta <> 0),
    balance_after    bigint NOT NULL CHECK (balance_after >= 0),
    kind             text NOT NULL CHECK (kind IN ('signup_grant', 'purchase', 'subscription_grant',
                         'auto_topup', 'reserve', 'release', 'refund', 'admin_adjust', 'clawback')),
    related_id       text,
    note             text,
    idempotency_key  text UNIQUE,
    seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,   -- total order for the balance chain
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_ledger_user_idx ON credit_ledger (user_id, seq);
CREATE INDEX credit_ledger_related_idx ON credit_ledger (related_id);

CREATE FUNCTION credit_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'credit_ledger is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER credit_ledger_no_update_or_delete
    BEFORE UPDATE OR DELETE ON credit_ledger
    FOR EACH ROW EXECUTE FUNCTION credit_ledger_append_only();

CREATE TABLE payments (
    id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                     uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    kind                        text NOT NULL CHECK (kind IN ('pack', 'auto_topup')),
    pack_id                     text NOT NULL,
    pack_credits                bigint NOT NULL CHECK (pack_credits > 0),
    pack_amount_cents           bigint NOT NULL CHECK (pack_amount_cents > 0),
    status                      text NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'succeeded', 'failed', 'expired', 'refunded')),
    stripe_checkout_session_id  text UNIQUE,
    stripe_payment_intent_id    text UNIQUE,
    refunded_cents              bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    failure_reason              text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    completed_at                timestamptz
);
CREATE INDEX payments_user_idx ON payments (user_id, created_at DESC);
CREATE INDEX payments_completed_idx ON payments (completed_at) WHERE status = 'succeeded';
-- At most one auto top-up in flight per account.
CREATE UNIQUE INDEX payments_one_pending_topup ON payments (user_id)
    WHERE kind = 'auto_topup' AND status = 'pending';

CREATE TABLE subscriptions (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                 uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    plan_id                 text NOT NULL,
    stripe_subscription_id  text NOT NULL UNIQUE,
    status                  text NOT NULL,
    current_period_start    timestamptz,
    current_period_end      timestamptz,
    included_credits        bigint NOT NULL DEFAULT 0 CHECK (included_credits >= 0),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id);

CREATE TABLE stripe_events (
    id            text PRIMARY KEY,                   -- evt_...
    event_type    text NOT NULL,
    payload       text,                               -- raw body as received
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text
);
CREATE INDEX stripe_events_received_idx ON stripe_events (received_at DESC);

-- Research -------------------------------------------------------------------------------

CREATE TABLE research_jobs (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    api_key_id          uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    origin              text NOT NULL CHECK (origin IN ('api', 'playground')),
    mode                text NOT NULL CHECK (mode IN ('lite', 'standard', 'pro', 'max')),
    question            text NOT NULL CHECK (length(question) > 0),
    request             jsonb NOT NULL,
    status              text NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    stop_reason         text CHECK (stop_reason IN ('complete', 'budget', 'deadline', 'canceled')),
    runs_async          boolean NOT NULL DEFAULT false,
    credits_reserved    bigint NOT NULL CHECK (credits_reserved >= 0),
    credits_charged     bigint NOT NULL DEFAULT 0 CHECK (credits_charged >= 0),
    credits_refunded    bigint NOT NULL DEFAULT 0 CHECK (credits_refunded >= 0),
    cost_usd_micros     bigint NOT NULL DEFAULT 0 CHECK (cost_usd_micros >= 0),
    result              jsonb,
    error               text,
    webhook_url         text,
    idempotency_key     text,
    attempts            integer NOT NULL DEFAULT 0,
    lease_owner         text,
    lease_expires_at    timestamptz,
    cancel_requested_at timestamptz,
    wave_count          integer CHECK (wave_count >= 0),
    source_count        integer CHECK (source_count >= 0),
    latency_ms          integer CHECK (latency_ms >= 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    completed_at        timestamptz,
    checkpoints_pruned_at timestamptz,
    CHECK (credits_charged <= credits_reserved),
    CHECK (credits_refunded <= credits_charged),
    CHECK ((status IN ('succeeded', 'failed', 'canceled')) = (completed_at IS NOT NULL))
);
CREATE INDEX research_jobs_user_idx ON research_jobs (user_id, created_at DESC);
CREATE INDEX research_jobs_status_idx ON research_jobs (status, created_at DESC);
CREATE INDEX research_jobs_created_idx ON research_jobs (created_at);
CREATE INDEX research_jobs_queue_idx ON research_jobs (created_at) WHERE status = 'queued';
CREATE INDEX research_jobs_lease_idx ON research_jobs (lease_expires_at) WHERE status = 'running';
CREATE UNIQUE INDEX research_jobs_idempotency_key ON research_jobs (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id           uuid NOT NULL REFERENCES research_jobs (id) ON DELETE CASCADE,
    url              text NOT NULL,
    body             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    give_up_at       timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (job_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

-- Support, admin, mail ---------------------------------------------------------------------

CREATE TABLE support_tickets (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            uuid REFERENCES users (id) ON DELETE SET NULL,
    email              text NOT NULL,
    category           text NOT NULL CHECK (category IN ('general', 'billing', 'bug', 'account', 'feature')),
    subject            text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    body               text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    assigned_admin_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX support_tickets_status_idx ON support_tickets (status, created_at DESC);
CREATE INDEX support_tickets_user_idx ON support_tickets (user_id, created_at DESC);

CREATE TABLE ticket_replies (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id   uuid NOT NULL REFERENCES support_tickets (id) ON DELETE CASCADE,
    admin_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    body        text NOT NULL CHECK (length(body) > 0),
    sent_email  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_replies_ticket_idx ON ticket_replies (ticket_id, created_at);

CREATE TABLE admin_audit_log (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    admin_id     uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    action       text NOT NULL,
    target_type  text NOT NULL,
    target_id    text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_audit_log_target_idx ON admin_audit_log (target_type, target_id, created_at DESC);

CREATE TABLE mail_outbox (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    to_address  text NOT NULL,
    template    text NOT NULL,
    subject     text NOT NULL,
    text_body   text NOT NULL,
    html_body   text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'logged')),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX mail_outbox_pending_idx ON mail_outbox (created_at) WHERE status = 'pending';
CREATE INDEX mail_outbox_to_idx ON mail_outbox (to_address, created_at DESC);
