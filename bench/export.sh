#!/usr/bin/env bash
# Account export against the account's size: peak memory and time of
# `picogram admin export`, and of GET /v1/users/self/export on a running
# server, for accounts of N photos; and, alongside on the same files,
# Info-ZIP's `zip -0` (store, as export stores photos) of the same photo
# files, for the time. Then `picogram admin import` of the smallest archive
# into a fresh server (each photo through the upload pipeline again).
#
#   bench/export.sh            env: COUNTS="1000 10000" PHOTO=tests/fixtures/photos/square-1080.jpg
#
# The account is made by bench_seed (one user, N photos, no likes or
# comments); each photo's full-size file is a hard link to PHOTO, so the
# photo store holds N names of one file, read N times (from the page cache).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNTS=${COUNTS:-"1000 10000"}
PHOTO=${PHOTO:-tests/fixtures/photos/square-1080.jpg}
BIN=${PICOGRAM_BIN:-build/picogram}
WORK=$(mktemp -d /tmp/picogram-export.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

rss_of() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }  # peak RSS, KiB
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "machine: $(nproc) cores, $(awk '/model name/ {sub(/.*: /,""); print; exit}' /proc/cpuinfo); photo $(stat -c %s "$PHOTO") bytes"
printf '%-8s %-28s %10s %12s %10s %14s\n' photos what seconds "peak RSS MiB" "MiB/s" "archive bytes"
for N in $COUNTS; do
  D="$WORK/d$N"
  TOKEN=$(build/bench_seed "$D" 1 0 "$N" 0 0 20111006 1 2>/dev/null | head -1)
  # each photo's full-size file: a hard link to PHOTO under its key
  /usr/bin/python3 - "$D" "$PHOTO" <<'EOF'
import os, sqlite3, sys
d, photo = sys.argv[1], sys.argv[2]
for mid, fk in sqlite3.connect(os.path.join(d, 'picogram.db')).execute('SELECT id, file_key FROM media'):
    key = os.path.join(d, 'photos', 'media', str((mid >> 10) & 8191), '%d_%016x_h.jpg' % (mid, fk))
    os.makedirs(os.path.dirname(key), exist_ok=True)
    os.link(photo, key)
EOF
  # the CLI
  OUT="$WORK/cli$N.zip"
  /usr/bin/time -f '%e %M' -o "$WORK/t" "$BIN" admin export user0 --out "$OUT" --data "$D" >/dev/null
  read -r SECS KB <"$WORK/t"
  BYTES=$(stat -c %s "$OUT")
  printf '%-8s %-28s %10s %12.1f %10.0f %14s\n' "$N" "admin export" "$SECS" "$(echo "$KB/1024" | bc -l)" \
    "$(echo "$BYTES/1048576/($SECS+0.001)" | bc -l)" "$BYTES"
  # Info-ZIP on the same files, stored
  (cd "$D/photos" && /usr/bin/time -f '%e %M' -o "$WORK/t" zip -q -0 -r "$WORK/zip$N.zip" media)
  read -r SECS KB <"$WORK/t"
  BYTES=$(stat -c %s "$WORK/zip$N.zip")
  printf '%-8s %-28s %10s %12.1f %10.0f %14s\n' "$N" "zip -0 -r (the photos alone)" "$SECS" "$(echo "$KB/1024" | bc -l)" \
    "$(echo "$BYTES/1048576/($SECS+0.001)" | bc -l)" "$BYTES"
  rm -f "$WORK/zip$N.zip"
  # the API: the server's peak RSS before and after one export
  PORT=$(free_port)
  "$BIN" serve --listen 127.0.0.1:$PORT --data "$D" --threads 1 --workers 2 --access-log off 2>"$WORK/log" &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
  BEFORE=$(rss_of $PID)
  T0=$(date +%s.%N)
  curl -sf -o "$WORK/api$N.zip" "http://127.0.0.1:$PORT/v1/users/self/export?access_token=$TOKEN"
  T1=$(date +%s.%N)
  AFTER=$(rss_of $PID)
  BYTES=$(stat -c %s "$WORK/api$N.zip")
  printf '%-8s %-28s %10.2f %12s %10.0f %14s\n' "$N" "GET export (server)" "$(echo "$T1-$T0" | bc -l)" \
    "$(printf '%.1f->%.1f' "$(echo "$BEFORE/1024" | bc -l)" "$(echo "$AFTER/1024" | bc -l)")" \
    "$(echo "$BYTES/1048576/($T1-$T0)" | bc -l)" "$BYTES"
  kill $PID; wait $PID 2>/dev/null || true; PID=
  rm -f "$WORK/api$N.zip"
done

# import of the smallest archive into a fresh server: the upload pipeline per photo
N=${COUNTS%% *}
I="$WORK/import"
mkdir -p "$I"
"$BIN" admin status --data "$I" >/dev/null 2>&1 || true
PORT=$(free_port)
"$BIN" serve --listen 127.0.0.1:$PORT --data "$I" --access-log off 2>"$WORK/log" &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.05; done
kill $PID; wait $PID 2>/dev/null || true; PID=
echo 'imported password' | /usr/bin/time -f '%e %M' -o "$WORK/t" "$BIN" admin import "$WORK/cli$N.zip" --data "$I" \
  --sqlite-sync normal >/dev/null
read -r SECS KB <"$WORK/t"
printf '%-8s %-28s %10s %12.1f %10s %14s\n' "$N" "admin import" "$SECS" "$(echo "$KB/1024" | bc -l)" \
  "$(echo "$N/$SECS" | bc -l | xargs printf '%.0f/s')" "-"
