#!/usr/bin/env bash
# PostgreSQL against the embedded SQLite database, in the same run, on the
# same library and machine (docs/postgres.md).
#
# Targets (issue "PostgreSQL backend, several instances…"):
#   full initial scan of the library on PostgreSQL   >= 0.8 x SQLite's speed
#                                                     (its time <= 1.25 x)
#   GET /api/courses/{id}, 64 connections (wrk)       measured beside SQLite
#
# Each scan runs on a new, empty database (SQLite: a new data folder;
# PostgreSQL: a new database), page cache warm, RUNS times (median). The
# throughput runs use the last scan's databases, one server each, the
# course with the most files, BROWSE_S seconds each.
#
# Needs: psql (to make and drop the database), curl, jq, wrk, python3; a
# PostgreSQL server at PGURL (default postgres://postgres@127.0.0.1:5432).
# Usage: [RUNS=3] [PGURL=…] benches/postgres.sh [LIBRARY]
# (default /tmp/lectern-bench/library, written by benches/make_library.py
# with its defaults if absent)
set -euo pipefail
LIB=$(realpath -m "${1:-/tmp/lectern-bench/library}")
cd "$(dirname "$0")/.."
GEN=$PWD/benches/make_library.py
RUNS=${RUNS:-3}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
CONNECTIONS=64
BROWSE_S=${BROWSE_S:-10}
for tool in psql curl jq wrk python3; do
    command -v "$tool" > /dev/null || { echo "postgres.sh needs $tool" >&2; exit 1; }
done
unset $(env | grep -o '^LECTERN_[A-Z_]*' || true)
if [ ! -d "$LIB" ]; then
    echo "writing the benchmark library to $LIB (100,000 files, ~3.3 GB)..."
    python3 "$GEN" "$LIB.partial"
    mv "$LIB.partial" "$LIB"
fi
cargo build --release -p lectern --quiet
BIN=$PWD/target/release/lectern
WORK=$(mktemp -d)
DB=lectern_bench_$$
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2> /dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$WORK"   # no stray lectern.toml is read
export LECTERN_WATCH__MODE=off

fail() { echo "postgres.sh: $*" >&2; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { /usr/bin/time -f '%e' -o "$WORK/time" "$@" > "$WORK/out" 2> "$WORK/err" || fail "$* failed: $(cat "$WORK/err")"; cat "$WORK/time"; }
fresh_db() {
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
    psql "$PGURL/postgres" -qc "CREATE DATABASE $DB"
}

echo "warming the page cache..."
find "$LIB" -type f -print0 | xargs -0 -P2 cat > /dev/null

: > sqlite; : > postgres
for run in $(seq "$RUNS"); do
    rm -rf data
    timed "$BIN" --data data --root "$LIB" scan --json >> sqlite
    fresh_db
    timed "$BIN" --data pgdata --database-url "$PGURL/$DB" --root "$LIB" scan --json >> postgres
done
S=$(median < sqlite); P=$(median < postgres)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# serve ARGS...: a server on a free port; sets BASE once it answers.
serve() {
    local port pid
    port=$(free_port)
    "$BIN" "$@" serve --port "$port" > "serve.$port.log" 2>&1 &
    pid=$!
    PIDS+=($pid)
    BASE="http://127.0.0.1:$port"
    for _ in $(seq 300); do
        kill -0 "$pid" 2> /dev/null || fail "lectern did not start: $(cat "serve.$port.log")"
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/auth/me")" != 000 ] && return 0
        sleep 0.1
    done
    fail "lectern did not answer within 30 s"
}
# throughput ARGS...: requests/s of GET /api/courses/{biggest} on a server
# started with ARGS.
throughput() {
    echo bench-password | "$BIN" "$@" user add bench --admin --password-stdin > /dev/null
    serve "$@"
    local token course
    token=$(curl -sf -X POST -H 'Content-Type: application/json' \
        -d '{"username":"bench","password":"bench-password"}' "$BASE/api/auth/login" | jq -r .token)
    course=$("$BIN" "$@" list --json | tail -1 |
        jq '[.[].courses[] | {id: .course.id, n: (.files | length)}] | max_by(.n) | .id')
    wrk -t2 -c"$CONNECTIONS" -d"${BROWSE_S}s" -H "Authorization: Bearer $token" \
        "$BASE/api/courses/$course" | awk '/Requests\/sec/ {print $2}'
}
RS=$(throughput --data data --root "$LIB")
RP=$(throughput --data pgdata --database-url "$PGURL/$DB" --root "$LIB")

files=$(find "$LIB" -type f | wc -l)
echo
echo "library: $files files; $RUNS runs, median"
printf 'full scan      SQLite %6.2f s   PostgreSQL %6.2f s   speed %.2f x SQLite   (target >= 0.8 x)\n' \
    "$S" "$P" "$(echo "$S / $P" | bc -l)"
printf 'course JSON    SQLite %8.0f/s  PostgreSQL %8.0f/s  %.2f x SQLite        (measured)\n' \
    "$RS" "$RP" "$(echo "$RP / $RS" | bc -l)"
