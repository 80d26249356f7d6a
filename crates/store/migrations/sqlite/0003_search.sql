-- Full-text search over the library (SPEC §4 GET /api/search): course names
-- and descriptions, and the names and folders of lessons. Both tables hold
-- their own copy of the text (names are short) and are kept in step with
-- `courses` and `files` by the triggers below, so no code path that writes
-- the index can forget them. Row ids are the course and file ids.
--
-- unicode61 with remove_diacritics 2 makes "cafe" find "Café"; the prefix
-- indexes make the 2- and 3-letter prefixes people type first fast.

CREATE VIRTUAL TABLE course_search USING fts5(
    name,
    description,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

-- `section` is the folders between the course and the file
-- (`01 Intro/` for `Cat/Course/01 Intro/01 Welcome.mp4`).
CREATE VIRTUAL TABLE file_search USING fts5(
    name,
    section,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);

-- What the file index holds, in one place for the triggers and the first
-- fill: present lessons and materials only. Missing files are not found;
-- README, cover and subtitles belong to their course or media file and are
-- found through those. Paths are `Category/Course/...`, and names hold no
-- `/`: rtrim(path, <every other character in it>) cuts the path back to its
-- last `/`, which leaves the folders; what follows is the file's name.
CREATE VIEW file_search_source AS
SELECT id,
       substr(path, length(folders) + 1) AS name,
       substr(folders, course_end + 1) AS section
FROM (
    SELECT id, path,
           rtrim(path, replace(path, '/', '')) AS folders,
           instr(path, '/') + instr(substr(path, instr(path, '/') + 1), '/') AS course_end
    FROM files
    WHERE state = 'present' AND role = 'material'
);

INSERT INTO course_search (rowid, name, description)
SELECT id, name, description FROM courses;

INSERT INTO file_search (rowid, name, section)
SELECT id, name, section FROM file_search_source;

CREATE TRIGGER course_search_insert AFTER INSERT ON courses BEGIN
    INSERT INTO course_search (rowid, name, description)
    VALUES (new.id, new.name, new.description);
END;

CREATE TRIGGER course_search_update AFTER UPDATE OF name, description ON courses BEGIN
    DELETE FROM course_search WHERE rowid = old.id;
    INSERT INTO course_search (rowid, name, description)
    VALUES (new.id, new.name, new.description);
END;

CREATE TRIGGER course_search_delete AFTER DELETE ON courses BEGIN
    DELETE FROM course_search WHERE rowid = old.id;
END;

CREATE TRIGGER file_search_insert AFTER INSERT ON files BEGIN
    INSERT INTO file_search (rowid, name, section)
    SELECT id, name, section FROM file_search_source WHERE id = new.id;
END;

-- A scan rewrites every column of a changed file; a move changes its path,
-- a vanished file its state: each leaves the index as the row now is.
CREATE TRIGGER file_search_update AFTER UPDATE OF path, state, role ON files BEGIN
    DELETE FROM file_search WHERE rowid = old.id;
    INSERT INTO file_search (rowid, name, section)
    SELECT id, name, section FROM file_search_source WHERE id = new.id;
END;

CREATE TRIGGER file_search_delete AFTER DELETE ON files BEGIN
    DELETE FROM file_search WHERE rowid = old.id;
END;
