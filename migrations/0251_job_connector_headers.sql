-- MCP connector headers of a running job, sealed with the secret box (core/secret_box.py) and
-- erased when the job reaches a terminal status. Not among the job columns anything reads back.
ALTER TABLE research_jobs ADD COLUMN connector_headers text;
