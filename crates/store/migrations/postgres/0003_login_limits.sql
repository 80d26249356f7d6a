-- The sign-in attempts every instance on the database counts
-- (lectern_app::login_limits::SharedLimits), so that an attempt refused
-- on one instance is refused on the others too. One row per kind (one
-- kind per rule) and key, kept as the application layer leaves it. Like
-- 0002's tables, not Lectern's data: never in a backup, never replaced
-- by a restore. Times are microseconds since the Unix epoch by the
-- database's own clock.

CREATE TABLE login_tallies (
    kind         TEXT COLLATE "C" NOT NULL,
    key          BYTEA NOT NULL,
    level        DOUBLE PRECISION NOT NULL,
    touched_at   BIGINT NOT NULL,
    locked_until BIGINT,
    -- From when the row holds nothing any more: forgotten first.
    idle_from    BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);

-- A kind with too many rows forgets the least recently touched.
CREATE INDEX login_tallies_touched ON login_tallies (kind, touched_at);
