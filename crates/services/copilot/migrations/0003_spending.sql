-- The copilot's copy of each person's usual month of income and spending, kept from
-- `miyagi.expenses.spending.summarised.v1`: the coach's spending tool reads it.
CREATE TABLE spending (
    owner TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    as_of TEXT NOT NULL
);
