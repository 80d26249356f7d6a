-- People and what they may see (SPEC §2), and their progress. Secrets are
-- stored only as hashes: Argon2id for passwords, SHA-256 for session and
-- API tokens (which are long random values, so a fast hash is enough).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- A grant opens one category or one course to a group.
CREATE TABLE grants (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id    INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    category_id INTEGER REFERENCES categories(id) ON DELETE CASCADE,
    course_id   INTEGER REFERENCES courses(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    CHECK ((category_id IS NULL) <> (course_id IS NULL)),
    UNIQUE (group_id, category_id, course_id)
);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('web', 'api')),
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Completed flag and resume position per person and file; a moved file
-- keeps its id, so its progress follows it.
CREATE TABLE progress (
    user_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    file_id          INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    position_seconds REAL,
    completed        INTEGER NOT NULL DEFAULT 0,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (user_id, file_id)
);
CREATE INDEX progress_file ON progress (file_id);
