#!/usr/bin/env bash
# GET /v1/users/self on picogram beside nginx serving the same response bytes
# as a static file, in the same session, on loopback. Alternates the two for
# ROUNDS rounds and prints each run and the medians.
#
#   bench/user_vs_nginx.sh        env: ROUNDS=3 DURATION=10s CONNS=32 THREADS=2 (picogram loop threads)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10s}; CONNS=${CONNS:-32}; THREADS=${THREADS:-2}
PG_PORT=18180; NG_PORT=18181
BIN=build/picogram
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
WORK=$(mktemp -d /tmp/picogram-bench.XXXXXX)
chmod 755 "$WORK" # nginx workers read www/ as an unprivileged user
PG_PID=; NG_PID=
cleanup() {
  [ -n "$PG_PID" ] && kill "$PG_PID" 2>/dev/null && wait "$PG_PID" 2>/dev/null
  [ -n "$NG_PID" ] && kill "$NG_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" serve --listen 127.0.0.1:$PG_PORT --data "$WORK/data" --threads "$THREADS" --access-log off \
  --rate-limit 100000000 2>"$WORK/picogram.log" &
PG_PID=$!
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PG_PORT/v1/x" 2>/dev/null || [ $? -eq 22 ] && break; sleep 0.1; done
TOKEN=$(curl -fs "http://127.0.0.1:$PG_PORT/v1/accounts" -d username=bench -d password=benchbench \
  -d full_name='Bench Mark' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
curl -fs "http://127.0.0.1:$PG_PORT/v1/users/self" -d access_token="$TOKEN" -d bio='Benchmarking picogram' \
  -d website=https://example.com >/dev/null
mkdir -p "$WORK/www/v1/users"
curl -fs "http://127.0.0.1:$PG_PORT/v1/users/self?access_token=$TOKEN" >"$WORK/www/v1/users/self"
BYTES=$(wc -c <"$WORK/www/v1/users/self")


cat >"$WORK/nginx.conf" <<NGINX
worker_processes $THREADS;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$NG_PORT; root $WORK/www; }
}
NGINX
nginx -c "$WORK/nginx.conf" &
NG_PID=$!
sleep 0.5

run() { # run URL -> "rps p50 p99"
  wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$1" >"$WORK/wrk.txt"
  if grep -q 'Non-2xx' "$WORK/wrk.txt"; then cat "$WORK/wrk.txt" >&2; exit 1; fi
  awk '/^Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print r, p50, p99}' "$WORK/wrk.txt"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "response: $BYTES bytes; wrk -t1 -c$CONNS -d$DURATION; picogram --threads $THREADS; nginx worker_processes $THREADS"
printf '%-6s %-9s %12s %10s %10s\n' round server req/s p50 p99
: >"$WORK/pg"; : >"$WORK/ng"
wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$PG_PORT/v1/users/self?access_token=$TOKEN" >/dev/null
for r in $(seq "$ROUNDS"); do
  read -r rps p50 p99 < <(run "http://127.0.0.1:$PG_PORT/v1/users/self?access_token=$TOKEN")
  printf '%-6s %-9s %12s %10s %10s\n' "$r" picogram "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/pg"
  read -r rps p50 p99 < <(run "http://127.0.0.1:$NG_PORT/v1/users/self")
  printf '%-6s %-9s %12s %10s %10s\n' "$r" nginx "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/ng"
done
PG=$(median <"$WORK/pg"); NG=$(median <"$WORK/ng")
echo "median req/s: picogram $PG, nginx $NG, ratio $(awk -v a="$PG" -v b="$NG" 'BEGIN {printf "%.2f", a/b}')"
