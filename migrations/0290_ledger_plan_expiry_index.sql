-- A release asks whether a plan expiry came after its reservation (the latest `plan_expiry` row
-- of the account). With only (user_id, seq) to go on, that read walked every ledger row of the
-- account: a release cost grew with the account's history (864 rows read for a release on an
-- account with 864 entries). The expiries alone, indexed, make it one index probe.
CREATE INDEX credit_ledger_plan_expiry_idx ON credit_ledger (user_id, seq) WHERE kind = 'plan_expiry';
