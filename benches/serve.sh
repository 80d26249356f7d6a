#!/usr/bin/env bash
# Server benchmarks: Lectern's HTTP server against nginx and against itself
# while a scan runs, in the same run, on this machine.
#
# Targets (issue 3):
#   download throughput  >= 0.9 x nginx (sendfile on): 8 clients at once, each
#                        fetching a whole 1 GiB file, aggregate GiB/s, median
#                        of ROUNDS rounds; Lectern through
#                        GET /api/files/{id}/content with a Bearer token
#   course p99 latency   <= 3 x while a full initial scan of the 100,000-file
#                        library runs, against no scan: GET /api/courses/{id},
#                        64 connections (wrk --latency)
# Targets (issue "The library follows the folder"), on the full index after
# that scan, 64 connections each:
#   GET /api/categories, GET /api/files/{id}   >= 0.5 x GET /api/auth/me
#   GET /api/courses/{id} (JSON), GET /courses/{id} (the page)
#                        >= 0.2 x nginx serving the same bytes from a file
#
# The scan runs on a fresh database that knows only the queried course (a
# hard-linked copy of one course, indexed first), so the scan adds all the
# other files: a full initial scan. The during-scan wrk run starts right after
# POST /api/scanner/scan and is stopped (SIGINT: wrk still reports) as soon as
# the scan's status says it ended, so its window is the scan. The no-scan
# figure is a 10 s run just before; a second one after the scan, on the full
# index, is shown for reference.
#
# Needs: curl, jq, wrk, nginx (Debian packages). Run by hand, on a quiet
# machine: the clients share the cores with the servers.
# Usage: [ROUNDS=3] benches/serve.sh [LIBRARY]   (default /tmp/lectern-bench/library,
# written by benches/make_library.py with its defaults if absent and
# kept for the next run; everything else lives in a temp folder removed on exit)
set -euo pipefail
LIB=$(realpath -m "${1:-/tmp/lectern-bench/library}")
cd "$(dirname "$0")/.."
GEN=$PWD/benches/make_library.py
ROUNDS=${ROUNDS:-3}      # download rounds per server
CLIENTS=8                # concurrent downloads
CONNECTIONS=64           # wrk connections
IDLE_S=10                # each no-scan wrk run
BROWSE_S=10              # each browsing wrk run
for tool in curl jq wrk nginx python3; do
    command -v "$tool" > /dev/null || { echo "serve.sh needs $tool" >&2; exit 1; }
done
# Only the flags below configure Lectern here.
unset $(env | grep -o '^LECTERN_[A-Z_]*' || true)
if [ ! -d "$LIB" ]; then
    echo "writing the benchmark library to $LIB (100,000 files, ~3.3 GB)..."
    python3 "$GEN" "$LIB.partial"
    mv "$LIB.partial" "$LIB"
fi
cargo build --release -p lectern --quiet
BIN=$PWD/target/release/lectern
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$WORK"   # no stray lectern.toml is read

