-- Webhook signing secrets are sealed by the application (Fernet under INFRENCE_SECRET_KEY, see
-- core/secret_box.py), so the database stops inventing clear ones: an account gets its secret,
-- sealed, the first time one is needed. Clear values stored before this migration are sealed by
-- the application as it starts (SQL does not hold the key); they are read as clear until then.
ALTER TABLE users ALTER COLUMN webhook_secret DROP DEFAULT;
ALTER TABLE users ALTER COLUMN webhook_secret DROP NOT NULL;
