-- Document collections per account: uploaded files, their extracted text, and full-text chunks.
CREATE TABLE collections (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX collections_user ON collections (user_id, created_at DESC);

CREATE TABLE collection_documents (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    collection_id   uuid NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename        text NOT NULL,
    content_type    text NOT NULL,
    url             text,
    published_date  date,
    status          text NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'ready', 'failed')),
    error           text,
    size_bytes      bigint NOT NULL CHECK (size_bytes >= 0),
    upload          bytea,            -- the file until it is ingested, then NULL
    text            text,             -- the extracted plain text quotes are slices of
    created_at      timestamptz NOT NULL DEFAULT now(),
    ready_at        timestamptz
);
CREATE INDEX collection_documents_collection ON collection_documents (collection_id, created_at DESC);
CREATE INDEX collection_documents_user ON collection_documents (user_id);

CREATE TABLE collection_chunks (
    document_id     uuid NOT NULL REFERENCES collection_documents (id) ON DELETE CASCADE,
    seq             int NOT NULL,
    collection_id   uuid NOT NULL,
    user_id         uuid NOT NULL,
    start_offset    int NOT NULL,
    end_offset      int NOT NULL CHECK (end_offset > start_offset),
    content         text NOT NULL,
    tsv             tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    PRIMARY KEY (document_id, seq)
);
CREATE INDEX collection_chunks_tsv ON collection_chunks USING gin (tsv);
CREATE INDEX collection_chunks_owner ON collection_chunks (user_id, collection_id);
