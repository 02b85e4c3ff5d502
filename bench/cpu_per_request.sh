#!/usr/bin/env bash
# picogram's CPU time per request, builds side by side: on a noisy 2-core
# machine, where wrk shares the cores and req/s moves by half from one run
# to the next, the CPU a server spends per answer (user + system, from
# /proc) moves far less, and is what a change to a read path changes.
#
#   bench/cpu_per_request.sh SCENARIO BIN [BIN...]
#     SCENARIO: user-recent | media | user, or like | comment | follow | mixed
#               (the lists of scenarios.sh; the writes two requests a token,
#               so that the one undoing a write is its user's), or a path,
#               e.g. '/v1/tags/sf/media/recent?count=20'
#   env: CYCLES=3 (each BIN once per cycle, alternated), DURATION=6s per
#        round (two rounds per start, after 5 s of warm-up), CONNS=32,
#        DATA=/tmp/picogram-small (a copy is used)
# Prints each round (BIN req/s cpu-us/request), then each BIN's medians.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-6s}
CYCLES=${CYCLES:-3}
. bench/lib.sh
[ $# -ge 2 ] || { echo "usage: $0 SCENARIO BIN [BIN...]" >&2; exit 2; }
ensure_small
SCENARIO=$1; shift
cp -r "$DATA" "$WORK/data"
LISTS=$WORK/lists
python3 bench/scenario_lists.py "$WORK/data/picogram.db" "$LISTS" >/dev/null
case $SCENARIO in
  /*) echo "GET $SCENARIO" >"$WORK/list" ;;
  *) [ -f "$LISTS/$SCENARIO" ] || { echo "no scenario $SCENARIO" >&2; exit 2; }; cp "$LISTS/$SCENARIO" "$WORK/list" ;;
esac
PER=1
case $SCENARIO in like | comment | follow | mixed) PER=2 ;; esac
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
: >"$WORK/rounds"
for _ in $(seq "$CYCLES"); do
  for bin in "$@"; do
    "$bin" serve --listen 127.0.0.1:$PG_PORT --data "$WORK/data" --threads 2 --access-log off \
      --rate-limit 100000000 2>"$WORK/picogram.log" &
    PG_PID=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PG_PORT/" && break; sleep 0.1; done
    wrk -t1 -c"$CONNS" -d5s -s bench/scenario.lua "http://127.0.0.1:$PG_PORT" -- "$WORK/list" "$WORK/data/tokens.txt" $PER \
      >/dev/null
    for _ in 1 2; do
      c0=$(cpu_ticks "$PG_PID")
      wrk -t1 -c"$CONNS" -d"$DURATION" -s bench/scenario.lua "http://127.0.0.1:$PG_PORT" -- "$WORK/list" \
        "$WORK/data/tokens.txt" $PER >"$WORK/wrk.txt"
      c1=$(cpu_ticks "$PG_PID")
      awk -v b="$bin" -v c=$((c1 - c0)) -v t="$TCK" '/requests in/ {n=$1} /^Requests\/sec/ {r=$2}
        /Non-2xx/ {e=$NF} END {if (e > 0) {print "non-2xx answers: " e > "/dev/stderr"; exit 1}
        printf "%s %s %.1f\n", b, r, c / t * 1e6 / n}' "$WORK/wrk.txt" | tee -a "$WORK/rounds"
    done
    kill "$PG_PID"; wait "$PG_PID" 2>/dev/null || true
    PG_PID=
  done
done
echo "== medians over $CYCLES cycles ($SCENARIO)"
for bin in "$@"; do
  printf '%s: %s req/s, %s us of CPU per request\n' "$bin" \
    "$(awk -v b="$bin" '$1 == b {print $2}' "$WORK/rounds" | median)" \
    "$(awk -v b="$bin" '$1 == b {print $3}' "$WORK/rounds" | median)"
done
