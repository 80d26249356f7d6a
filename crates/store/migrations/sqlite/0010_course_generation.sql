-- Each course's own generation, beside the index's (migration 0009): it
-- changes, in the same transaction, with every write to the course's record
-- or to any of its files' rows (a batch, a move between courses, a rename,
-- a cleanup). What is kept of one course then outlives a scan that writes
-- only others. Random values, for the reason 0009 gives.
ALTER TABLE courses ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
UPDATE courses SET generation = random();
