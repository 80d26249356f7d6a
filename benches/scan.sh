#!/usr/bin/env bash
# Scan benchmark: Lectern against the standard tools on the same library, in
# the same run, each timed three times (median), page cache warm for all.
#
# Targets (issue "The library follows the folder"; the core issue's were
# 1.5 x and 3 x):
#   initial scan        <= 1.3 x  find | xargs -P2 openssl dgst -sha256
#   no-change rescan    <= 2.5 x  find -printf '%s %T@ %p\n', hashing 0 files
#   peak memory (RSS)   <= 100 MB
#   one-course rescan   in proportion to the course: its time against the
#                       whole library's no-change rescan, beside the course's
#                       share of the files, and find over that course alone
#
# Usage: benches/scan.sh [LIBRARY]   (default /tmp/lectern-bench/library,
# written by benches/make_library.py with its defaults if absent)
set -euo pipefail
cd "$(dirname "$0")/.."
LIB=${1:-/tmp/lectern-bench/library}
GEN=$PWD/benches/make_library.py
RUNS=3
if [ ! -d "$LIB" ]; then
    echo "writing the benchmark library to $LIB (100,000 files, ~3.3 GB)..."
    python3 "$GEN" "$LIB"
fi
cargo build --release -p lectern --quiet
BIN=$PWD/target/release/lectern
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# timed CMD...: runs CMD under /usr/bin/time; prints "seconds max_rss_kb"
timed() {
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" > "$WORK/out" 2> /dev/null
    cat "$WORK/time"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
max() { sort -n | tail -1; }

echo "warming the page cache..."
find "$LIB" -type f -print0 | xargs -0 -P2 cat > /dev/null
files=$(find "$LIB" -type f | wc -l)

: > "$WORK/openssl"; : > "$WORK/initial"; : > "$WORK/find"; : > "$WORK/rescan"
for run in $(seq $RUNS); do
    timed sh -c "find '$LIB' -type f -print0 | xargs -0 -P2 -n 2000 openssl dgst -sha256" >> "$WORK/openssl"
    timed "$BIN" --data "$WORK/data$run" scan --root "$LIB" --json >> "$WORK/initial"
    tail -1 "$WORK/out" > "$WORK/initial.json"
    timed sh -c "find '$LIB' -type f -printf '%s %T@ %p\n' > /dev/null" >> "$WORK/find"
    timed "$BIN" --data "$WORK/data$run" scan --root "$LIB" --json >> "$WORK/rescan"
    tail -1 "$WORK/out" > "$WORK/rescan.json"
done

# One course rescanned in the indexed library (the first course listed).
read -r course_id course_path < <("$BIN" --data "$WORK/data1" list --json | python3 -c '
import json, sys
course = json.load(sys.stdin)[0]["courses"][0]["course"]
print(course["id"], course["path"])')
course_files=$(find "$LIB/$course_path" -type f | wc -l)
: > "$WORK/course"; : > "$WORK/course_find"; : > "$WORK/open"
for run in $(seq $RUNS); do
    timed "$BIN" --data "$WORK/data1" scan --root "$LIB" --course "$course_id" --json >> "$WORK/course"
    # What any command pays before it works: opening and checking the database.
    timed "$BIN" --data "$WORK/data1" history --json >> "$WORK/open"
    timed sh -c "find '$LIB/$course_path' -type f -printf '%s %T@ %p\n' > /dev/null" >> "$WORK/course_find"
done

col() { awk "{print \$$1}" "$WORK/$2"; }
openssl_s=$(col 1 openssl | median); initial_s=$(col 1 initial | median)
find_s=$(col 1 find | median); rescan_s=$(col 1 rescan | median)
initial_mb=$(col 2 initial | max); rescan_mb=$(col 2 rescan | max)
course_s=$(col 1 course | median); course_find_s=$(col 1 course_find | median)
open_s=$(col 1 open | median)
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$WORK/$1.json" "$2"; }

echo
echo "library: $LIB ($files files, $(du -sh "$LIB" | cut -f1)); median of $RUNS runs; $(nproc) cores"
awk -v l="$initial_s" -v b="$openssl_s" -v n="$(field initial added)" \
    'BEGIN {printf "initial scan      lectern %6.2f s  openssl %6.2f s  ratio %.2f x (target <= 1.3 x), %d files added\n", l, b, l/b, n}'
awk -v l="$rescan_s" -v b="$find_s" -v h="$(field rescan hashed_files)" \
    'BEGIN {printf "no-change rescan  lectern %6.2f s  find    %6.2f s  ratio %.2f x (target <= 2.5 x), %d files hashed (target 0)\n", l, b, l/b, h}'
awk -v c="$course_s" -v r="$rescan_s" -v f="$course_find_s" -v n="$course_files" -v t="$files" \
    'BEGIN {printf "one-course rescan lectern %6.3f s  find    %6.3f s  %d of %d files (%.2f %%); %.3f of the whole rescan (target: in proportion)\n", c, f, n, t, 100*n/t, c/r}'
awk -v o="$open_s" -v c="$course_s" -v r="$rescan_s" \
    'BEGIN {printf "  of which opening the database (lectern history) %.3f s: the scans alone, course %.3f s of whole %.3f s (%.3f)\n", o, c-o, r-o, (c-o)/(r-o)}'
awk -v i="$initial_mb" -v r="$rescan_mb" \
    'BEGIN {printf "peak memory       initial scan %.0f MB, rescan %.0f MB (target <= 100 MB)\n", i/1024, r/1024}'
