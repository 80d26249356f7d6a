-- The files table's CHECK on role, written as comparisons instead of an IN
-- list. SQLite evaluates an IN list of more than two constants by building
-- a temporary index each time the statement runs: for a scan's inserts,
-- once per row, about 5 % of a first scan. The two accept exactly the same
-- values. Only the schema's text changes, not the rows' format: the kind of
-- change SQLite documents as safe to make through writable_schema (a table
-- rebuild would cascade its deletes into progress).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (role IN (''material'', ''description'', ''cover'', ''subtitle''))',
    'CHECK (role = ''material'' OR role = ''description'' OR role = ''cover'' OR role = ''subtitle'')')
WHERE type = 'table' AND name = 'files';
-- RESET reloads this connection's schema; a table made and dropped moves the
-- schema's version on, so that every other connection reloads it too.
PRAGMA writable_schema = RESET;
CREATE TABLE schema_reload (x);
DROP TABLE schema_reload;
