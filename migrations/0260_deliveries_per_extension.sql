-- An extended job ends once per round (its first run is 0, its nth extension n): its webhook is
-- delivered, and its overage metered, once per round. Keyed by job alone, an extension's result
-- never reached the webhook and its overage never reached the Billing Meter.
ALTER TABLE webhook_deliveries ADD COLUMN extension integer NOT NULL DEFAULT 0 CHECK (extension >= 0);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_job_id_key;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_job_extension_key UNIQUE (job_id, extension);

ALTER TABLE meter_reports ADD COLUMN extension integer NOT NULL DEFAULT 0 CHECK (extension >= 0);
ALTER TABLE meter_reports DROP CONSTRAINT meter_reports_pkey;
ALTER TABLE meter_reports ADD PRIMARY KEY (job_id, extension);
