-- Portable SQL: runs unchanged on SQLite and PostgreSQL.
CREATE TABLE user_profiles (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    age BIGINT NOT NULL,
    annual_household_income DOUBLE PRECISION NOT NULL,
    assets DOUBLE PRECISION NOT NULL,
    liabilities DOUBLE PRECISION NOT NULL,
    risk_tolerance TEXT NOT NULL,
    retirement_age BIGINT NOT NULL,
    goals TEXT NOT NULL,
    favorite_advisor TEXT,
    favorite_book TEXT,
    hobbies TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX user_profiles_by_owner ON user_profiles (owner, created_at);
