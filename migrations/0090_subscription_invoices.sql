-- Subscription invoices are payments too: they show in the payment history beside packs and
-- top-ups, and a refund or a lost dispute of one claws back its grant the way a pack's does.
-- A $0 invoice (trial, 100% coupon) or a proration grants nothing, so credits and amount may be 0.
-- What a clawback could not take (the credits were spent) is kept as the shortfall.

ALTER TABLE payments DROP CONSTRAINT payments_kind_check;
ALTER TABLE payments ADD CONSTRAINT payments_kind_check
    CHECK (kind IN ('pack', 'auto_topup', 'subscription'));
ALTER TABLE payments DROP CONSTRAINT payments_pack_credits_check;
ALTER TABLE payments ADD CONSTRAINT payments_pack_credits_check
    CHECK (pack_credits > 0 OR (kind = 'subscription' AND pack_credits = 0));
ALTER TABLE payments DROP CONSTRAINT payments_pack_amount_cents_check;
ALTER TABLE payments ADD CONSTRAINT payments_pack_amount_cents_check
    CHECK (pack_amount_cents > 0 OR (kind = 'subscription' AND pack_amount_cents = 0));
ALTER TABLE payments ADD COLUMN stripe_invoice_id text UNIQUE;
ALTER TABLE payments ADD CONSTRAINT payments_invoice_is_a_subscription
    CHECK ((kind = 'subscription') = (stripe_invoice_id IS NOT NULL));
ALTER TABLE payments ADD COLUMN clawback_shortfall_credits bigint NOT NULL DEFAULT 0
    CHECK (clawback_shortfall_credits >= 0);
