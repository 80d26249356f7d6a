-- Long-lived API tokens an admin creates for scripts (SPEC §2: the cron job
-- that starts a scan). Like sessions, only the SHA-256 of the token is kept;
-- the token itself is shown once, when it is made. A token acts as its owner
-- and dies with them.

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    -- What forms must carry if a token ever reaches a page; never shown.
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    -- NULL: never expires.
    expires_at   INTEGER,
    -- Updated at most about once a minute, so lookups stay reads.
    last_used_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
