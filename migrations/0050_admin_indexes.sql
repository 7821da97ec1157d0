-- Indexes for the admin surface: ticket lists by category or unfiltered, the audit log page,
-- and the daily job buckets of the stats as an index-only scan.

CREATE INDEX support_tickets_category_idx ON support_tickets (category, created_at DESC);
CREATE INDEX support_tickets_created_idx ON support_tickets (created_at DESC);
CREATE INDEX admin_audit_log_created_idx ON admin_audit_log (created_at DESC);
CREATE INDEX research_jobs_daily_idx ON research_jobs (created_at) INCLUDE (credits_charged, cost_usd_micros);