fail() { echo "serve.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# wait_for URL [CURL-ARGS...]: polls until URL answers 2xx, for up to 30 s.
wait_for() {
    local url=$1; shift
    for _ in $(seq 300); do
        curl -sf -o /dev/null "$@" "$url" && return 0
        sleep 0.1
    done
    fail "$url did not answer within 30 s"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# serve DATA ROOT: starts Lectern on a free port; sets BASE to its URL once
# it answers HTTP (any status).
serve() {
    local port pid
    port=$(free_port)
    # Not watching: a server started on a library scanned before begins
    # with a scan of it all, which would take the place of the scan this
    # script starts and times.
    LECTERN_WATCH__MODE=off "$BIN" --data "$1" --root "$2" serve --port "$port" > "$1.log" 2>&1 &
    pid=$!
    PIDS+=($pid)
    BASE="http://127.0.0.1:$port"
    for _ in $(seq 300); do
        kill -0 "$pid" 2> /dev/null || fail "lectern did not start: $(cat "$1.log")"
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/auth/me")" != 000 ] && return 0
        sleep 0.1
    done
    fail "lectern did not answer within 30 s: $(cat "$1.log")"
}

# new_admin DATA: an admin account bench/bench-password in DATA.
new_admin() {
    echo bench-password | "$BIN" --data "$1" user add bench --admin --password-stdin > /dev/null
}

# login URL: prints an API token for the bench account.
login() {
    curl -sf -X POST -H 'Content-Type: application/json' \
        -d '{"username":"bench","password":"bench-password"}' "$1/api/auth/login" | jq -r .token
}

# ---- 1. download throughput ------------------------------------------------

echo "writing a 1 GiB file..."
mkdir -p lib1/Bench/Big
head -c 1G /dev/urandom > lib1/Bench/Big/big.bin
SIZE=$(stat -c %s lib1/Bench/Big/big.bin)
"$BIN" --data data1 --root lib1 scan --json > /dev/null
new_admin data1
FILE_ID=$("$BIN" --data data1 list --json | tail -1 |
    jq '[.[].courses[].files[] | select(.path | endswith("big.bin")) | .id][0]')
[ "$FILE_ID" != null ] || fail "big.bin is not in the index"
serve data1 lib1
L1=$BASE
TOKEN1=$(login "$L1")
LECTERN_URL="$L1/api/files/$FILE_ID/content"

NGINX_PORT=$(free_port)
mkdir -p nginx
# As root, the workers would otherwise drop to nobody, who cannot read $WORK.
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root;"
cat > nginx/nginx.conf << EOF
$user_line
daemon off;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/lib1/Bench/Big;
    }
}
EOF
nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" &
PIDS+=($!)
NGINX_URL="http://127.0.0.1:$NGINX_PORT/big.bin"
wait_for "$NGINX_URL" -r 0-0
wait_for "$LECTERN_URL" -r 0-0 -H "Authorization: Bearer $TOKEN1"

# round URL [CURL-ARGS...]: CLIENTS downloads at once; prints aggregate GiB/s.
round() {
    local url=$1; shift
    local start end pid clients=()
    start=$(now)
    for i in $(seq $CLIENTS); do
        curl -sf -o /dev/null -w '%{size_download}\n' "$@" "$url" > "dl.$i" &
        clients+=($!)
    done
    for pid in "${clients[@]}"; do
        wait "$pid" || fail "a download failed: $url"
    done
    end=$(now)
    for i in $(seq $CLIENTS); do
        [ "$(cat "dl.$i")" = "$SIZE" ] || fail "short download from $url: $(cat "dl.$i") bytes"
    done
    awk -v n=$CLIENTS -v s="$SIZE" -v a="$start" -v b="$end" \
        'BEGIN {printf "%.3f\n", n * s / (b - a) / 2^30}'
}

echo "downloading: $ROUNDS rounds of $CLIENTS clients x 1 GiB from each server..."
cat lib1/Bench/Big/big.bin > /dev/null
: > lectern.gibs; : > nginx.gibs
for _ in $(seq "$ROUNDS"); do
    round "$NGINX_URL" >> nginx.gibs
    round "$LECTERN_URL" -H "Authorization: Bearer $TOKEN1" >> lectern.gibs
done
lectern_gibs=$(median < lectern.gibs); nginx_gibs=$(median < nginx.gibs)

# ---- 2. course latency, without and during a scan --------------------------

echo "warming the page cache..."
find "$LIB" -type f -print0 | xargs -0 -P2 cat > /dev/null
files=$(find "$LIB" -type f | wc -l)

# The one course the fresh database knows: hard links keep size and mtime,
# so the full scan finds it unchanged and adds everything else.
course_dir=$(find "$LIB" -mindepth 2 -maxdepth 2 -type d | sort | sed -n 1p)
seed_root=$WORK/seed
mkdir -p "$seed_root/$(basename "$(dirname "$course_dir")")"
cp -al "$course_dir" "$seed_root/${course_dir#"$LIB"/}" 2> /dev/null ||
    cp -a "$course_dir" "$seed_root/${course_dir#"$LIB"/}"
