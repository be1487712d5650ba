#!/usr/bin/env bash
# Load test of the issuer's mint path over loopback, bounded in time (docs/performance.md,
# "Issuer mint throughput").
#
#   scripts/loadtest.sh [--install] [--duration S] [--connections C] [--threads T]
#                       [--bodies N] [--challenge-duration S] [--only sqlite|postgres]
#                       [--humans H] [--binary PATH]
#
# For SQLite, and for PostgreSQL too when WARRANT_TEST_DATABASE_URL names a server (a fresh
# database is created there and dropped afterwards), it:
#   1. starts `target/release/warrant serve` (built first; or --binary) on 127.0.0.1:<free port> with a temporary
#      data directory and a configuration enrolling H humans (`human01`…, default 16) with
#      one device key made by scripts/mint_bodies.py, and the per-human rate limits raised
#      out of the way (every request still counts itself); requests go to the humans in
#      turn;
#   2. prepares mint requests: each is `POST /v1/challenges`, then an Ed25519 signature of
#      the returned `sign` text, written as a complete `POST /v1/tokens` body (untimed);
#   3. warm-up (not counted): wrk sends 3000 prepared bodies for 3 s; its rate sizes the
#      next batch (1.4 × rate × S + 500 bodies, unless --bodies N), prepared likewise;
#   4. mint run: wrk sends each body once, POST /v1/tokens, C connections, S seconds;
#   5. challenge run: wrk POST /v1/challenges, C connections, a shorter time;
#   6. stops the server (SIGTERM), and drops the PostgreSQL database.
# The server is restarted (same data) before 4 and before 5, so that requests cut off at the
# end of one wrk run cannot affect the next (see the note in docs/performance.md).
# SQLite runs in the journal mode the issuer sets (WAL since issue 11; the script prints it).
# fsyncs: first a probe of the disk (200 fsyncs of 512 bytes in the data directory: median
# and p90 latency); then, when strace is installed, the server is traced during the
# preparation of the bodies (challenges) and during the mint run (strace -f -y -e
# trace=fsync,fdatasync,sync_file_range,unlink,unlinkat), and the script reports the
# fsyncs per challenge, per mint and per full mint (the two added), by file (the database,
# its -wal or -journal file), the completed WAL checkpoints among them, and the rollback-journal
# deletions (one per write transaction in SQLite's default
# `delete` journal mode). The traced rates are not the throughput figures (strace slows
# every system call): they come from untraced runs. Only the issuer's process is traced;
# PostgreSQL's fsyncs happen in the database server (shared with whatever else runs on it)
# and are not counted.
# --binary PATH serves with that binary instead of `cargo run --release` (to compare two
# commits with the same script).
# A run that ran out of prepared bodies, or got any non-2xx answer, is reported as invalid
# and the script exits 1, keeping its working folder (server logs, wrk outputs).
# Every request goes to 127.0.0.1 only; every run is bounded by --duration.
#
# Needs: wrk, curl, python3 with `cryptography`, psql for PostgreSQL, and strace to count
# fsyncs (optional: without it the counts are skipped). Missing tools are named and the
# script stops, unless --install is given (apt-get install wrk curl postgresql-client
# strace; pip install cryptography).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=20
CHALLENGE_DURATION=10
CONNECTIONS=4
THREADS=2
BODIES=auto
WARMUP_BODIES=3000
WARMUP_SECONDS=3
INSTALL=0
ONLY=""
NHUMANS=16
BINARY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --install) INSTALL=1 ;;
    --duration) DURATION=$2; shift ;;
    --challenge-duration) CHALLENGE_DURATION=$2; shift ;;
    --connections) CONNECTIONS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --bodies) BODIES=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --binary) BINARY=$2; shift ;;
    --sqlite-wal) echo "loadtest.sh: --sqlite-wal is gone: the issuer puts SQLite in WAL mode itself since issue 11, and every SQLite run uses it" >&2; exit 2 ;;
    --humans) NHUMANS=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "loadtest.sh: unknown argument \`$1\` (see --help)" >&2; exit 2 ;;
  esac
  shift
