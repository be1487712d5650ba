#!/usr/bin/env bash
# The HTTP comparison of docs/performance.md: the same axum handler behind warrant's tower
# layer, a plain JWT middleware and a cached-JWT middleware, under the same closed-loop load
# over loopback, with one token and with N tokens in rotation.
#
#   scripts/http-compare.sh [--install] [--duration S] [--connections C] [--threads T]
#                           [--tokens N] [--blocks B] [--cache-capacity K] [--rounds R]
#
# It:
#   1. builds the example `http_compare` of warrant-verifier in release (feature `axum`;
#      crates/warrant-verifier/examples/http_compare/ says what each guard does);
#   2. mints, into a temporary folder, new keys, N warrant bearer tokens of B blocks (the
#      design's grant, as in the `verify` bench; default 20 000 tokens of 3 blocks) and N
#      EdDSA JWTs carrying the same grant;
#   3. for each round, for each token mode (`1`: the first token on every request; `N`:
#      the N tokens in turn, each coming back every N requests), for each guard (`layer`,
#      `jwt`, `jwt-cached`): starts a fresh server on 127.0.0.1:<free port> (empty caches;
#      the warrant verifier's and the JWT cache both keep K tokens, default the
#      verifier's default capacity, 10 000), checks that it answers 200 to the good
#      request and 403 to a request for another ticket, runs wrk (T threads, C
#      connections, S seconds) on `GET /tickets/123/email_address`, and stops it;
#   4. prints, per mode and guard (medians over the rounds), requests/s, p50 and p99
#      latency, and the ratios to the plain and to the cached JWT in the same mode, with
#      the machine (CPU, cores, load average before and after).
# Every answer must be 200: a run with any other status (wrk's count of 4xx/5xx, and the
# server's own count of answers that are not 200) or a socket error is reported as
# invalid, and the script exits 1, keeping its working folder (server logs, wrk outputs).
# wrk and the server share the machine's cores: the ratios compare the guards under the
# same conditions, the absolute figures are this machine's only.
# Every request goes to 127.0.0.1 only; every run is bounded by --duration.
#
# Needs: wrk, curl, python3. Missing tools are named and the script stops, unless
# --install is given (apt-get install wrk curl python3).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=10
CONNECTIONS=32
THREADS=2
TOKENS=20000
BLOCKS=3
CACHE=10000
ROUNDS=1
INSTALL=0
while [ $# -gt 0 ]; do
  case "$1" in
    --install) INSTALL=1 ;;
    --duration) DURATION=$2; shift ;;
    --connections) CONNECTIONS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --tokens) TOKENS=$2; shift ;;
    --blocks) BLOCKS=$2; shift ;;
    --cache-capacity) CACHE=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "http-compare.sh: unknown argument \`$1\` (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for n in "$DURATION" "$CONNECTIONS" "$THREADS" "$TOKENS" "$BLOCKS" "$CACHE" "$ROUNDS"; do
  case "$n" in
    ''|*[!0-9]*|0) echo "http-compare.sh: \`$n\` is not a positive whole number (see --help)" >&2; exit 2 ;;
  esac
done

# ---- prerequisites ----
missing=()
for tool in wrk curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$INSTALL" = 1 ]; then
    apt-get install -y "${missing[@]}" || { apt-get update && apt-get install -y "${missing[@]}"; }
  else
    echo "http-compare.sh: missing tools. Install them, or rerun with --install:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
fi

echo "== cargo build --release -p warrant-verifier --features axum --example http_compare"
cargo build --release -q -p warrant-verifier --features axum --example http_compare
BIN="${CARGO_TARGET_DIR:-target}/release/examples/http_compare"

