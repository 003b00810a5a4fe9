-- Each image a person asked for, from the request until it is drawn or given up on. The
-- picture itself is in blob storage under `images/{id}`.
CREATE TABLE images (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    prompt TEXT NOT NULL,
    size TEXT NOT NULL,
    model TEXT NOT NULL,
    -- pending | ready | failed
    status TEXT NOT NULL,
    media_type TEXT,
    bytes BIGINT,
    -- What was drawn, in the model's words (a card says which of the person's figures it shows).
    revised_prompt TEXT,
    failure TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX images_by_owner ON images (owner, created_at);

-- Copies of what cards are drawn from, each kept from its owner's events: the latest profile,
-- the paper positions, the usual month.
CREATE TABLE profile_copies (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX profile_copies_by_owner ON profile_copies (owner, updated_at);
CREATE TABLE position_copies (
    owner TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    as_of TEXT NOT NULL
);
CREATE TABLE spending_copies (
    owner TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    as_of TEXT NOT NULL
);
