#!/usr/bin/env bash
# How throughput holds as the data grows: the home feed and the user read on
# the `small` and the `large` datasets (bench_seed presets), three rounds
# each, medians; then bench/charts/scaling.png. The target: large keeps at
# least 80% of small's throughput, with p99 at or under 10 ms.
#
#   bench/scaling.sh     env: ROUNDS=3 DURATION=10s CONNS=32 SMALL=/tmp/picogram-small LARGE=/tmp/picogram-large
#   (the large dataset is made once if missing: build/bench_seed LARGE large, about an hour here)
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=${SMALL:-/tmp/picogram-small}; LARGE=${LARGE:-/tmp/picogram-large}
. bench/lib.sh
DATA=$SMALL ensure_small
if [ ! -f "$LARGE/tokens.txt" ]; then
  rm -rf "$LARGE"
  build/bench_seed "$LARGE" large >"$LARGE.tokens"
  mv "$LARGE.tokens" "$LARGE/tokens.txt"
fi
DAT=bench/results/scaling.dat
mkdir -p bench/results bench/charts
echo "# dataset scenario rps p50 p99" >"$DAT"
for set in small large; do
  if [ $set = small ]; then DATA=$SMALL; else DATA=$LARGE; fi
  start_picogram
  for path in "/v1/users/self/feed?count=20" "/v1/users/self"; do
    name=feed; [ "$path" = /v1/users/self ] && name=user
    # warm: each token's timeline built, its objects cached
    while read -r t; do curl -fs -o /dev/null "http://127.0.0.1:$PG_PORT$path$([ $name = feed ] && echo '&' || echo '?')access_token=$t"; done <"$DATA/tokens.txt"
    : >"$WORK/r"
    for r in $(seq "$ROUNDS"); do wrk_run "http://127.0.0.1:$PG_PORT" "$path" "$DATA/tokens.txt" >>"$WORK/r"; done
    rps=$(awk '{print $1}' "$WORK/r" | median)
    line=$(awk -v m="$rps" '$1 == m {print $2, $3; exit}' "$WORK/r")
    echo "$set $name $rps $line" | tee -a "$DAT"
  done
  echo "$set: picogram memory: $(rss)"
  kill "$PG_PID"; wait "$PG_PID" 2>/dev/null || true; PG_PID=
done
for name in feed user; do
  awk -v n="$name" '$2 == n && $1 == "small" {s=$3} $2 == n && $1 == "large" {l=$3}
    END {printf "%s: large / small = %.2f\n", n, l / s}' "$DAT"
done
awk '$1 == "small" {s[$2]=$3} $1 == "large" {l[$2]=$3} END {for (k in s) print k, s[k], l[k]}' "$DAT" \
  >bench/results/scaling-bars.dat
gnuplot <<GP
set terminal pngcairo size 800,500 font "DejaVu Sans,11"
set output "bench/charts/scaling.png"
set title "Throughput on small (10k users, 200k photos) and large (1M users, 10M photos)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "requests per second (median of rounds)"
set grid y
set yrange [0:*]
set key top right
plot "bench/results/scaling-bars.dat" using 2:xtic(1) title "small", "" using 3 title "large"
GP
echo "wrote bench/charts/scaling.png"
