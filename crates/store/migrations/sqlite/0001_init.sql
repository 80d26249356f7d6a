-- Lectern's first schema. Timestamps are milliseconds since the Unix epoch;
-- file modification times are nanoseconds. AUTOINCREMENT so that an id is
-- never handed out twice, even after the row holding it is purged.

CREATE TABLE categories (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE courses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    category_id INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    path        TEXT    NOT NULL UNIQUE,
    description TEXT,
    created_at  INTEGER NOT NULL,
    UNIQUE (category_id, name)
);

CREATE TABLE files (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    course_id     INTEGER NOT NULL REFERENCES courses(id) ON DELETE CASCADE,
    path          TEXT    NOT NULL UNIQUE,
    size          INTEGER NOT NULL CHECK (size >= 0),
    mtime_ns      INTEGER NOT NULL,
    sha256        TEXT    NOT NULL,
    mime          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('material', 'description', 'cover', 'subtitle')),
    subtitle_for  TEXT,
    subtitle_lang TEXT,
    state         TEXT    NOT NULL CHECK (state IN ('present', 'missing')),
    indexed_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    missing_since INTEGER
);
-- Moves are matched in memory during a scan, so no index on content.
CREATE INDEX files_course ON files (course_id);

CREATE TABLE scans (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    course_id    INTEGER,
    started_by   TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    status       TEXT    NOT NULL,
    reason       TEXT,
    verify       INTEGER NOT NULL DEFAULT 0,
    forced       INTEGER NOT NULL DEFAULT 0,
    added        INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    removed      INTEGER NOT NULL DEFAULT 0,
    moved        INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,
    hashed_files INTEGER NOT NULL DEFAULT 0,
    hashed_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX scans_status ON scans (status);

CREATE TABLE scan_issues (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    kind    TEXT    NOT NULL CHECK (kind IN ('warning', 'error', 'integrity')),
    path    TEXT    NOT NULL,
    message TEXT    NOT NULL
);
CREATE INDEX scan_issues_scan ON scan_issues (scan_id);

-- At most one row: the operation (scan, cleanup, backup, restore) running now.
CREATE TABLE operation_lock (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    operation   TEXT    NOT NULL,
    holder      TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    pid         INTEGER NOT NULL,
    pid_start   INTEGER,
    token       TEXT    NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
