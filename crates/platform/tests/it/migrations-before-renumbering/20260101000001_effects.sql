-- A stand-in service's table: one row per applied effect, so duplicates are countable.
CREATE TABLE effects (
    event_id TEXT NOT NULL,
    subject TEXT NOT NULL
);
