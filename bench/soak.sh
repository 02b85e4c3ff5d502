#!/usr/bin/env bash
# Soak: the mixed scenario (100 reads to 1 write, bench/scenario_lists.py)
# held at LOAD (default 0.7) of the maximum measured first, for MINUTES
# (default 10), on a copy of the `small` dataset. Each minute is its own wrk
# run: its rate, p50, p99, errors (non-2xx and socket errors) and
# picogram's RSS. It passes with zero errors and RSS growth under 5% from
# the start (after the calibration runs, a minute and a half of load that
# fills the caches) to the end.
#
#   bench/soak.sh      env: MINUTES=10 LOAD=0.7 CONNS=32 DATA=/tmp/picogram-small
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
MINUTES=${MINUTES:-10}; LOAD=${LOAD:-0.7}
ensure_small
cp -r "$DATA" "$WORK/data"
DATA=$WORK/data
start_picogram
LISTS=$WORK/lists
python3 bench/scenario_lists.py "$DATA/picogram.db" "$LISTS"
TOKENS=$DATA/tokens.txt

run() { # run SECONDS WAIT_MS -> "rps p50 p99 errors"
  wrk -t1 -c"$CONNS" -d"$1s" --latency -s bench/soak.lua "http://127.0.0.1:$PG_PORT" -- "$LISTS/mixed" "$TOKENS" \
    1 "$2" >"$WORK/wrk.txt"
  awk '/^Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {e+=$NF}
       /Socket errors/ {gsub(",", ""); e+=$4+$6+$8+$10} END {print r, p50, p99, e+0}' "$WORK/wrk.txt"
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$PG_PID/status"; }

# the maximum: no wait, the median of three 15 s runs
: >"$WORK/max"
for _ in 1 2 3; do read -r rps _ _ _ < <(run 15 0); echo "$rps" >>"$WORK/max"; done
MAX=$(median <"$WORK/max")
TARGET=$(awk -v m="$MAX" -v l="$LOAD" 'BEGIN {printf "%.0f", m * l}')
# each connection's cycle is its wait plus the answer's time: two 15 s runs
# measure the answer's time at the wait so far, and the wait is set from it
WAIT=$(awk -v c="$CONNS" -v t="$TARGET" 'BEGIN {printf "%.2f", c * 1000 / t}')
for _ in 1 2; do
  read -r rps _ _ _ < <(run 15 "$WAIT")
  WAIT=$(awk -v c="$CONNS" -v t="$TARGET" -v w="$WAIT" -v a="$rps" \
    'BEGIN {r = c * 1000 / a - w; w2 = c * 1000 / t - r; printf "%.2f", (w2 < 0.5 ? 0.5 : w2)}')
done
start=$(rss_kib)
echo "== soak: mixed scenario, $MINUTES min at $LOAD of the maximum; wrk -t1 -c$CONNS; picogram --threads 2"
echo "maximum (median of 3 x 15 s): $MAX req/s; target $TARGET req/s; each connection waits $WAIT ms"
printf '%-7s %10s %10s %10s %8s %9s\n' minute req/s p50 p99 errors RSS-MiB
errors=0; : >"$WORK/p99"; : >"$WORK/rate"
for m in $(seq "$MINUTES"); do
  read -r rps p50 p99 errs < <(run 60 "$WAIT")
  kib=$(rss_kib)
  [ "$m" -eq 1 ] && first=$kib
  errors=$((errors + errs))
  echo "$p99" >>"$WORK/p99"; echo "$rps" >>"$WORK/rate"
  printf '%-7s %10s %10s %10s %8s %9.1f\n' "$m" "$rps" "$p50" "$p99" "$errs" "$(awk -v k="$kib" 'BEGIN {print k / 1024}')"
done
growth=$(awk -v a="$start" -v b="$kib" 'BEGIN {printf "%.1f", (b - a) * 100 / a}')
echo "RSS at the start: $((start / 1024)) MiB; after minute 1: $((first / 1024)) MiB; after minute $MINUTES: $((kib / 1024)) MiB; growth $growth%"
RATE=$(median <"$WORK/rate")
echo "median rate $RATE req/s: $(awk -v a="$RATE" -v m="$MAX" 'BEGIN {printf "%.2f", a / m}') of the maximum"
echo "errors: $errors; $(rss)"
if [ "$errors" -eq 0 ] && awk -v g="$growth" 'BEGIN {exit !(g < 5)}'; then echo "soak: PASS"; else echo "soak: FAIL"; exit 1; fi
