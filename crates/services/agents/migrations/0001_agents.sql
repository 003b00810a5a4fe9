-- Portable SQL: runs unchanged on SQLite and PostgreSQL. A run's steps are rows of their own,
-- each recorded with its outbox event in one transaction: after a crash the run resumes at the
-- first step not recorded, and what a recorded step did is never done again.
CREATE TABLE agent_runs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    agent TEXT NOT NULL,
    goal TEXT NOT NULL,
    state TEXT NOT NULL,
    -- Why a run failed or was cancelled; NULL otherwise.
    reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX agent_runs_owner ON agent_runs (owner, created_at);

CREATE TABLE agent_steps (
    run_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    tool TEXT NOT NULL,
    -- Why the step is in the plan, in the planner's words.
    purpose TEXT NOT NULL,
    -- JSON; may refer to earlier steps' outputs (`{"$output": 1}`) until the step runs.
    arguments TEXT NOT NULL,
    -- pending, waiting_approval, done, failed, rejected or skipped.
    state TEXT NOT NULL,
    -- The arguments the step ran (or asks to run) with, references resolved.
    resolved TEXT,
    output TEXT,
    error TEXT,
    attempts BIGINT NOT NULL,
    -- When an unanswered approval counts as a rejection.
    deadline TEXT,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX agent_steps_deadline ON agent_steps (state, deadline);

-- Every approval decision: who, when, what they approved (the arguments, edited or not).
CREATE TABLE agent_decisions (
    run_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    -- 1 approved, 0 rejected (an integer: portable across both backends' drivers).
    approved BIGINT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    arguments TEXT,
    note TEXT,
    PRIMARY KEY (run_id, position)
);

-- The person's paper positions, as the markets service last published them.
CREATE TABLE agent_positions (
    owner TEXT PRIMARY KEY,
    positions TEXT NOT NULL,
    as_of TEXT NOT NULL
);

-- Orders a run placed, followed to their end through the markets service's events.
CREATE TABLE agent_orders (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    run_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty BIGINT NOT NULL,
    status TEXT NOT NULL,
    filled BIGINT NOT NULL,
    average_price DOUBLE PRECISION,
    reason TEXT
);
CREATE INDEX agent_orders_run ON agent_orders (run_id);
