#!/usr/bin/env bash
# Discovery reads on the `small` dataset, each beside nginx serving the same
# response bytes, alternated for ROUNDS rounds in one session:
#   tag recent   GET /v1/tags/sf/media/recent?count=20
#   geo search   GET /v1/media/search around Paris, 3 km, a 7-day window
#   place recent GET /v1/locations/{a Paris spot}/media/recent?count=20
# and the size on disk of the tag and geo indexes per media.
#
#   bench/discovery.sh        env: ROUNDS=3 DURATION=10s CONNS=32 DATA=/tmp/picogram-small
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ensure_small
start_picogram
start_nginx
T0=1325376000 # the dataset starts on 2012-01-01, one photo about every 2 minutes
SEARCH="/v1/media/search?lat=48.8566&lng=2.3522&distance=3000&min_timestamp=$((T0 + 86400))&max_timestamp=$((T0 + 8 * 86400))"
PLACE=$(python3 -c "import sqlite3; print(sqlite3.connect('file:$DATA/picogram.db?mode=ro', uri=True).execute(\"SELECT location_id FROM media WHERE location_id IN (SELECT id FROM locations WHERE name LIKE 'Paris%') GROUP BY location_id ORDER BY COUNT(*) DESC LIMIT 1\").fetchone()[0])")
for path in "/v1/tags/sf/media/recent?count=20" "$SEARCH" "/v1/locations/$PLACE/media/recent?count=20"; do
  n=$(curl -fs "http://127.0.0.1:$PG_PORT$path&access_token=$(head -1 "$DATA/tokens.txt")" |
      python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
  echo "$path: $n items"
done
side_by_side tag-recent "/v1/tags/sf/media/recent?count=20"
side_by_side geo-search "$SEARCH"
side_by_side place-recent "/v1/locations/$PLACE/media/recent?count=20"
echo "== index size on disk (sqlite dbstat)"
python3 - "$DATA/picogram.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
media = c.execute("SELECT COUNT(*) FROM media").fetchone()[0]
placed = c.execute("SELECT COUNT(*) FROM media WHERE location_id IS NOT NULL").fetchone()[0]
tagged = c.execute("SELECT COUNT(*) FROM media_tags").fetchone()[0]
def size(like):
    try:
        return c.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE ?", (like,)).fetchone()[0] or 0
    except sqlite3.OperationalError:
        return None
geo, tags, tagidx = size("geo_media%"), size("media_tags%"), size("sqlite_autoindex_media_tags%")
if geo is None:
    print("dbstat is not compiled into this sqlite; no sizes")
else:
    print(f"media {media}, placed {placed}, tag rows {tagged}")
    print(f"geo index (geo_media R*Tree): {geo} bytes, {geo / max(placed, 1):.1f} bytes per placed media, {geo / media:.1f} per media")
    print(f"tag index (media_tags and its indexes): {tags + tagidx} bytes, {(tags + tagidx) / media:.1f} bytes per media")
PY
