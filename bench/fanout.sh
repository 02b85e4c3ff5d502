#!/usr/bin/env bash
# A post by an account with FOLLOWERS followers (below the celebrity
# threshold, so it is fanned out): how long until the last follower's
# timeline has it, timeline inserts per second, and feed reads meanwhile.
#
#   bench/fanout.sh          env: FOLLOWERS=100000 BATCH=1000
#
# FEED_STORE=redis keeps the timelines in a redis-server of its own (on a
# free loopback port; the followers stay in the SQLite data directory) and,
# after the fan-out, runs `redis-benchmark -P 64 -t lpush` on the same Redis
# for comparison: its LPUSHes per second against our timeline inserts.
set -euo pipefail
cd "$(dirname "$0")/.."
FOLLOWERS=${FOLLOWERS:-100000}; BATCH=${BATCH:-1000}
PORT=18380
WORK=$(mktemp -d /tmp/picogram-fanout.XXXXXX)
PID=; WRK=; REDIS_PID=
cleanup() {
  [ -n "$WRK" ] && kill "$WRK" 2>/dev/null
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

STORE_ARGS=()
if [ "${FEED_STORE:-db}" = redis ]; then
  REDIS_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" --loglevel warning &
  REDIS_PID=$!
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  STORE_ARGS=(--redis "redis://127.0.0.1:$REDIS_PORT" --feed-store "redis://127.0.0.1:$REDIS_PORT"
    --celebrity $((FOLLOWERS + 1)))
  echo "timelines in redis-server $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') on port $REDIS_PORT"
fi

build/bench_fanout_seed "$WORK/data" "$FOLLOWERS" >"$WORK/tokens"
AUTHOR=$(sed -n 1p "$WORK/tokens"); LAST=$(sed -n 2p "$WORK/tokens")
"${PICOGRAM_BIN:-build/picogram}" serve --listen 127.0.0.1:$PORT --data "$WORK/data" --threads 1 --workers 1 --job-threads 1 \
  --fanout-batch "$BATCH" --access-log off --rate-limit 100000000 "${STORE_ARGS[@]}" 2>"$WORK/log" &
PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
FEED="http://127.0.0.1:$PORT/v1/users/self/feed?count=20&access_token=$LAST"
curl -fs -o /dev/null "$FEED" # builds the follower's timeline

echo "feed reads of one follower before the post (wrk -t1 -c8 -d5s):"
wrk -t1 -c8 -d5s --latency "$FEED" | awk '/^Requests\/sec/ || $1=="50%" || $1=="99%"'

# wrk prints nothing if stopped early: run it for about the time the fan-out takes (DURING)
post() { # post K: one post, timed until the last follower's feed has it
  wrk -t1 -c8 -d"${DURING:-2s}" --latency "$FEED" >"$WORK/during.txt" &
  WRK=$!
  sleep 0.2
  local r0 t0 t1 mid
  r0=$(redis_cpu)
  p0=$(proc_cpu "$PID")
  t0=$(date +%s.%N)
  mid=$(curl -fs -H "Authorization: Bearer $AUTHOR" -F photo=@tests/fixtures/photos/square-1080.jpg \
    "http://127.0.0.1:$PORT/v1/media/upload" | sed -E 's/.*"id":"([0-9]+)_.*/\1/')
  until curl -fs "$FEED" | grep -q "\"$mid"; do
    sleep 0.02
    awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN {exit !(now - t0 > 600)}' && { echo "fan-out did not finish in 10 min" >&2; exit 1; }
  done
  t1=$(date +%s.%N)
  wait "$WRK" 2>/dev/null || true; WRK=
  awk -v t0="$t0" -v t1="$t1" -v n="$FOLLOWERS" -v k="$1" -v r0="$r0" -v r1="$(redis_cpu)" -v p0="$p0" -v p1="$(proc_cpu "$PID")" 'BEGIN {
    printf "post %d: fan-out to %d followers: %.2f s, %.0f timeline inserts/s", k, n, t1 - t0, (n + 1) / (t1 - t0)
    if (r1 != "") printf " (redis-server CPU %.2f s)", r1 - r0
    printf " (picogram CPU %.2f s, with the feed reads)", p1 - p0
    printf "\n" }'
  echo "  feed reads of one follower during it (wrk -t1 -c8 -d${DURING:-2s}, from just before the post):"
  awk '/^Requests\/sec/ || $1=="50%" || $1=="99%" || /Non-2xx/' "$WORK/during.txt"
}
proc_cpu() { awk '{print ($14 + $15) / 100}' /proc/"$1"/stat; }
redis_cpu() { [ -z "$REDIS_PID" ] || proc_cpu "$REDIS_PID"; }
# with Redis, post 1 makes every follower's timeline; post 2 is the steady
# state, where the followers' timelines exist
for k in $(seq "${POSTS:-$([ -n "$REDIS_PID" ] && echo 2 || echo 1)}"); do post "$k"; done

if [ -n "$REDIS_PID" ]; then
  echo "timelines in Redis: $(redis-cli -p "$REDIS_PORT" dbsize) keys, $(redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory_human/ {print $2}' | tr -d '\r') used"
  echo "the same Redis, redis-benchmark -P 64 (50 clients): LPUSH to one list; ZADD to 1,000,000 keys (the fan-out's shape):"
  for _ in 1 2; do
    redis-benchmark -p "$REDIS_PORT" -P 64 -t lpush -n 2000000 -q | tr '\r' '\n' | grep -a 'requests per second' | tail -1
    redis-benchmark -p "$REDIS_PORT" -P 64 -n 1000000 -r 1000000 -q \
      ZADD 'bench:tl:42139659066__rand_int__' 0 'abcdefgh__rand_int__' | tr '\r' '\n' | grep -a 'requests per second' | tail -1
  done
fi
