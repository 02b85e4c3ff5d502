#!/usr/bin/env bash
# The charts in BENCHMARKS.md, drawn with gnuplot into bench/charts/:
#   feed-latency.png  p50 and p99 of the home feed against concurrency,
#                     picogram beside nginx serving the same bytes (measured
#                     here: wrk, DURATION per point);
#   scenarios.png     req/s of each read scenario, picogram beside nginx,
#                     from the "median req/s" lines of a bench run's output
#                     (bench/results/last-run.txt, written by bench/run.sh).
#
#   bench/charts.sh        env: DURATION=5s CONCURRENCY="1 2 4 8 16 32 64 128" DATA=/tmp/picogram-small
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
. bench/lib.sh
OUTDIR=bench/charts
mkdir -p "$OUTDIR" bench/results
ensure_small
start_picogram
FEED=/v1/users/self/feed?count=20
while read -r t; do curl -fs -o /dev/null "http://127.0.0.1:$PG_PORT$FEED&access_token=$t"; done <"$DATA/tokens.txt"
capture "$FEED" feed >/dev/null
start_nginx

DAT=bench/results/feed-latency.dat
echo "# conns picogram_rps picogram_p50_ms picogram_p99_ms nginx_rps nginx_p50_ms nginx_p99_ms" >"$DAT"
ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.3f", v + 0; else printf "%.3f", v * 1000 }'; }
for c in ${CONCURRENCY:-1 2 4 8 16 32 64 128}; do
  read -r prps pp50 pp99 < <(CONNS=$c wrk_run "http://127.0.0.1:$PG_PORT" "$FEED" "$DATA/tokens.txt")
  read -r nrps np50 np99 < <(CONNS=$c wrk_run "http://127.0.0.1:$NG_PORT/feed")
  echo "$c $prps $(ms "$pp50") $(ms "$pp99") $nrps $(ms "$np50") $(ms "$np99")" | tee -a "$DAT"
done
gnuplot <<GP
set terminal pngcairo size 900,540 font "DejaVu Sans,11"
set output "$OUTDIR/feed-latency.png"
set title "GET /v1/users/self/feed?count=20 (small dataset): latency against concurrency"
set xlabel "concurrent connections (wrk -t1)"
set ylabel "latency (ms)"
set logscale x 2
set logscale y
set grid
set key top left
plot "$DAT" using 1:3 with linespoints lw 2 title "picogram p50", \
     "$DAT" using 1:4 with linespoints lw 2 title "picogram p99", \
     "$DAT" using 1:6 with linespoints lw 2 dt 2 title "nginx, same bytes, p50", \
     "$DAT" using 1:7 with linespoints lw 2 dt 2 title "nginx, same bytes, p99"
GP
echo "wrote $OUTDIR/feed-latency.png"

RUN=bench/results/last-run.txt
if [ -f "$RUN" ]; then
  SC=bench/results/scenarios.dat
  awk '/^== / {name=$2; sub(":", "", name)} /^median req\/s: picogram/ {gsub(",", ""); print name, $4, $6}' "$RUN" >"$SC"
  if [ -s "$SC" ]; then
    gnuplot <<GP
set terminal pngcairo size 900,540 font "DejaVu Sans,11"
set output "$OUTDIR/scenarios.png"
set title "Read scenarios (small dataset): median req/s, picogram beside nginx serving the same bytes"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "requests per second"
set grid y
set xtics rotate by -20
set key top right
plot "$SC" using 2:xtic(1) title "picogram", "" using 3 title "nginx"
GP
    echo "wrote $OUTDIR/scenarios.png"
  fi
else
  echo "no $RUN yet (bench/run.sh writes it): scenarios.png not redrawn"
fi
