#!/usr/bin/env bash
# The whole test suite: every crate's tests (the store's on SQLite and on
# PostgreSQL), then the server's API, page and browser tests a second time
# with PostgreSQL as the database (docs/postgres.md).
set -euo pipefail
cd "$(dirname "$0")"

cargo test --workspace --locked "$@"

# Where the PostgreSQL tests make their databases (crates/testdb).
server="${LECTERN_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
hostport="${server#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"; hostport="${hostport%%\?*}"
host="${hostport%:*}"; port="${hostport##*:}"; [ "$port" = "$hostport" ] && port=5432
if [ -z "${CI:-}" ] && ! (exec 3<>"/dev/tcp/$host/$port") 2> /dev/null; then
    echo "skipped: the server's suite on PostgreSQL (nothing listens at $host:$port); CI runs it"
    exit 0
fi
LECTERN_TEST_BACKEND=postgres cargo test -p lectern-server --locked "$@"
