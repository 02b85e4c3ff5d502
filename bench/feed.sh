#!/usr/bin/env bash
# GET /v1/users/self/feed?count=20 on the `small` dataset (bench_seed's
# defaults, the Django reference's shape), 8 users' tokens in turn, beside
# nginx serving one captured feed response of the same size as a static
# file, alternated for ROUNDS rounds in one session.
#
#   bench/feed.sh        env: ROUNDS=3 DURATION=10s CONNS=32 DATA=/tmp/picogram-small (kept between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ensure_small
start_picogram
FEED=/v1/users/self/feed?count=20
# warm: every token's timeline built and its media cached
while read -r t; do curl -fs -o /dev/null "http://127.0.0.1:$PG_PORT$FEED&access_token=$t"; done <"$DATA/tokens.txt"
start_nginx
side_by_side feed "$FEED"
