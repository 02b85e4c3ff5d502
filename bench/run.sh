#!/usr/bin/env bash
# `make bench`: every benchmark in turn, each bounded in time, on loopback.
# Figures go to stdout and to bench/results/last-run.txt; then the charts in
# bench/charts/ are drawn again from them. BENCHMARKS.md records them with
# the machine.
#   env: PHOTOS=DIR (default: bench/bench_photos.sh's), QUICK=1 (shorter runs), SKIP_LARGE=1 (no large dataset)
set -euo pipefail
cd "$(dirname "$0")/.."
PHOTOS=${PHOTOS:-$(bench/bench_photos.sh)}
D=10s; R=3
[ "${QUICK:-0}" = 1 ] && D=3s && R=1
mkdir -p bench/results
keep() { grep -E "^==|^median|memory|bytes per|^media "; } # the summary lines of a side-by-side
{
echo "== inline database calls";           build/bench_db 10000 200000
echo "== photo pipeline (picogram)";       build/bench_images "$PHOTOS" 5 | tail -1
echo "== photo pipeline (Pillow)";         /usr/bin/python3 bench/pillow_renditions.py "$PHOTOS" 5 | tail -1
echo "== users-self: GET /v1/users/self vs nginx"; ROUNDS=$R DURATION=$D bench/user_vs_nginx.sh | tail -1
echo "== uploads over HTTP";               DURATION=$D PHOTOS=$PHOTOS bench/upload.sh | tail -4
echo "== fan-out to 100,000 followers";    bench/fanout.sh | tail -5
ROUNDS=$R DURATION=$D bench/feed.sh | keep
ROUNDS=$R DURATION=$D bench/discovery.sh | keep
ROUNDS=$R DURATION=$D bench/scenarios.sh | grep -E "^==|^median|memory"
echo "== the cluster's data tier: two PostgreSQL servers behind pgbouncer"
ROUNDS=$R DURATION=$D bench/cluster.sh | grep -E "^==|^median|^picogram migrate|^one schema|bytes per|users, 100 follows|tps$|^pg |^VACUUM"
echo "== the shared services' cost: picogram alone and with --redis"
ROUNDS=$R DURATION=$D bench/shared.sh | grep -E "^==|^median"
} 2>&1 | tee bench/results/last-run.txt
DURATION=$D bench/charts.sh | grep wrote
# small against large (makes the large dataset first if it is missing: about an hour)
[ "${SKIP_LARGE:-0}" = 1 ] || ROUNDS=$R DURATION=$D bench/scaling.sh | tail -4
