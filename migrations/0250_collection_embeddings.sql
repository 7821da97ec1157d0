-- Chunk embeddings for vector search (pgvector), kept as real[] so the schema does not depend on
-- the extension: queries cast to `vector` when it is installed, and fall back to full text when
-- it is not. The embedded PostgreSQL (pgserver) ships pgvector; other servers may not, or may not
-- let this role create it, and the migration must still apply there.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        CREATE EXTENSION IF NOT EXISTS vector;
    ELSE
        RAISE NOTICE 'pgvector is not installed: collection search stays full-text only';
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'no privilege to create pgvector: collection search stays full-text only';
END
$$;

ALTER TABLE collection_chunks
    ADD COLUMN embedding real[],
    ADD COLUMN embedding_model text;
