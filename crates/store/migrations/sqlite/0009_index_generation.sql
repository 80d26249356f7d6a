-- A value that changes whenever the library index does (a scan's batch, a
-- rename, a cleanup), in the same transaction. What is worked out from the
-- index alone (a course's file tree, the categories' course lists) can be
-- kept and reused while it stays the same. Each change sets a new random
-- value rather than counting up, so a database restored from an archive
-- never repeats a value this one had for other content: equal values mean
-- the same index.
CREATE TABLE index_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO index_generation (id, value) VALUES (1, random());
