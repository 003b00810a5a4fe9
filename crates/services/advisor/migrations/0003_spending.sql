-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- Each person's usual month of income and spending, as the expenses service last published it
-- (`miyagi.expenses.spending.summarised.v1`): what the emergency reserve and the projection's
-- savings are sized on when known.
CREATE TABLE advisor_spending (
    owner TEXT PRIMARY KEY,
    monthly_income DOUBLE PRECISION NOT NULL,
    monthly_spending DOUBLE PRECISION NOT NULL,
    months BIGINT NOT NULL,
    as_of TEXT NOT NULL
);
