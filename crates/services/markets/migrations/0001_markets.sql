-- Portable SQL: runs unchanged on SQLite and PostgreSQL. Money in cents, quantities in shares.

-- A person's paper account. `number` is the engine's name for them (an `Owner` in the books).
CREATE TABLE markets_accounts (
    owner TEXT PRIMARY KEY,
    number BIGINT NOT NULL UNIQUE,
    cash BIGINT NOT NULL,
    fees_paid BIGINT NOT NULL,
    opened_at TEXT NOT NULL
);

CREATE TABLE markets_positions (
    owner TEXT NOT NULL,
    symbol TEXT NOT NULL,
    shares BIGINT NOT NULL,
    cost BIGINT NOT NULL,
    realised BIGINT NOT NULL,
    PRIMARY KEY (owner, symbol)
);

-- Orders as people placed them and as the engine has dealt with them so far. `number` is the
-- order's id in the book, given when the engine takes it; `revision` grows with each change so a
-- caller can wait for the engine's answer.
CREATE TABLE markets_orders (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    number BIGINT UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    kind TEXT NOT NULL,
    time_in_force TEXT NOT NULL,
    price BIGINT,
    qty BIGINT NOT NULL,
    filled BIGINT NOT NULL,
    notional BIGINT NOT NULL,
    fees BIGINT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    revision BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX markets_orders_by_owner ON markets_orders (owner, created_at);

CREATE TABLE markets_fills (
    symbol TEXT NOT NULL,
    trade BIGINT NOT NULL,
    order_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    side TEXT NOT NULL,
    price BIGINT NOT NULL,
    qty BIGINT NOT NULL,
    fee BIGINT NOT NULL,
    liquidity TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (symbol, trade, order_id)
);
CREATE INDEX markets_fills_by_owner ON markets_fills (owner, at);

-- Every command a book accepted, in the order it took them, since the book's last snapshot:
-- recovery is the snapshot, then these in `seq` order.
CREATE TABLE markets_journal (
    seq BIGINT PRIMARY KEY,
    symbol TEXT NOT NULL,
    command TEXT NOT NULL
);

CREATE TABLE markets_snapshots (
    symbol TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    book TEXT NOT NULL,
    last_price BIGINT
);

-- The engine's counters, one row.
CREATE TABLE markets_engine (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    next_order BIGINT NOT NULL,
    next_account BIGINT NOT NULL
);
INSERT INTO markets_engine (id, seq, next_order, next_account) VALUES (1, 0, 1, 1);

-- One-minute bars of the simulated market's trades.
CREATE TABLE markets_candles (
    symbol TEXT NOT NULL,
    minute TEXT NOT NULL,
    open BIGINT NOT NULL,
    high BIGINT NOT NULL,
    low BIGINT NOT NULL,
    close BIGINT NOT NULL,
    volume BIGINT NOT NULL,
    PRIMARY KEY (symbol, minute)
);
