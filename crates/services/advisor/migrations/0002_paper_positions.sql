-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- What each person's paper trading account holds, as the markets service last published it
-- (`miyagi.markets.positions.updated.v1`): the stocks advice is about when a request names none.
CREATE TABLE advisor_paper_positions (
    owner TEXT PRIMARY KEY,
    positions TEXT NOT NULL,
    as_of TEXT NOT NULL
);
