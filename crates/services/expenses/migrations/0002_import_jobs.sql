-- Statement files are imported from blob storage through an event: an import row exists from
-- the moment the file is stored, and says how far it got. Imports made before are complete.
ALTER TABLE expense_imports ADD COLUMN status TEXT NOT NULL DEFAULT 'completed';
-- How to read the file again (its format and the person's column choices), as JSON.
ALTER TABLE expense_imports ADD COLUMN reading TEXT;
ALTER TABLE expense_imports ADD COLUMN rows_read BIGINT;
ALTER TABLE expense_imports ADD COLUMN failure TEXT;
ALTER TABLE expense_imports ADD COLUMN finished_at TEXT;
