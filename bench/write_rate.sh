#!/usr/bin/env bash
# Latency against rate for writes: the like/unlike scenario (bench/scenarios.sh)
# held at a series of rates by a pacer (bench/soak.lua: each of CONNS
# connections waits before each request), for STEP seconds each, on a copy
# of the `small` dataset. Each line is a rate reached, its p50 and p99; the
# last line is the rate at which p99 crosses LIMIT_MS (interpolated between
# the two steps around it). With OLD_BIN set, the same for that binary first
# (the previous build), in the same session, on a copy of OLD_DATA if set (a
# dataset seeded by that build's bench_seed, when its schema is older). Draws
# bench/charts/write-rate.png from bench/results/write-rate-*.dat.
#
#   bench/write_rate.sh    env: STEP=8 CONNS=32 LIMIT_MS=20 WAITS="64 32 ... 0" OLD_BIN= OLD_DATA= DATA=/tmp/picogram-small
set -euo pipefail
cd "$(dirname "$0")/.."
STEP=${STEP:-8}; LIMIT_MS=${LIMIT_MS:-20}
WAITS=${WAITS:-64 32 20 14 10 8 6 5 4 3 2 1 0}
. bench/lib.sh
ensure_small
mkdir -p bench/results bench/charts
ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.3f", v + 0; else printf "%.3f", v * 1000 }'; }

sweep() { # sweep NAME BINARY [DATASET] -> bench/results/write-rate-NAME.dat
  local name=$1 dat=bench/results/write-rate-$1.dat
  local keep=$DATA
  DATA=${3:-$DATA}
  rm -rf "$WORK/data"
  cp -r "$DATA" "$WORK/data"
  DATA=$WORK/data PICOGRAM_BIN=$2 start_picogram
  python3 bench/scenario_lists.py "$WORK/data/picogram.db" "$WORK/lists"
  echo "== write rate: $name ($2), like/unlike, wrk -t1 -c$CONNS, ${STEP}s a step"
  printf '%-8s %10s %10s %10s %8s\n' wait-ms req/s p50 p99 non-2xx
  echo "# wait_ms rps p50_ms p99_ms" >"$dat"
  for w in $WAITS; do
    wrk -t1 -c"$CONNS" -d"${STEP}s" --latency -s bench/soak.lua "http://127.0.0.1:$PG_PORT" -- "$WORK/lists/like" \
      "$WORK/data/tokens.txt" 2 "$w" >"$WORK/wrk.txt"
    read -r rps p50 p99 errs < <(awk '/^Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {e=$NF}
         END {print r, p50, p99, (e == "" ? 0 : e)}' "$WORK/wrk.txt")
    printf '%-8s %10s %10s %10s %8s\n' "$w" "$rps" "$p50" "$p99" "$errs"
    echo "$w $rps $(ms "$p50") $(ms "$p99")" >>"$dat"
  done
  # the first step whose p99 is over the limit, and the one before it
  awk -v lim="$LIMIT_MS" '!/^#/ { if (!over && $4 > lim) { over = 1;
      if (n) printf "p99 crosses %s ms at about %.0f req/s (between %.0f req/s, p99 %.1f ms, and %.0f req/s, p99 %.1f ms)\n",
        lim, r0 + ($2 - r0) * (lim - q0) / ($4 - q0), r0, q0, $2, $4;
      else printf "p99 is over %s ms already at %.0f req/s\n", lim, $2 }
      r0 = $2; q0 = $4; n++ }
    END { if (!over) printf "p99 stays under %s ms up to %.0f req/s (the most reached)\n", lim, r0 }' "$dat"
  kill "$PG_PID"; wait "$PG_PID" 2>/dev/null || true; PG_PID=
  DATA=$keep
}

[ -n "${OLD_BIN:-}" ] && sweep old "$OLD_BIN" "${OLD_DATA:-}"
sweep new "${PICOGRAM_BIN:-build/picogram}"

plots="\"bench/results/write-rate-new.dat\" using 2:4 smooth unique with linespoints lw 2 title \"picogram p99\""
plots="$plots, \"bench/results/write-rate-new.dat\" using 2:3 smooth unique with linespoints lw 2 title \"picogram p50\""
if [ -n "${OLD_BIN:-}" ]; then
  plots="$plots, \"bench/results/write-rate-old.dat\" using 2:4 smooth unique with linespoints lw 2 dt 2 title \"previous build p99\""
  plots="$plots, \"bench/results/write-rate-old.dat\" using 2:3 smooth unique with linespoints lw 2 dt 2 title \"previous build p50\""
fi
gnuplot <<GP
set terminal pngcairo size 900,540 font "DejaVu Sans,11"
set output "bench/charts/write-rate.png"
set title "Likes and unlikes (small dataset, $CONNS connections, paced): latency against rate"
set xlabel "requests per second reached"
set ylabel "latency (ms)"
set logscale y
set grid
set key top left
plot $plots, $LIMIT_MS with lines lw 2 lc rgb "black" dt 3 title "$LIMIT_MS ms"
GP
echo "wrote bench/charts/write-rate.png"
