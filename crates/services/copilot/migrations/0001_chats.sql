-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
CREATE TABLE chats (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    title TEXT NOT NULL,
    persona TEXT NOT NULL,
    -- 0..1: the share of the prompt's flexible budget given to long-term memories rather than
    -- to the chat's recent turns.
    memory_balance DOUBLE PRECISION NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX chats_by_owner ON chats (owner, updated_at);

CREATE TABLE chat_messages (
    id TEXT PRIMARY KEY,
    chat_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    -- Order within the chat, and the history's cursor.
    seq BIGINT NOT NULL,
    author TEXT NOT NULL,
    content TEXT NOT NULL,
    -- JSON: the verified citations of an answer ([] for questions).
    citations TEXT NOT NULL,
    -- JSON: how an answer was made (refused citations, memories used, token usage); NULL for
    -- questions.
    details TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (chat_id, seq)
);

CREATE TABLE memories (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    -- The chat it was said in; working memory (kind `context`) holds for that chat only.
    chat_id TEXT,
    source_message_id TEXT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    -- The body's embedding (little-endian f32s): memories are few per person, so they are
    -- ranked by an exact scan of the owner's rows, and deleting the row deletes the vector.
    embedding BYTEA NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX memories_by_owner ON memories (owner, created_at);

-- The copilot's copy of each person's profiles, kept from `miyagi.user.profile.*`: the
-- persona's default voice and the figures the finance engine computes come from it.
CREATE TABLE profiles (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX profiles_by_owner ON profiles (owner, updated_at);
