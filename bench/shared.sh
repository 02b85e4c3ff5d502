#!/usr/bin/env bash
# What the shared services cost on the warm read path: the feed and a user
# on the `small` dataset (embedded, SQLite), picogram alone against picogram
# with `--redis` (the cache-invalidation bus subscribed, every request's
# rate-limit hit shared through Redis), alternated round by round in one
# session; then how many Redis commands the shared rate limits sent per
# request (the syncer's batching).
#
#   bench/shared.sh      env: ROUNDS=3 DURATION=10s CONNS=32 DATA=/tmp/picogram-small
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ensure_small
RD_PORT=${RD_PORT:-18482}
redis-server --port "$RD_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" --daemonize no \
  --loglevel warning &
RD_PID=$!
trap 'kill "$RD_PID" 2>/dev/null; bench_cleanup' EXIT
for _ in $(seq 50); do redis-cli -p "$RD_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

one_round() { # one_round PATH ARGS -> "rps p50 p99"
  PG_ARGS="$2" start_picogram
  while read -r t; do curl -fs -o /dev/null "http://127.0.0.1:$PG_PORT$1&access_token=$t"; done <"$DATA/tokens.txt"
  local out
  out=$(wrk_run "http://127.0.0.1:$PG_PORT" "$1" "$DATA/tokens.txt")
  kill "$PG_PID"; wait "$PG_PID" 2>/dev/null || true; PG_PID= # gone before the next round starts
  echo "$out"
}

for path in "/v1/users/self/feed?count=20" "/v1/users/self?x=1"; do
  echo "== GET $path; wrk -t1 -c$CONNS -d$DURATION; picogram --threads 2, alone and with --redis"
  printf '%-6s %-12s %12s %10s %10s\n' round picogram req/s p50 p99
  : >"$WORK/alone"; : >"$WORK/redis"
  for r in $(seq "$ROUNDS"); do
    read -r rps p50 p99 < <(one_round "$path" "")
    printf '%-6s %-12s %12s %10s %10s\n' "$r" alone "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/alone"
    redis-cli -p "$RD_PORT" config resetstat >/dev/null
    read -r rps p50 p99 < <(one_round "$path" "--redis redis://127.0.0.1:$RD_PORT")
    printf '%-6s %-12s %12s %10s %10s\n' "$r" "with redis" "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/redis"
    incr=$(redis-cli -p "$RD_PORT" info commandstats | awk -F'[=,:]' '/^cmdstat_incrby/ {print $3}')
    echo "       INCRBY sent in the round: ${incr:-0} (one per key per sync, not per request)"
  done
  a=$(median <"$WORK/alone"); b=$(median <"$WORK/redis")
  echo "median req/s: alone $a, with redis $b, ratio $(awk -v a="$b" -v b="$a" 'BEGIN {printf "%.3f", a/b}')"
done
