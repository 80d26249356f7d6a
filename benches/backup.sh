#!/usr/bin/env bash
# Backup benchmark: `lectern backup create` and `lectern backup restore`
# against the standard tools on the same database, in the same run, each
# timed three times (median), page cache warm for all.
#
# Targets (issue "Backups"):
#   backup create  <= 1.5 x  sqlite3 DB ".backup X" && zstd -3 X
#   restore        <= 2 x    zstd -d X.zst && sqlite3 NEW ".restore X"
#
# The database: the 100,000-file benchmark library indexed by `lectern scan`,
# plus 10,000 users and 1,000,000 progress rows (100 files each) added with
# sqlite3. The restore is timed into a new data folder, like for like with
# the tools' restore into a new database, and also over a copy of the data
# folder, as an operator restores over live data: that adds the safety
# backup of the data it replaces, which the tools do not make.
#
# Needs: sqlite3, zstd (Debian packages sqlite3, zstd; installed with apt-get
# when missing and run as root).
# Usage: benches/backup.sh [LIBRARY]   (default /tmp/lectern-bench/library,
# written by benches/make_library.py with its defaults if absent and
# kept; everything else lives in a temp folder removed on exit)
set -euo pipefail
LIB=$(realpath -m "${1:-/tmp/lectern-bench/library}")
cd "$(dirname "$0")/.."
GEN=$PWD/benches/make_library.py
RUNS=3
USERS=10000
FILES_PER_USER=100 # progress rows = USERS x FILES_PER_USER
for tool in sqlite3 zstd; do
    if ! command -v "$tool" > /dev/null; then
        echo "installing $tool..."
        apt-get install -y -q "$tool" > /dev/null
    fi
done
# Only the flags below configure Lectern here (no passphrase: plain archives).
unset $(env | grep -o '^LECTERN_[A-Z_]*' || true)
if [ ! -d "$LIB" ]; then
    echo "writing the benchmark library to $LIB (100,000 files, ~3.3 GB)..."
    python3 "$GEN" "$LIB"
fi
cargo build --release -p lectern --quiet
BIN=$PWD/target/release/lectern
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DATA=$WORK/data
DB=$DATA/lectern.db

# timed CMD...: runs CMD under /usr/bin/time; prints "seconds". Dirty pages
# left by the step before are written out first, so that no command pays
# for another's writes.
timed() {
    sync
    /usr/bin/time -f '%e' -o "$WORK/time" "$@" > "$WORK/out" 2> "$WORK/err" ||
        { cat "$WORK/err" >&2; exit 1; }
    cat "$WORK/time"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "indexing $LIB..."
"$BIN" --data "$DATA" scan --root "$LIB" --json > /dev/null
echo "adding $USERS users and $((USERS * FILES_PER_USER)) progress rows..."
sqlite3 "$DB" > /dev/null <<SQL
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $USERS)
INSERT INTO users (username, password_hash, role, created_at, updated_at)
SELECT 'bench' || i, '\$argon2id\$v=19\$m=19456,t=2,p=1\$' || hex(randomblob(40)), 'user', 0, 0
FROM n;
INSERT INTO progress (user_id, file_id, position_seconds, completed, updated_at)
SELECT u.id, f.id, abs(random() % 3600), abs(random() % 2), 1700000000000 + abs(random() % 100000000)
FROM (SELECT id FROM users WHERE username LIKE 'bench%') u
CROSS JOIN (SELECT id FROM files ORDER BY id LIMIT $FILES_PER_USER) f;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
rows() { sqlite3 "$DB" "SELECT count(*) FROM $1"; }
files=$(rows files); users=$(rows users); progress=$(rows progress)
db_mb=$(du -m "$DB" | cut -f1)
cat "$DB" > /dev/null # warm

: > "$WORK/create"; : > "$WORK/dump"; : > "$WORK/restore"; : > "$WORK/fresh"; : > "$WORK/load"
for run in $(seq $RUNS); do
    # Backups: Lectern's archive, then the tools' compressed copy.
    timed "$BIN" --data "$DATA" backup create --json >> "$WORK/create"
    archive=$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['file_path'])" "$WORK/out")
    rm -f "$WORK/copy.db" "$WORK/copy.db.zst"
    timed sh -c "sqlite3 '$DB' \".backup '$WORK/copy.db'\" && zstd -3 -q '$WORK/copy.db' -o '$WORK/copy.db.zst'" >> "$WORK/dump"
    archive_mb=$(du -m "$archive" | cut -f1); zst_mb=$(du -m "$WORK/copy.db.zst" | cut -f1)

    # Restores: into a copy of the data folder, into a new one, and the tools'.
    rm -rf "$WORK/over" "$WORK/fresh$run"
    cp -a "$DATA" "$WORK/over"
    cat "$WORK/over/lectern.db" > /dev/null
    timed "$BIN" --data "$WORK/over" backup restore "$archive" --yes --json >> "$WORK/restore"
    timed "$BIN" --data "$WORK/fresh$run" backup restore "$archive" --yes --json >> "$WORK/fresh"
    rm -f "$WORK/copy.db" "$WORK/new.db"
    timed sh -c "zstd -d -q '$WORK/copy.db.zst' -o '$WORK/copy.db' && sqlite3 '$WORK/new.db' \".restore '$WORK/copy.db'\"" >> "$WORK/load"
    rm -rf "$WORK/over" "$WORK/fresh$run" "$archive"
done

create_s=$(median < "$WORK/create"); dump_s=$(median < "$WORK/dump")
restore_s=$(median < "$WORK/restore"); fresh_s=$(median < "$WORK/fresh"); load_s=$(median < "$WORK/load")

echo
echo "database: $files files, $users users, $progress progress rows, $db_mb MB; median of $RUNS runs; $(nproc) cores"
echo "archive $archive_mb MB, sqlite3 .backup + zstd -3 $zst_mb MB"
awk -v l="$create_s" -v b="$dump_s" \
    'BEGIN {printf "backup create   lectern %6.2f s  sqlite3+zstd %6.2f s  ratio %.2f x (target <= 1.5 x)\n", l, b, l/b}'
awk -v l="$fresh_s" -v b="$load_s" \
    'BEGIN {printf "restore         lectern %6.2f s  zstd+sqlite3 %6.2f s  ratio %.2f x (target <= 2 x), into a new data folder\n", l, b, l/b}'
awk -v l="$restore_s" -v b="$load_s" \
    'BEGIN {printf "restore (over)  lectern %6.2f s  zstd+sqlite3 %6.2f s  ratio %.2f x (reference), over a copy of the data, with its safety backup\n", l, b, l/b}'
