#!/usr/bin/env bash
# Upload throughput over HTTP and peak memory per upload.
#
# Starts picogram (--threads 2 --workers WORKERS), signs up one user, then posts the
# bench photos (1080x1350 JPEGs, bench/bench_photos.sh) with wrk at
# CONNS concurrent connections for DURATION. Reports uploads/s, latency, the
# CPU the server used per upload, and the server's resident memory: at rest,
# its peak (VmHWM) under load, and (peak - rest) / CONNS as the memory cost
# of one upload in flight.
#
#   bench/upload.sh        env: DURATION=10s CONNS=4 WORKERS=2 PHOTOS=DIR PICOGRAM_BIN=build/picogram
#
# PHOTOS: another set, e.g. the 12 MP phone photos:
#   tests/fixtures/make_bench_photos.py --phone /tmp/phone && PHOTOS=/tmp/phone CONNS=8 bench/upload.sh
#
# STORE=s3 puts the photos into an S3 server (s3rver, from npm, on a free
# loopback port) instead of the data directory, and reports its CPU too.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}; CONNS=${CONNS:-4}
PHOTOS=${PHOTOS:-$(bench/bench_photos.sh)}; WORKERS=${WORKERS:-2}
PORT=18280
BIN=${PICOGRAM_BIN:-build/picogram}
[ -x "$BIN" ] || { echo "build first: make build" >&2; exit 1; }
WORK=$(mktemp -d /tmp/picogram-upload.XXXXXX)
PID=; S3_PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
STORE_ARGS=()
if [ "${STORE:-file}" = s3 ]; then
  S3_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  node --openssl-legacy-provider node_modules/s3rver/bin/s3rver.js -d "$WORK/s3" -a 127.0.0.1 -p "$S3_PORT" --silent \
    --configure-bucket picogram >/dev/null 2>&1 &
  S3_PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break; sleep 0.1; done
  STORE_ARGS=(--photo-store "s3:http://127.0.0.1:$S3_PORT/picogram" --s3-access-key S3RVER --s3-secret-key S3RVER)
  echo "photos in s3rver $(node -p 'require("./node_modules/s3rver/package.json").version') on port $S3_PORT"
fi

"$BIN" serve --listen 127.0.0.1:$PORT --data "$WORK/data" --threads 2 --workers "$WORKERS" --access-log off \
  --rate-limit 100000000 --max-concurrent-uploads 64 "${STORE_ARGS[@]}" 2>"$WORK/log" &
PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
TOKEN=$(curl -fs "http://127.0.0.1:$PORT/v1/accounts" -d username=uploader -d password=benchbench |
  sed -E 's/.*"access_token":"([^"]+)".*/\1/')
# one upload to warm up libvips
curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" -F "photo=@$(ls -d "$PHOTOS"/* | head -1)" \
  "http://127.0.0.1:$PORT/v1/media/upload"
rss() { awk -v k="$1:" '$1==k {print $2}' /proc/$PID/status; }
cpu_ticks() { awk '{print $14+$15}' /proc/$PID/stat; }
REST=$(rss VmRSS)
T0=$(cpu_ticks)
S0=$([ -z "$S3_PID" ] || awk '{print $14+$15}' /proc/"$S3_PID"/stat)
wrk -t1 -c"$CONNS" -d"$DURATION" --timeout 30s --latency -s bench/upload.lua "http://127.0.0.1:$PORT" -- \
  "$TOKEN" "$PHOTOS" >"$WORK/wrk.txt"
T1=$(cpu_ticks)
S1=$([ -z "$S3_PID" ] || awk '{print $14+$15}' /proc/"$S3_PID"/stat)
PEAK=$(rss VmHWM)
cat "$WORK/wrk.txt"
REQS=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
HZ=$(getconf CLK_TCK)
if grep -q 'Non-2xx' "$WORK/wrk.txt"; then echo "errors during the run" >&2; exit 1; fi
echo
echo "uploads: $REQS in $DURATION with $CONNS connections"
awk -v r="$REQS" -v t0="$T0" -v t1="$T1" -v hz="$HZ" 'BEGIN {printf "server CPU per upload: %.1f ms\n", (t1-t0)*1000/hz/r}'
[ -z "$S3_PID" ] || awk -v r="$REQS" -v t0="$S0" -v t1="$S1" -v hz="$HZ" 'BEGIN {printf "s3rver CPU per upload: %.1f ms\n", (t1-t0)*1000/hz/r}'
echo "server RSS at rest: $((REST / 1024)) MiB, peak under load: $((PEAK / 1024)) MiB"
echo "peak memory per upload in flight: $(( (PEAK - REST) / CONNS / 1024 )) MiB"