done
PG_URL=${WARRANT_TEST_DATABASE_URL:-}

# ---- prerequisites ----
missing_apt=()
command -v wrk >/dev/null || missing_apt+=(wrk)
command -v curl >/dev/null || missing_apt+=(curl)
if [ -n "$PG_URL" ] && ! command -v psql >/dev/null; then missing_apt+=(postgresql-client); fi
if [ "$INSTALL" = 1 ] && ! command -v strace >/dev/null; then missing_apt+=(strace); fi
missing_pip=()
python3 -c 'import cryptography.hazmat.primitives.asymmetric.ed25519' 2>/dev/null \
  || missing_pip+=(cryptography)
if [ ${#missing_apt[@]} -gt 0 ] || [ ${#missing_pip[@]} -gt 0 ]; then
  if [ "$INSTALL" = 1 ]; then
    if [ ${#missing_apt[@]} -gt 0 ]; then
      apt-get install -y "${missing_apt[@]}" || { apt-get update && apt-get install -y "${missing_apt[@]}"; }
    fi
    if [ ${#missing_pip[@]} -gt 0 ]; then python3 -m pip install "${missing_pip[@]}"; fi
  else
    echo "loadtest.sh: missing tools. Install them, or rerun with --install:" >&2
    [ ${#missing_apt[@]} -gt 0 ] && echo "  apt-get install -y ${missing_apt[*]}" >&2
    [ ${#missing_pip[@]} -gt 0 ] && echo "  python3 -m pip install ${missing_pip[*]}" >&2
    exit 2
  fi
fi

if [ -z "$BINARY" ]; then
  echo "== cargo build --release (the warrant binary)"
  cargo build --release -q
  BINARY=target/release/warrant
fi
echo "== serving with $BINARY"
HAVE_STRACE=0
if command -v strace >/dev/null; then HAVE_STRACE=1; else
  echo "== strace not installed: fsyncs are not counted (apt-get install strace, or --install)"
fi

WORK=$(mktemp -d -t warrant-loadtest.XXXXXX)
SERVER_PID=""
PG_DB=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  if [ -n "$PG_DB" ]; then
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    PG_DB=""
  fi
}
STATUS=0
finish() {
  local rc=$?
  cleanup
  if [ "$STATUS" = 0 ] && [ "$rc" = 0 ]; then rm -rf "$WORK"; else echo "(kept $WORK: server logs, wrk outputs)" >&2; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

DEVICE=$(python3 scripts/mint_bodies.py keygen --out "$WORK/device.key")
{
  echo '# Pre-made challenges must still be live when wrk sends them.'
  echo 'challenge_ttl = "10m"'
  # Per-human rate limits (where this version has them) out of the way: this measures
  # throughput, not the limiter's refusals.
  if grep -q challenges_per_minute crates/warrant-issuer/src/config.rs; then
    echo 'mints_per_minute = 1000000000'
    echo 'challenges_per_minute = 1000000000'
  fi
  # And the per-client limits (since issue 9): every request comes from 127.0.0.1.
  if grep -q challenges_per_minute_per_client crates/warrant-issuer/src/config.rs; then
    echo 'challenges_per_minute_per_client = 1000000000'
    echo 'verifications_per_minute_per_client = 1000000000'
    echo 'max_live_challenges = 1000000000'
  fi
  cat <<EOF

[[roles]]
name = "support"
max_ttl = "30m"
[roles.ceiling]
audience = ["support-api"]
allow = [ { resources = ["tickets/**"], actions = ["read"] } ]
EOF
  for i in $(seq -w 1 "$NHUMANS"); do
    printf '\n[[humans]]\nid = "human%s"\nroles = ["support"]\ndevice_keys = ["%s"]\n' "$i" "$DEVICE"
  done
} > "$WORK/warrant.toml"
HUMANS=$(seq -w -s, 1 "$NHUMANS" | sed 's/\([0-9][0-9]*\)/human\1/g')

RESULTS="$WORK/results"
: > "$RESULTS"

# audit_mints URL DATA_DIR: how many `mint` entries the audit log holds.
audit_mints() {
  python3 - "$1" "$(cat "$2/admin.token")" <<'PY'
import json, sys, urllib.request
url, token = sys.argv[1], sys.argv[2].strip()
since, mints = 0, 0
while True:
    req = urllib.request.Request(f"{url}/v1/audit?since={since}&limit=100000",
                                 headers={"Authorization": f"Bearer {token}"})
    rows = [json.loads(l) for l in urllib.request.urlopen(req).read().splitlines() if l]
    if not rows:
        break
    mints += sum(r["kind"] == "mint" for r in rows)
    since = rows[-1]["seq"]
print(mints)
PY
}

# start_server NAME URL ARGS...: starts the issuer (its output appended to the logs) and
# waits until it answers.
start_server() {
  local name=$1 url=$2
  shift 2
  "$BINARY" "$@" >>"$WORK/server-$name.out" 2>>"$WORK/server-$name.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "$url/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$name.log" >&2; return 1; }
    sleep 0.2
  done
  curl -fsS "$url/readyz" >/dev/null
}

stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# fsync_probe DIR: the disk's fsync latency where the data lives.
fsync_probe() {
  python3 - "$1" <<'PY'
import os, statistics, sys, time
path = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
times = []
for i in range(200):
    os.pwrite(fd, os.urandom(512), 0)
    t = time.perf_counter(); os.fsync(fd); times.append((time.perf_counter() - t) * 1000)
os.close(fd); os.unlink(path)
times.sort()
print(f"median {statistics.median(times):.2f} ms, p90 {times[int(len(times) * 0.9)]:.2f} ms over 200 fsyncs of 512 bytes")
PY
}

# trace_start NAME PHASE: strace the server (every thread) until trace_stop.
TRACE_PID=""
trace_start() {
  [ "$HAVE_STRACE" = 1 ] || return 0
  strace -f -y -qq -e trace=fsync,fdatasync,sync_file_range,unlink,unlinkat \
    -o "$WORK/strace-$1-$2.txt" -p "$SERVER_PID" 2>>"$WORK/strace-$1.err" &
  TRACE_PID=$!
  sleep 1
}
trace_stop() {
  [ -n "$TRACE_PID" ] || return 0
  kill -INT "$TRACE_PID" 2>/dev/null || true
  wait "$TRACE_PID" 2>/dev/null || true
  TRACE_PID=""
}
# fsync_report NAME PHASE COUNT WHAT: fsyncs per WHAT in the trace of PHASE, by file.
fsync_report() {
  local file="$WORK/strace-$1-$2.txt"
  [ -f "$file" ] || return 0
  python3 - "$file" "$3" "$1" "$4" <<'PY' | tee -a "$RESULTS"
import re, sys
path, n, name, what = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
syncs, journals, by = 0, 0, {}
# A WAL checkpoint syncs the WAL, copies its pages, then, when it copied them all, syncs
# the database: a db sync, and the WAL sync just before it on the same thread, are a
# completed checkpoint's. A partial one (readers hold back the last pages) syncs the WAL
# only, and is not told apart from a commit's sync here.
checkpoints, last = 0, {}
for line in open(path):
    m = re.search(r"\b(fsync|fdatasync|sync_file_range)\((\d+)<([^>]*)>", line)
    if m and "= 0" in line:
        syncs += 1
        f = m.group(3)
        kind = "wal" if f.endswith("-wal") else "journal" if f.endswith("-journal") else \
            "db" if f.endswith(".db") else "dir" if "." not in f.rsplit("/", 1)[-1] else "other"
        by[kind] = by.get(kind, 0) + 1
        tid = line.split(None, 1)[0]
        if kind == "db" and last.get(tid) == "wal":
            checkpoints += 1
        last[tid] = kind
    elif re.search(r"unlink(at)?\(.*-journal\"", line) and "= 0" in line:
        journals += 1
n = max(n, 1)
parts = " ".join(f"{k}={v / n:.2f}" for k, v in sorted(by.items()))
print(f"{name} fsyncs per {what}: {syncs / n:.2f} ({syncs} over {n}; by file: {parts or '-'}); "
      f"completed WAL checkpoints per {what}: {checkpoints / n:.3f} (2 fsyncs each: WAL, then db); "
      f"rollback-journal transactions per {what}: {journals / n:.2f}")
with open(path + ".per", "w") as out:
    out.write(f"{syncs / n}\n")
PY
}
# full_mint_report NAME: the fsyncs of a challenge and of a mint, added up.
full_mint_report() {
  local c="$WORK/strace-$1-challenges.txt.per" m="$WORK/strace-$1-mints.txt.per"
  [ -f "$c" ] && [ -f "$m" ] || return 0
  python3 - "$c" "$m" "$1" <<'PY' | tee -a "$RESULTS"
import sys
c, m = (float(open(p).read()) for p in sys.argv[1:3])
print(f"{sys.argv[3]} fsyncs per full mint (a challenge and its mint): {c + m:.2f}")
PY
}

# run_backend NAME [DATABASE_URL]
run_backend() {
  local name=$1 database=${2:-}
  local data="$WORK/data-$name" port
  port=$(free_port)
  local url="http://127.0.0.1:$port"
  local args=(serve --config "$WORK/warrant.toml" --listen "127.0.0.1:$port" --data-dir "$data")
  [ -n "$database" ] && args+=(--database "$database")
  echo
  echo "== $name: $BINARY ${args[*]}"
  start_server "$name" "$url" "${args[@]}"
  if [ -z "$database" ]; then
    echo "-- $name: SQLite journal mode: $(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode").fetchone()[0])' "$data/warrant.db")"
    echo "$name fsync probe ($data): $(fsync_probe "$data")" | tee -a "$RESULTS"
  fi

  echo "-- $name: warm-up: preparing $WARMUP_BODIES signed challenges (untimed)"
  python3 scripts/mint_bodies.py bodies --url "$url" --key "$WORK/device.key" \
    --humans "$HUMANS" --count "$WARMUP_BODIES" --out "$WORK/warmup-$name.jsonl"
  echo "-- $name: warm-up: wrk -t$THREADS -c$CONNECTIONS -d${WARMUP_SECONDS}s POST /v1/tokens (not counted)"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP_SECONDS}s" --timeout 10s \
    -s scripts/loadtest-mint.lua "$url" -- "$WORK/warmup-$name.jsonl" "$THREADS" \
    > "$WORK/wrk-warmup-$name.txt"
  local warm count
  warm=$(grep '^RESULT ' "$WORK/wrk-warmup-$name.txt")
  echo "   $warm"
  count=$BODIES
  if [ "$count" = auto ]; then
    count=$(echo "$warm" | awk -v d="$DURATION" -v w="$WARMUP_SECONDS" '{
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      rate = v["requests"] / w; if (v["exhausted"] > 0) rate *= 2;
      printf "%d", rate * d * 1.4 + 500 }')
  fi
  # A fresh process after each wrk run: wrk ends a run by dropping the requests still in
  # flight, and a mint cancelled inside sqlx's `begin()` can leave a pooled PostgreSQL
  # connection in an open transaction (sqlx 0.9.0; docs/performance.md), which would
  # then skew the next phase.
  stop_server
  start_server "$name" "$url" "${args[@]}"

  local before
  before=$(audit_mints "$url" "$data")
  echo "-- $name: preparing $count signed challenges (untimed)"
  python3 scripts/mint_bodies.py bodies --url "$url" --key "$WORK/device.key" \
    --humans "$HUMANS" --count "$count" --out "$WORK/bodies-$name.jsonl"
  if [ -n "$database" ]; then
    # The issuer's process does no fsync on PostgreSQL: the server does, out of sight of
    # a trace of the issuer (printing 0.00 per mint would mislead).
    echo "$name fsyncs: made by the PostgreSQL server, not counted" | tee -a "$RESULTS"
  elif [ "$HAVE_STRACE" = 1 ]; then
    # The fsyncs of challenges and of mints, counted apart from the timed runs: 300
    # challenges one after the other, then 300 mints by wrk (strace slows the server).
    echo "-- $name: fsyncs: 300 challenges, then 300 mints, under strace (not timed)"
    trace_start "$name" challenges
    python3 scripts/mint_bodies.py bodies --url "$url" --key "$WORK/device.key" \
      --humans "$HUMANS" --count 300 --out "$WORK/traced-$name.jsonl"
    trace_stop
    fsync_report "$name" challenges 300 challenge
    local traced_before traced_after
    traced_before=$(audit_mints "$url" "$data")
    trace_start "$name" mints
    wrk -t"$THREADS" -c"$CONNECTIONS" -d5s --timeout 10s \
      -s scripts/loadtest-mint.lua "$url" -- "$WORK/traced-$name.jsonl" "$THREADS" \
      > "$WORK/wrk-traced-$name.txt" || true
    trace_stop
    traced_after=$(audit_mints "$url" "$data")
    fsync_report "$name" mints "$((traced_after - traced_before))" mint
    full_mint_report "$name"
    before=$traced_after
  fi

  echo "-- $name: mint run: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s POST /v1/tokens"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency \
    -s scripts/loadtest-mint.lua "$url" -- "$WORK/bodies-$name.jsonl" "$THREADS" \
    | tee "$WORK/wrk-mint-$name.txt"
  local line
  line=$(grep '^RESULT ' "$WORK/wrk-mint-$name.txt" | sed "s/^RESULT /$name mint /")
  echo "$line" >> "$RESULTS"
  case "$line" in
    *" exhausted=0 "*) ;;
    *) echo "!! $name: a wrk thread ran out of pre-made bodies: the mint figures are invalid;" \
            "rerun with a larger --bodies" >&2; STATUS=1 ;;
  esac
  case "$line" in
    *" non2xx=0 sockerr=0 "*) ;;
    *) echo "!! $name: some mint requests failed:" >&2
       grep '^FAILURE' "$WORK/wrk-mint-$name.txt" >&2 || true
       grep -E 'ERROR|WARN' "$WORK/server-$name.log" | tail -5 >&2 || true
       STATUS=1 ;;
  esac
  # The issuer's own count: every successful mint is one `mint` audit entry (requests
  # still in flight when wrk stops are answered too, so it may exceed wrk's by up to C).
  local after
  after=$(audit_mints "$url" "$data")
  echo "-- $name: the audit log gained $((after - before)) mint entries during the run"
  stop_server
  start_server "$name" "$url" "${args[@]}"

  echo "-- $name: challenge run: wrk -t$THREADS -c$CONNECTIONS -d${CHALLENGE_DURATION}s POST /v1/challenges"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${CHALLENGE_DURATION}s" --timeout 10s --latency \
    -s scripts/loadtest-challenge.lua "$url" -- "$HUMANS" | tee "$WORK/wrk-challenge-$name.txt"
  line=$(grep '^RESULT ' "$WORK/wrk-challenge-$name.txt" | sed "s/^RESULT /$name challenge /")
  echo "$line" >> "$RESULTS"
  case "$line" in
    *" non2xx=0 sockerr=0"*) ;;
    *) echo "!! $name: some challenge requests failed (see the server log)" >&2; STATUS=1 ;;
  esac
  stop_server
  echo "-- $name: server stopped"
  local leaked
  leaked=$(grep -c 'there is already a transaction in progress' "$WORK/server-$name.log" || true)
  if [ "$leaked" -gt 0 ]; then
    echo "-- $name: note: the server logged $leaked × 'there is already a transaction in progress'" \
         "(a pooled connection left in a transaction by a cancelled request)"
  fi
}

if [ "$ONLY" != postgres ]; then
  run_backend sqlite
fi

if [ "$ONLY" = sqlite ]; then
  :
elif [ -n "$PG_URL" ]; then
  PG_DB="warrant_load_$$_$RANDOM"
  psql -q "$PG_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
  run_backend postgres "${PG_URL%/*}/$PG_DB"
  cleanup
else
  echo
  echo "== postgres: skipped (set WARRANT_TEST_DATABASE_URL, for example postgres://postgres@127.0.0.1:5432/postgres)"
fi

echo
echo "== summary (wrk, closed loop, $CONNECTIONS connections; latency in ms; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
cat "$RESULTS"
exit "$STATUS"
