#!/usr/bin/env bash
# Writes with one and with four connections, not 32: the latency of a
# write that has the writer (nearly) to itself, its group-commit wait
# gone, so what is left of its tail is what else the server does meanwhile
# (the checkpoints). Also the WAL's fsyncs: how many, and how long on
# average.
#
#   bench/write_alone.sh [SCENARIO]   env: DURATION=6s DATA=/tmp/picogram-small
#                                          PICOGRAM_BIN (default build/picogram)
# SCENARIO: like (default), comment or follow.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-6s}
. bench/lib.sh
ensure_small
SCENARIO=${1:-like}
copy_with_lists "$SCENARIO"
METRICS=$((PG_PORT + 2))
PG_ARGS="--metrics-listen 127.0.0.1:$METRICS" start_picogram
printf '%-6s %10s %10s %10s %10s\n' conns req/s p50 p90 p99
for c in 1 4; do
  wrk -t1 -c"$c" -d"$DURATION" --latency -s bench/scenario.lua "http://127.0.0.1:$PG_PORT" -- \
    "$WORK/lists/$SCENARIO" "$DATA/tokens.txt" 2 >"$WORK/wrk.txt"
  awk -v c="$c" '/^Requests\/sec/ {q=$2} $1=="50%" {p50=$2} $1=="90%" {p90=$2} $1=="99%" {p99=$2}
       END {printf "%-6s %10s %10s %10s %10s\n", c, q, p50, p90, p99}' "$WORK/wrk.txt"
done
curl -s "http://127.0.0.1:$METRICS/metrics" | awk '
  /^picogram_sqlite_wal_sync_seconds_sum/ {s=$2} /^picogram_sqlite_wal_sync_seconds_count/ {n=$2}
  /^picogram_sqlite_checkpoints_total/ {k=$2} /^picogram_sqlite_checkpoints_quick_total/ {q=$2}
  END {if (n) printf "WAL fsyncs: %d, %.2f ms on average; whole-WAL checkpoints: %d (%d of them quick)\n", n, 1000*s/n, k, q}'