"$BIN" --data data2 --root "$seed_root" scan --json > /dev/null
new_admin data2
COURSE_ID=$("$BIN" --data data2 list --json | tail -1 | jq '.[0].courses[0].course.id')
serve data2 "$LIB"
L2=$BASE
TOKEN2=$(login "$L2")
COURSE_URL="$L2/api/courses/$COURSE_ID"
wait_for "$COURSE_URL" -H "Authorization: Bearer $TOKEN2"

# wrk_start SECONDS NAME: wrk on the course in the background, into NAME.wrk.
# SIGINT ends it early, still printing its report.
wrk_start() {
    wrk -t2 -c$CONNECTIONS -d"$1"s --latency -H "Authorization: Bearer $TOKEN2" \
        "$COURSE_URL" > "$2.wrk" &
    WRK=$!
    PIDS+=($WRK)
}
# wrk_check NAME: fails on errors in the report, else prints p99 in ms.
wrk_check() {
    if grep -q 'Non-2xx\|Socket errors' "$1.wrk"; then
        fail "wrk saw errors: $(cat "$1.wrk")"
    fi
    awk '$1 == "99%" {
        v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
        printf "%.2f\n", v * (u == "us" ? 0.001 : u == "s" ? 1000 : u == "m" ? 60000 : 1)
    }' "$1.wrk"
}
# latency SECONDS NAME: a whole wrk run, into NAME.wrk.
latency() {
    wrk_start "$1" "$2"
    wait "$WRK"
}
rps() { awk '/^Requests\/sec/ {printf "%.0f", $2}' "$1.wrk"; }
scan_running() {
    curl -sf -H "Authorization: Bearer $TOKEN2" "$L2/api/scanner/status" | jq -r .running
}

echo "course latency: wrk -c$CONNECTIONS for $IDLE_S s without a scan, then for as long as a full scan runs..."
latency 2 warmup
latency "$IDLE_S" idle
idle_p99=$(wrk_check idle)
curl -sf -X POST -H "Authorization: Bearer $TOKEN2" "$L2/api/scanner/scan" > scan.json ||
    fail "the scan did not start (another scan running?)"
wrk_start 900 busy
for _ in $(seq 6000); do
    [ "$(scan_running)" = false ] && break
    sleep 0.1
done
kill -0 "$WRK" 2> /dev/null || fail "wrk stopped before the scan ended"
kill -INT "$WRK"
wait "$WRK"
busy_p99=$(wrk_check busy)
[ "$(scan_running)" = false ] || fail "the scan did not end within 10 minutes"
scan_id=$(jq .scan_id scan.json)
curl -sf -H "Authorization: Bearer $TOKEN2" "$L2/api/scanner/history/$scan_id" > scan_record.json
added=$(jq .scan.added scan_record.json)
status=$(jq -r .scan.status scan_record.json)
[ "$status" = completed ] || fail "the scan ended $status: $(cat scan_record.json)"
scan_s=$(jq '(.scan.finished_at - .scan.started_at) / 100 | round / 10' scan_record.json)
latency "$IDLE_S" full
full_p99=$(wrk_check full)

# ---- 3. browsing the full index ------------------------------------------

# rate NAME URL [WRK-ARGS...]: requests/s of a BROWSE_S s wrk run, into
# NAME.wrk; fails on errors.
rate() {
    local name=$1 url=$2; shift 2
    wrk -t2 -c$CONNECTIONS -d"$BROWSE_S"s --latency "$@" "$url" > "$name.wrk"
    wrk_check "$name" > /dev/null
    rps "$name"
}
echo "browsing: wrk -c$CONNECTIONS for $BROWSE_S s on each answer, and nginx serving the same bytes..."
FIRST_FILE=$(curl -sf -H "Authorization: Bearer $TOKEN2" "$COURSE_URL" |
    jq '[.. | objects | select(.type? == "file") | .id][0]')
