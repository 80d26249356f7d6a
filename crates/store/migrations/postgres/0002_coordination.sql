-- What several Lectern instances on one database share (docs/postgres.md):
-- not Lectern's data, so never in a backup and never replaced by a
-- restore. Times are the database's own clock, so hosts whose clocks
-- disagree still agree on who is alive.

CREATE TABLE instances (
    id         TEXT COLLATE "C" PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    last_seen  TIMESTAMPTZ NOT NULL
);

-- At most one maintenance window at a time; the epoch only grows.
CREATE TABLE maintenance (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    epoch       BIGINT NOT NULL,
    active      BOOLEAN NOT NULL,
    reason      TEXT COLLATE "C",
    by_instance TEXT COLLATE "C"
);
INSERT INTO maintenance (id, epoch, active) VALUES (1, 0, false);

CREATE TABLE drained (
    epoch    BIGINT NOT NULL,
    instance TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (epoch, instance)
);

-- The operation running now (the operation lock lets one run at a time),
-- copied out by the instance running it; `cancel` is how another asks it
-- to stop.
CREATE TABLE running_operation (
    slot       BIGINT PRIMARY KEY CHECK (slot = 1),
    id         TEXT COLLATE "C" NOT NULL,
    instance   TEXT COLLATE "C" NOT NULL,
    kind       TEXT COLLATE "C" NOT NULL,
    started_by TEXT COLLATE "C" NOT NULL,
    started_at BIGINT NOT NULL,
    step       TEXT COLLATE "C" NOT NULL,
    scan_id    BIGINT,
    progress   TEXT COLLATE "C",
    cancel     BOOLEAN NOT NULL DEFAULT false
);

-- Which instance runs a scheduled job's slot: the first to insert.
CREATE TABLE job_leads (
    job      TEXT COLLATE "C" NOT NULL,
    slot     BIGINT NOT NULL,
    instance TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (job, slot)
);
