#!/usr/bin/env bash
# An owner's comments on their own photo (issue 17, defect 8): what a comment
# costs once the owner has written COMMENTS of them. Each owner comment
# rereads the texts that tag the photo, inside its write; picogram used to
# reread all the owner's comments there (20 ms a write at 3,000), and now
# reads the first 30 at most. One server (embedded), one photo; COMMENTS
# owner comments are written first (curl), then the cost of more is
# measured: wrk -c1 of owner comments, and beside them, a like/unlike of
# another user's photo by a third account (every write shares SQLite's
# writer).
#
#   bench/owner_comments.sh     env: COMMENTS=3000 DURATION=5s PICOGRAM_BIN=build/picogram
set -euo pipefail
cd "$(dirname "$0")/.."
COMMENTS=${COMMENTS:-3000}; DURATION=${DURATION:-5s}
PORT=${PORT:-18490}
WORK=$(mktemp -d /tmp/picogram-oc.XXXXXX)
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
"${PICOGRAM_BIN:-build/picogram}" serve --listen 127.0.0.1:$PORT --data "$WORK/data" --threads 2 --access-log off \
  --rate-limit 100000000 2>"$WORK/log" &
PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
U="http://127.0.0.1:$PORT"
tok() { curl -fs "$U/v1/accounts" -d username="$1" -d password=benchpass123 | sed -E 's/.*"access_token":"([^"]+)".*/\1/'; }
OWNER=$(tok ocowner); OTHER=$(tok ocother)
photo() { curl -fs -H "Authorization: Bearer $1" -F photo=@tests/fixtures/photos/tiny-1x1.jpg -F caption='#start' \
  "$U/v1/media/upload" | sed -E 's/.*"id":"([0-9]+_[0-9]+)".*/\1/'; }
MID=$(photo "$OWNER"); OID=$(photo "$OTHER")
# the owner's COMMENTS comments, over one kept-alive connection (curl's URL glob)
curl -fs -o /dev/null -H "Authorization: Bearer $OWNER" -d text=another+comment+of+the+owner+%23bench \
  "$U/v1/media/$MID/comments?n=[1-$COMMENTS]"
echo "owner comments on the photo: $(curl -fs -H "Authorization: Bearer $OWNER" "$U/v1/media/$MID" | sed -E 's/.*"comments":\{"count":([0-9]+).*/\1/')"
cat >"$WORK/comment.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $OWNER"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "text=another+comment+of+the+owner+%23bench"
LUA
cat >"$WORK/like.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $OWNER"
local n = 0
function request() n = n + 1; return wrk.format(n % 2 == 1 and "POST" or "DELETE") end
LUA
wrk -t1 -c1 -d"$DURATION" --latency -s "$WORK/like.lua" "$U/v1/media/$OID/likes" >"$WORK/likes.txt" &
L=$!
wrk -t1 -c1 -d"$DURATION" --latency -s "$WORK/comment.lua" "$U/v1/media/$MID/comments" >"$WORK/comments.txt"
wait $L
for k in comments likes; do
  printf '%-22s' "$k (with the other):"
  awk '/^Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {printf " %s req/s, p50 %s, p99 %s\n", r, p50, p99}' "$WORK/$k.txt"
done
