-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- The advisor's copy of each profile, kept current from the users service's events (the
-- advisor never reads another service's tables).
CREATE TABLE advisor_profiles (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    version BIGINT NOT NULL,
    profile TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Every piece of advice given: what was asked, what was answered, and the key that lets an
-- identical request be answered from here.
CREATE TABLE advice (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    user_id TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    trigger TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX advice_by_owner ON advice (owner, user_id, created_at);
CREATE INDEX advice_by_key ON advice (owner, cache_key);
