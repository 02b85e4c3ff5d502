#!/usr/bin/env bash
# A write scenario run for many rounds on one server, then again after a
# restart on the same data: whether a write gets slower as its rows pile up
# (the data) or as the process runs (its state). Comments on the `small`
# dataset's 1,000 listed photos add about 40,000 rows a round to comments
# and to activity.
#
#   bench/write_drift.sh [SCENARIO]   env: ROUNDS=5 (before the restart; 3 after)
#                                          DURATION=8s CONNS=32 DATA=/tmp/picogram-small
#                                          PICOGRAM_BIN (default build/picogram)
# SCENARIO: like, comment or follow (default comment). Prints each round:
# req/s, p50, p99.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}; DURATION=${DURATION:-8s}
. bench/lib.sh
ensure_small
SCENARIO=${1:-comment}
copy_with_lists "$SCENARIO"

run_rounds() { # LABEL N
  for r in $(seq "$2"); do
    wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s bench/scenario.lua "http://127.0.0.1:$PG_PORT" -- \
      "$WORK/lists/$SCENARIO" "$DATA/tokens.txt" 2 >"$WORK/wrk.txt"
    awk -v l="$1 $r" '/^Requests\/sec/ {q=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2}
         END {printf "%-12s %10s %10s %10s\n", l, q, p50, p99}' "$WORK/wrk.txt"
  done
}

printf '%-12s %10s %10s %10s\n' round req/s p50 p99
start_picogram
run_rounds first "$ROUNDS"
kill "$PG_PID"; wait "$PG_PID" 2>/dev/null || true
start_picogram
run_rounds restarted 3
echo "database: $(du -m "$DATA/picogram.db" | cut -f1) MiB"
