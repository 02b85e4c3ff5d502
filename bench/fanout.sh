#!/usr/bin/env bash
# A post by an account with FOLLOWERS followers (below the celebrity
# threshold, so it is fanned out): how long until the last follower's
# timeline has it, timeline inserts per second, and feed reads meanwhile.
#
#   bench/fanout.sh          env: FOLLOWERS=100000 BATCH=1000 SHARED=../shared
set -euo pipefail
cd "$(dirname "$0")/.."
FOLLOWERS=${FOLLOWERS:-100000}; BATCH=${BATCH:-1000}; SHARED=${SHARED:-../shared}
PORT=18380
WORK=$(mktemp -d /tmp/picogram-fanout.XXXXXX)
PID=; WRK=
cleanup() {
  [ -n "$WRK" ] && kill "$WRK" 2>/dev/null
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

build/bench_fanout_seed "$WORK/data" "$FOLLOWERS" >"$WORK/tokens"
AUTHOR=$(sed -n 1p "$WORK/tokens"); LAST=$(sed -n 2p "$WORK/tokens")
build/picogram serve --listen 127.0.0.1:$PORT --data "$WORK/data" --threads 1 --workers 1 --job-threads 1 \
  --fanout-batch "$BATCH" --access-log off --rate-limit 100000000 2>"$WORK/log" &
PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
FEED="http://127.0.0.1:$PORT/v1/users/self/feed?count=20&access_token=$LAST"
curl -fs -o /dev/null "$FEED" # builds the follower's timeline

echo "feed reads of one follower before the post (wrk -t1 -c8 -d5s):"
wrk -t1 -c8 -d5s --latency "$FEED" | awk '/^Requests\/sec/ || $1=="50%" || $1=="99%"'

# wrk prints nothing if stopped early: run it for about the time the fan-out takes (DURING)
wrk -t1 -c8 -d"${DURING:-2s}" --latency "$FEED" >"$WORK/during.txt" &
WRK=$!
sleep 0.2
T0=$(date +%s.%N)
MID=$(curl -fs -H "Authorization: Bearer $AUTHOR" -F photo=@"$SHARED/photos/square-1080.jpg" \
  "http://127.0.0.1:$PORT/v1/media/upload" | sed -E 's/.*"id":"([0-9]+)_.*/\1/')
until curl -fs "$FEED" | grep -q "\"$MID"; do
  sleep 0.05
  awk -v t0="$T0" -v now="$(date +%s.%N)" 'BEGIN {exit !(now - t0 > 600)}' && { echo "fan-out did not finish in 10 min" >&2; exit 1; }
done
T1=$(date +%s.%N)
wait "$WRK" 2>/dev/null || true; WRK=
awk -v t0="$T0" -v t1="$T1" -v n="$FOLLOWERS" 'BEGIN {
  printf "fan-out of one post to %d followers: %.2f s, %.0f timeline inserts/s\n", n, t1 - t0, (n + 1) / (t1 - t0) }'
echo "feed reads of one follower during the fan-out (wrk -t1 -c8 -d${DURING:-2s}, from just before the post):"
awk '/^Requests\/sec/ || $1=="50%" || $1=="99%" || /Non-2xx/' "$WORK/during.txt"
