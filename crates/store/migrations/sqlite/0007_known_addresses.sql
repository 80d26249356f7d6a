-- The addresses each account signed in from successfully, and when it last
-- did (ms). The sign-in limiter never refuses an account from one of its
-- recent addresses for attempts made against it from elsewhere, so that a
-- stranger cannot keep its owner out. Old rows are pruned as new ones come.
CREATE TABLE known_addresses (
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    address   TEXT    NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (user_id, address)
) WITHOUT ROWID;
CREATE INDEX known_addresses_last_seen ON known_addresses (last_seen);