curl -sf -o "$WORK/lib1/Bench/Big/course.json" -H "Authorization: Bearer $TOKEN2" "$COURSE_URL"
course_bytes=$(stat -c %s "$WORK/lib1/Bench/Big/course.json")
curl -sf -o /dev/null -c jar -d "username=bench&password=bench-password" "$L2/login" || true
SESSION=$(awk '$6 == "lectern_session" {print $7}' jar)
[ -n "$SESSION" ] || fail "no session cookie from the sign-in form"
PAGE_URL="$L2/courses/$COURSE_ID"
curl -sf -o "$WORK/lib1/Bench/Big/course.html" -H "Cookie: lectern_session=$SESSION" "$PAGE_URL"
page_bytes=$(stat -c %s "$WORK/lib1/Bench/Big/course.html")
AUTH=(-H "Authorization: Bearer $TOKEN2")
me_rps=$(rate me "$L2/api/auth/me" "${AUTH[@]}")
categories_rps=$(rate categories "$L2/api/categories" "${AUTH[@]}")
file_rps=$(rate file "$L2/api/files/$FIRST_FILE" "${AUTH[@]}")
course_rps=$(rate course "$COURSE_URL" "${AUTH[@]}")
page_rps=$(rate page "$PAGE_URL" -H "Cookie: lectern_session=$SESSION")
nginx_json_rps=$(rate nginx_json "http://127.0.0.1:$NGINX_PORT/course.json")
nginx_page_rps=$(rate nginx_page "http://127.0.0.1:$NGINX_PORT/course.html")
revalidated_rps=$(rate revalidated "$COURSE_URL" "${AUTH[@]}" \
    -H "If-None-Match: $(curl -sfI "${AUTH[@]}" "$COURSE_URL" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')")

echo
echo "$(nproc) cores; $CLIENTS clients x 1 GiB, median of $ROUNDS rounds; wrk -t2 -c$CONNECTIONS"
awk -v l="$lectern_gibs" -v n="$nginx_gibs" \
    'BEGIN {printf "download          lectern %6.2f GiB/s  nginx %6.2f GiB/s  ratio %.2f x (target >= 0.9 x)\n", l, n, l/n}'
awk -v i="$idle_p99" -v b="$busy_p99" -v ir="$(rps idle)" -v br="$(rps busy)" \
    'BEGIN {printf "course p99        no scan %7.2f ms  during scan %7.2f ms  ratio %.2f x (target <= 3 x); %d / %d req/s\n", i, b, b/i, ir, br}'
echo "                  the scan of $LIB ($files files) added $added files in $scan_s s under load"
awk -v f="$full_p99" -v r="$(rps full)" \
    'BEGIN {printf "                  after the scan, on the full index: p99 %.2f ms, %d req/s\n", f, r}'
if awk -v s="$scan_s" 'BEGIN {exit !(s < 5)}'; then
    echo "WARNING: the scan took under 5 s; its p99 rests on few requests"
fi
echo "browsing ($files files indexed; req/s, $BROWSE_S s each)"
awk -v m="$me_rps" -v c="$categories_rps" -v f="$file_rps" 'BEGIN {
    printf "  /api/auth/me        %7d (the baseline)\n", m
    printf "  /api/categories     %7d  ratio %.2f x (target >= 0.5 x /api/auth/me)\n", c, c/m
    printf "  /api/files/{id}     %7d  ratio %.2f x (target >= 0.5 x /api/auth/me)\n", f, f/m }'
awk -v c="$course_rps" -v n="$nginx_json_rps" -v b="$course_bytes" -v r="$revalidated_rps" 'BEGIN {
    printf "  /api/courses/{id}   %7d  nginx %7d for the same %d bytes  ratio %.2f x (target >= 0.2 x); 304 revalidations %d\n", c, n, b, c/n, r }'
awk -v p="$page_rps" -v n="$nginx_page_rps" -v b="$page_bytes" 'BEGIN {
    printf "  /courses/{id} page  %7d  nginx %7d for the same %d bytes  ratio %.2f x (target >= 0.2 x)\n", p, n, b, p/n }'