WORK=$(mktemp -d -t warrant-http-compare.XXXXXX)
SERVER_PID=""
STATUS=0
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
finish() {
  local rc=$?
  stop_server
  # The keys and tokens are of no use after the run (and large): never kept.
  rm -f "$WORK/keys.hex" "$WORK"/*.tokens
  if [ "$STATUS" = 0 ] && [ "$rc" = 0 ]; then rm -rf "$WORK"; else echo "(kept $WORK: server logs, wrk outputs)" >&2; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

machine() {
  echo "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, $(uname -sr)"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== minting $TOKENS warrant tokens ($BLOCKS blocks) and $TOKENS JWTs"
"$BIN" mint --dir "$WORK" --tokens "$TOKENS" --blocks "$BLOCKS"

GOOD=/tickets/123/email_address
OTHER=/tickets/124/email_address
RESULTS="$WORK/results"
: > "$RESULTS"

# code URL TOKEN: the status of GET URL with the token.
code() {
  curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" "$1"
}

# stat JSON NAME: one counter of `GET /stats`.
stat() {
  python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# run GUARD MODE ROUND: one measurement on a fresh server.
run() {
  local guard=$1 mode=$2 round=$3
  local name="$guard-$mode-$round" port file count
  port=$(free_port)
  local url="http://127.0.0.1:$port"
  case "$guard" in layer) file="$WORK/warrant.tokens" ;; *) file="$WORK/jwt.tokens" ;; esac
  case "$mode" in 1) count=1 ;; *) count=$TOKENS ;; esac
  "$BIN" serve --dir "$WORK" --guard "$guard" --listen "127.0.0.1:$port" \
    --cache-capacity "$CACHE" > "$WORK/server-$name.log" 2>&1 &
  SERVER_PID=$!
  local ready=0
  for _ in $(seq 1 100); do
    if curl -fsS "$url/healthz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$ready" != 1 ]; then
    echo "!! $name: the server did not start:" >&2; cat "$WORK/server-$name.log" >&2
    STATUS=1; stop_server; return
  fi
  # The guard decides: the good request passes, another ticket's is refused.
  local first good other
  first=$(head -n 1 "$file")
  good=$(code "$url$GOOD" "$first")
  other=$(code "$url$OTHER" "$first")
  if [ "$good" != 200 ] || [ "$other" != 403 ]; then
    echo "!! $name: expected 200 for $GOOD and 403 for $OTHER, got $good and $other" >&2
    STATUS=1; stop_server; return
  fi
  local before after
  before=$(curl -fsS "$url/stats")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s \
    -s scripts/http-compare.lua "$url" -- "$file" "$count" "$THREADS" "$GOOD" \
    > "$WORK/wrk-$name.txt" 2>&1 || true
  after=$(curl -fsS "$url/stats")
  stop_server
  local line non200 misses requests
  line=$(grep '^RESULT ' "$WORK/wrk-$name.txt" || true)
  if [ -z "$line" ]; then
    echo "!! $name: wrk reported nothing:" >&2; cat "$WORK/wrk-$name.txt" >&2
    STATUS=1; return
  fi
  non200=$(( $(stat "$after" non_200) - $(stat "$before" non_200) ))
  requests=$(( $(stat "$after" requests) - $(stat "$before" requests) ))
  misses=$(( $(stat "$after" cache_misses) - $(stat "$before" cache_misses) ))
  echo "-- $name: ${line#RESULT } server_requests=$requests server_non200=$non200 jwt_cache_misses=$misses"
  case "$line" in
    *" non2xx=0 sockerr=0"*) ;;
    *) echo "!! $name: wrk saw failed requests: the run is invalid" >&2; STATUS=1; return ;;
  esac
  if [ "$non200" != 0 ]; then
    echo "!! $name: the server answered $non200 requests with another status than 200: the run is invalid" >&2
    STATUS=1; return
  fi
  echo "$guard $mode $round ${line#RESULT } server_requests=$requests jwt_cache_misses=$misses" >> "$RESULTS"
}

echo "== $ROUNDS round(s) x {1, $TOKENS} tokens x {layer, jwt, jwt-cached}:" \
  "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, a fresh server per run"
for round in $(seq 1 "$ROUNDS"); do
  for mode in 1 N; do
    for guard in layer jwt jwt-cached; do
      run "$guard" "$mode" "$round"
    done
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== summary: $(machine); load average $LOAD_BEFORE before, $LOAD_AFTER after"
echo "   wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, closed loop over loopback; warrant tokens of $BLOCKS blocks" \
  "(bearer); caches of $CACHE tokens; medians of $ROUNDS round(s); latency in ms"
python3 - "$RESULTS" "$TOKENS" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    guard, mode, _round, *fields = line.split()
    kv = dict(f.split("=", 1) for f in fields)
    rows.setdefault((mode, guard), []).append(kv)
med = lambda runs, k: statistics.median(float(r[k]) for r in runs)
print(f"{'guard':<11} {'tokens':>6} {'req/s':>9} {'p50':>7} {'p99':>7}"
      f"  {'req/s÷jwt':>9} {'p99÷jwt':>7}  {'req/s÷cached':>12} {'p99÷cached':>10}  {'jwt cache hits':>14}")
for mode in ("1", "N"):
    base = {g: rows.get((mode, g)) for g in ("jwt", "jwt-cached")}
    for guard in ("layer", "jwt", "jwt-cached"):
        runs = rows.get((mode, guard))
        if not runs:
            continue
        rps, p50, p99 = med(runs, "rps"), med(runs, "p50_ms"), med(runs, "p99_ms")
        ratios = []
        for g in ("jwt", "jwt-cached"):
            b = base[g]
            ratios.append((rps / med(b, "rps"), p99 / med(b, "p99_ms")) if b else (float("nan"),) * 2)
        hits = ""
        if guard == "jwt-cached":
            reqs = sum(float(r["server_requests"]) for r in runs)
            hits = f"{1 - sum(float(r['jwt_cache_misses']) for r in runs) / reqs:.1%}" if reqs else "-"
        tokens = "1" if mode == "1" else sys.argv[2]
        print(f"{guard:<11} {tokens:>6} {rps:>9.0f} {p50:>7.2f} {p99:>7.2f}"
              f"  {ratios[0][0]:>8.2f}× {ratios[0][1]:>6.2f}×  {ratios[1][0]:>11.2f}× {ratios[1][1]:>9.2f}×  {hits:>14}")
PY
if [ "$STATUS" != 0 ]; then echo "!! some runs were invalid (see above): their figures are left out" >&2; fi
exit "$STATUS"
