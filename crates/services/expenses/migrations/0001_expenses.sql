-- Portable SQL: runs unchanged on SQLite and PostgreSQL. Money in cents.
CREATE TABLE expense_imports (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    account TEXT NOT NULL,
    source TEXT NOT NULL,
    imported BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE expense_transactions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    account TEXT NOT NULL,
    import_id TEXT NOT NULL,
    -- What makes a row the same row on a second import: account, day, amount, description and
    -- which of the file's identical rows it is.
    fingerprint TEXT NOT NULL,
    posted_on TEXT NOT NULL,
    description TEXT NOT NULL,
    payee TEXT NOT NULL,
    amount_cents BIGINT NOT NULL,
    mcc BIGINT,
    category TEXT NOT NULL,
    filed_by TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    because TEXT NOT NULL,
    -- The categories the model chooses among, while it has yet to (JSON list); NULL once filed.
    shortlist TEXT
);

CREATE UNIQUE INDEX expense_transactions_once ON expense_transactions (owner, fingerprint);
CREATE INDEX expense_transactions_by_day ON expense_transactions (owner, posted_on);
CREATE INDEX expense_transactions_by_payee ON expense_transactions (owner, payee);
CREATE INDEX expense_transactions_pending ON expense_transactions (import_id, shortlist);

CREATE TABLE expense_rules (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    pattern TEXT NOT NULL,
    category TEXT NOT NULL,
    learned BIGINT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE UNIQUE INDEX expense_rules_once ON expense_rules (owner, pattern, learned);

-- Each correction a person made, so the third of one payee to one category can become a rule.
CREATE TABLE expense_corrections (
    owner TEXT NOT NULL,
    payee TEXT NOT NULL,
    category TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    corrected_at TEXT NOT NULL
);

CREATE INDEX expense_corrections_by_payee ON expense_corrections (owner, payee, category);

-- Payees the person filed themselves, with their embeddings: the similar-payee stage's examples.
CREATE TABLE expense_payee_examples (
    owner TEXT NOT NULL,
    payee TEXT NOT NULL,
    category TEXT NOT NULL,
    vector TEXT NOT NULL,
    PRIMARY KEY (owner, payee)
);

CREATE TABLE expense_budgets (
    owner TEXT NOT NULL,
    category TEXT NOT NULL,
    monthly_limit_cents BIGINT NOT NULL,
    PRIMARY KEY (owner, category)
);

-- One at-risk alert per budget and month.
CREATE TABLE expense_budget_alerts (
    owner TEXT NOT NULL,
    category TEXT NOT NULL,
    month TEXT NOT NULL,
    PRIMARY KEY (owner, category, month)
);
