-- MCP connector headers of a running job, sealed (AES-GCM, see core/sealing.py); erased when the
-- job reaches a terminal status. Not part of the job's columns that anything reads back.
ALTER TABLE research_jobs ADD COLUMN connector_headers bytea;
