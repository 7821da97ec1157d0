-- Subscribers' credits live in buckets. `balance` stays the spendable total; `plan_credits` is
-- the part of it granted by the current paid period (it expires at the period's end); the rest
-- was purchased or granted and never expires. `overage_credits` counts credits a subscriber drew
-- beyond both in the current period, up to `overage_cap` (0 for everyone else); they are billed
-- through Stripe's meter, so they are not part of the balance, and a renewal resets them.
--
-- Every ledger row says how it moved each bucket: `delta` (the balance, as before),
-- `plan_delta` (the plan part of it) and `overage_delta`. A row may move overage alone (a
-- reservation drawn entirely beyond the buckets, an overage reset), so a row must move
-- something rather than the balance. `SUM(delta) = balance`, `SUM(plan_delta) = plan_credits`
-- and `SUM(overage_delta) = overage_credits` hold for every account (`infrence ledger check`).

ALTER TABLE credit_accounts
    ADD COLUMN plan_credits bigint NOT NULL DEFAULT 0 CHECK (plan_credits >= 0),
    ADD COLUMN overage_credits bigint NOT NULL DEFAULT 0 CHECK (overage_credits >= 0),
    ADD COLUMN overage_cap bigint NOT NULL DEFAULT 0 CHECK (overage_cap >= 0),
    ADD CONSTRAINT credit_accounts_plan_credits_within_balance CHECK (plan_credits <= balance);

ALTER TABLE credit_ledger
    ADD COLUMN plan_delta bigint NOT NULL DEFAULT 0,
    ADD COLUMN overage_delta bigint NOT NULL DEFAULT 0;
ALTER TABLE credit_ledger DROP CONSTRAINT credit_ledger_delta_check;
ALTER TABLE credit_ledger ADD CONSTRAINT credit_ledger_moves_a_bucket
    CHECK (delta <> 0 OR plan_delta <> 0 OR overage_delta <> 0);
ALTER TABLE credit_ledger DROP CONSTRAINT credit_ledger_kind_check;
ALTER TABLE credit_ledger ADD CONSTRAINT credit_ledger_kind_check
    CHECK (kind IN ('signup_grant', 'purchase', 'subscription_grant', 'auto_topup', 'reserve', 'release',
                    'refund', 'admin_adjust', 'clawback', 'plan_expiry', 'overage_reset'));
