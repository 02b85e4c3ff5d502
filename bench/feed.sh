#!/usr/bin/env bash
# GET /v1/users/self/feed?count=20 on the `small` dataset (bench_seed's
# defaults, the Django reference's shape), 8 users' tokens in turn, beside
# nginx serving one captured feed response of the same size as a static
# file, alternated for ROUNDS rounds in one session.
#
#   bench/feed.sh        env: ROUNDS=3 DURATION=10s CONNS=32 DATA=/tmp/picogram-small (kept between runs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10s}; CONNS=${CONNS:-32}
DATA=${DATA:-/tmp/picogram-small}
PG_PORT=18480; NG_PORT=18481
[ -x build/bench_seed ] || { echo "build first: make build" >&2; exit 1; }
if [ ! -f "$DATA/tokens.txt" ]; then
  rm -rf "$DATA"
  build/bench_seed "$DATA" >"$DATA.tokens"
  mv "$DATA.tokens" "$DATA/tokens.txt"
fi
WORK=$(mktemp -d /tmp/picogram-feedbench.XXXXXX)
chmod 755 "$WORK"
PG_PID=; NG_PID=
cleanup() {
  [ -n "$PG_PID" ] && kill "$PG_PID" 2>/dev/null && wait "$PG_PID" 2>/dev/null
  [ -n "$NG_PID" ] && kill "$NG_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
build/picogram serve --listen 127.0.0.1:$PG_PORT --data "$DATA" --threads 2 --access-log off \
  --rate-limit 100000000 2>"$WORK/picogram.log" &
PG_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PG_PORT/" && break; sleep 0.1; done
FEED=/v1/users/self/feed?count=20
while read -r t; do curl -fs -o /dev/null "http://127.0.0.1:$PG_PORT$FEED&access_token=$t"; done <"$DATA/tokens.txt"
mkdir -p "$WORK/www/v1/users/self"
curl -fs "http://127.0.0.1:$PG_PORT$FEED&access_token=$(head -1 "$DATA/tokens.txt")" >"$WORK/www/v1/users/self/feed"
BYTES=$(wc -c <"$WORK/www/v1/users/self/feed")
cat >"$WORK/nginx.conf" <<NGINX
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
daemon off;
events { worker_connections 1024; }
http { access_log off; default_type application/json; keepalive_requests 1000000;
  server { listen 127.0.0.1:$NG_PORT; root $WORK/www; } }
NGINX
nginx -c "$WORK/nginx.conf" &
NG_PID=$!
sleep 0.5
run() { # run URL [lua args...] -> "rps p50 p99"
  local url=$1; shift
  if [ $# -gt 0 ]; then
    wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s bench/rotate.lua "$url" -- "$@" >"$WORK/wrk.txt"
  else
    wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$url" >"$WORK/wrk.txt"
  fi
  if grep -q 'Non-2xx' "$WORK/wrk.txt"; then cat "$WORK/wrk.txt" >&2; exit 1; fi
  awk '/^Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print r, p50, p99}' "$WORK/wrk.txt"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "feed response: $BYTES bytes; wrk -t1 -c$CONNS -d$DURATION; picogram --threads 2; nginx worker_processes 2"
printf '%-6s %-9s %12s %10s %10s\n' round server req/s p50 p99
: >"$WORK/pg"; : >"$WORK/ng"
for r in $(seq "$ROUNDS"); do
  read -r rps p50 p99 < <(run "http://127.0.0.1:$PG_PORT" "$FEED" "$DATA/tokens.txt")
  printf '%-6s %-9s %12s %10s %10s\n' "$r" picogram "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/pg"
  read -r rps p50 p99 < <(run "http://127.0.0.1:$NG_PORT/v1/users/self/feed")
  printf '%-6s %-9s %12s %10s %10s\n' "$r" nginx "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/ng"
done
PG=$(median <"$WORK/pg"); NG=$(median <"$WORK/ng")
echo "median req/s: picogram $PG, nginx $NG, ratio $(awk -v a="$PG" -v b="$NG" 'BEGIN {printf "%.3f", a/b}')"
