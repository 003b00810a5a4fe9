-- Portable SQL: runs unchanged on SQLite and PostgreSQL. The keyword index differs per
-- backend (FTS5 or a tsvector GIN index) and is created by the store at start-up.
CREATE TABLE documents (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    blob_path TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    chunk_count BIGINT NOT NULL,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (owner, collection, name)
);

CREATE TABLE chunks (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    collection TEXT NOT NULL,
    position BIGINT NOT NULL,
    section TEXT,
    body TEXT NOT NULL,
    tokens BIGINT NOT NULL,
    -- little-endian f32s
    embedding BYTEA NOT NULL
);

CREATE INDEX chunks_by_document ON chunks (document_id, position);
CREATE INDEX chunks_by_owner ON chunks (owner, collection);
