-- The copilot's copy of each person's latest advice, kept from `miyagi.advice.generated.v1`:
-- the coach's advice tool reads it, so a chat never waits on the advisor.
CREATE TABLE advice (
    owner TEXT PRIMARY KEY,
    advice_id TEXT NOT NULL,
    -- The profile it is for: deleting the profile deletes the copy.
    user_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
