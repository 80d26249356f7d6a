-- Who did what and when (SPEC §4 `GET /api/admin/audit`): one row per admin
-- action that changes something, and per sign-in, whatever its outcome.
-- Rows are only ever added. `actor_id` has no foreign key on purpose: an
-- entry outlives the account that made it, and `actor` keeps its name.
-- `detail` is JSON and never holds a password, token or request body.

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    -- `user:alice`, `cli:root`, `system:scheduler`, `anonymous`
    actor      TEXT    NOT NULL,
    actor_id   INTEGER,
    -- A stable dotted name: `user.create`, `group.grant.add`, `scan.start`
    action     TEXT    NOT NULL,
    target     TEXT,
    detail     TEXT,
    outcome    TEXT    NOT NULL CHECK (outcome IN ('ok', 'failed')),
    -- The HTTP status of the answer; NULL for the command line.
    status     INTEGER,
    address    TEXT
);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
