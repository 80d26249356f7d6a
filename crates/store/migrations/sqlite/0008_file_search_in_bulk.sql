-- The file search index (0003) is now written by the store with each batch
-- of index changes, many rows per statement, instead of row by row in these
-- triggers: on a first scan of a large library the per-row triggers cost
-- more than the rest of the database work together. The store writes
-- exactly what `file_search_source` gives (a test compares the two), and
-- names that are not valid UTF-8, which this view cannot cut into name and
-- folders as text, in their display form. The delete trigger stays: rows
-- leave `files` rarely and through several paths (purges, cleanup).
DROP TRIGGER file_search_insert;
DROP TRIGGER file_search_update;
