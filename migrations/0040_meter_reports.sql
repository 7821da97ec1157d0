-- Subscription usage per charged job, and whether its overage reached Stripe's Billing Meter.
-- One row per job (the meter identifier), so a retried settlement never reports twice.

CREATE TABLE meter_reports (
    job_id                  uuid PRIMARY KEY,
    user_id                 uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    stripe_subscription_id  text NOT NULL,
    period_start            timestamptz NOT NULL,
    credits_charged         bigint NOT NULL CHECK (credits_charged >= 0),
    overage_credits         bigint NOT NULL CHECK (overage_credits >= 0 AND overage_credits <= credits_charged),
    created_at              timestamptz NOT NULL DEFAULT now(),
    reported_at             timestamptz
);
CREATE INDEX meter_reports_period_idx ON meter_reports (stripe_subscription_id, period_start);
CREATE INDEX meter_reports_unreported_idx ON meter_reports (created_at)
    WHERE reported_at IS NULL AND overage_credits > 0;
