#!/usr/bin/env bash
# The geo index in the cluster: which engine, measured. One PostgreSQL 15
# server and one Redis of the cluster (scripts/cluster.sh, CLUSTER_SERVE=0),
# POINTS photo locations around CITIES cities (each within about 10 km of
# its city; no city within 5 degrees of the antimeridian, where GEOADD
# would refuse a longitude past 180, and with it a batch of 500), posted
# over 30 days; then a search a client makes, "photos
# within 1 km of a point, in the last 7 days", around a random city:
#
#   btree  the cluster's table today: integer points (degrees x 10^7,
#          seconds), a B-tree on (lat0, lng0), the query geo/rtree.c sends
#          (lat1 >= lo AND lat0 <= hi ...);
#   band   the same table, the query asking lat0 BETWEEN lo AND hi (for
#          points lat0 = lat1), so the B-tree reads one latitude band;
#   gist   PostgreSQL's own point type with a GiST index (no extension),
#          the time window filtered on the rows the box finds;
#   redis  Redis GEO (GEOSEARCH BYRADIUS 1 km around a member, up to 1,000
#          nearest), which has no time dimension: the window would be
#          filtered after, from the media IDs' time bits.
#
# pgbench -c 4 -T DURATION per PostgreSQL variant, redis-benchmark -c 4 for
# Redis; searches per second and mean latency, and rows per search.
#
#   bench/geo.sh           env: POINTS=1000000 CITIES=1000 DURATION=10
set -euo pipefail
cd "$(dirname "$0")/.."
POINTS=${POINTS:-1000000}; CITIES=${CITIES:-1000}; DURATION=${DURATION:-10}
PGBIN=/usr/lib/postgresql/15/bin
WORK=$(mktemp -d /tmp/picogram-geo.XXXXXX)
chmod 755 "$WORK"
CL=$WORK/cluster
UP=
cleanup() {
  [ -n "$UP" ] && scripts/cluster.sh down "$CL" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
CLUSTER_SERVE=0 scripts/cluster.sh up "$CL" >/dev/null
UP=1
. "$CL/cluster.env"
read -r P0 _ <<<"$PG_PORTS"
psql_() { "$PGBIN/psql" -h 127.0.0.1 -p "$P0" -U picogram -d geo -qAtX -v ON_ERROR_STOP=1 "$@"; }
"$PGBIN/psql" -h 127.0.0.1 -p "$P0" -U picogram -d postgres -qAtX -c "CREATE DATABASE geo"

echo "== $POINTS points around $CITIES cities, 30 days (PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), Redis $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/'))"
t0=$(date +%s%N)
psql_ <<SQL
SELECT setseed(0.42);
CREATE TABLE cities (i INTEGER PRIMARY KEY, lat DOUBLE PRECISION, lng DOUBLE PRECISION);
INSERT INTO cities SELECT i, random() * 120 - 60, random() * 350 - 175 FROM generate_series(0, $CITIES - 1) i;
CREATE TABLE pts AS
  SELECT g AS id, c.lat + (random() - 0.5) * 0.18 AS lat,
         c.lng + (random() - 0.5) * 0.18 / cos(radians(c.lat)) AS lng,
         1700000000 + (random() * 30 * 86400)::int AS t
  FROM generate_series(0, $POINTS - 1) g JOIN cities c ON c.i = g % $CITIES;
CREATE TABLE geo_media (id BIGINT PRIMARY KEY, lat0 INTEGER NOT NULL, lat1 INTEGER NOT NULL,
  lng0 INTEGER NOT NULL, lng1 INTEGER NOT NULL, t0 INTEGER NOT NULL, t1 INTEGER NOT NULL);
INSERT INTO geo_media SELECT id, round(lat * 1e7), round(lat * 1e7), round(lng * 1e7), round(lng * 1e7),
  t - 1293840000, t - 1293840000 FROM pts;
CREATE INDEX geo_media_lat ON geo_media (lat0, lng0);
CREATE TABLE geo_gist (id BIGINT PRIMARY KEY, p POINT NOT NULL, t INTEGER NOT NULL);
INSERT INTO geo_gist SELECT id, point(lng, lat), t - 1293840000 FROM pts;
CREATE INDEX geo_gist_p ON geo_gist USING gist (p);
VACUUM ANALYZE;
SQL
echo "loaded and indexed in $(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}') s;" \
  "B-tree $(psql_ -c "SELECT pg_size_pretty(pg_relation_size('geo_media_lat'))"), GiST $(psql_ -c "SELECT pg_size_pretty(pg_relation_size('geo_gist_p'))")"

# the search: a random city, a box of 1 km around it (its bounds read
# first, so each variant's query has constants, as the server's has
# parameters), the last 7 days of the 30
W0=$((1700000000 + 23 * 86400 - 1293840000)) W1=$((1700000000 + 30 * 86400 - 1293840000))
psql_ -c "ALTER TABLE cities ADD COLUMN lat_lo DOUBLE PRECISION, ADD COLUMN lat_hi DOUBLE PRECISION,
  ADD COLUMN lng_lo DOUBLE PRECISION, ADD COLUMN lng_hi DOUBLE PRECISION;
  UPDATE cities SET lat_lo = lat - 0.009, lat_hi = lat + 0.009,
    lng_lo = lng - 0.009 / cos(radians(lat)), lng_hi = lng + 0.009 / cos(radians(lat))"
BOX='\set c random(0, '"$((CITIES - 1))"')
SELECT round(lat_lo * 1e7) AS a, round(lat_hi * 1e7) AS b, round(lng_lo * 1e7) AS x, round(lng_hi * 1e7) AS y,
  lat_lo, lat_hi, lng_lo, lng_hi FROM cities WHERE i = :c \gset
'
cat >"$WORK/btree.sql" <<SQL
${BOX}SELECT count(*) FROM geo_media WHERE lat1 >= :a AND lat0 <= :b AND lng1 >= :x AND lng0 <= :y AND t1 >= $W0 AND t0 <= $W1;
SQL
cat >"$WORK/band.sql" <<SQL
${BOX}SELECT count(*) FROM geo_media WHERE lat0 BETWEEN :a AND :b AND lng0 BETWEEN :x AND :y AND t0 BETWEEN $W0 AND $W1;
SQL
cat >"$WORK/gist.sql" <<SQL
${BOX}SELECT count(*) FROM geo_gist WHERE p <@ box(point(:lng_lo, :lat_lo), point(:lng_hi, :lat_hi)) AND t BETWEEN $W0 AND $W1;
SQL
rows() { # the mean rows a search returns (its count), over 200 cities
  psql_ -c "SELECT round(avg(n)) FROM (SELECT (SELECT count(*) FROM geo_gist g WHERE
    g.p <@ box(point(c.lng - 0.009 / cos(radians(c.lat)), c.lat - 0.009), point(c.lng + 0.009 / cos(radians(c.lat)), c.lat + 0.009))
    $1) n FROM cities c WHERE c.i < 200) x"
}
echo "rows per search: $(rows "AND g.t BETWEEN 1700000000 + 23 * 86400 - 1293840000 AND 1700000000 + 30 * 86400 - 1293840000") in the window, $(rows "") in the box at any time"
plan() { psql_ -c "EXPLAIN (COSTS OFF) $1" | sed 's/^/    /'; }
echo "the plans, for a box at (10, 10):"
echo "  btree:"; plan "SELECT count(*) FROM geo_media WHERE lat1 >= 99100000 AND lat0 <= 100900000 AND lng1 >= 99100000 AND lng0 <= 100900000 AND t1 >= $W0 AND t0 <= $W1"
echo "  band:"; plan "SELECT count(*) FROM geo_media WHERE lat0 BETWEEN 99100000 AND 100900000 AND lng0 BETWEEN 99100000 AND 100900000 AND t0 BETWEEN $W0 AND $W1"
echo "  gist:"; plan "SELECT count(*) FROM geo_gist WHERE p <@ box(point(9.91, 9.91), point(10.09, 10.09)) AND t BETWEEN $W0 AND $W1"

printf '%-7s %14s %12s\n' engine searches/s "mean ms"
for v in btree band gist; do
  "$PGBIN/pgbench" -h 127.0.0.1 -p "$P0" -U picogram -n -c 4 -j 2 -T "$DURATION" -f "$WORK/$v.sql" geo >"$WORK/$v.out" 2>&1
  printf '%-7s %14s %12s\n' "$v" "$(awk -F'= ' '/^tps/ {split($2, a, " "); printf "%.0f", a[1]}' "$WORK/$v.out")" \
    "$(awk -F'= ' '/latency average/ {split($2, a, " "); print a[1]}' "$WORK/$v.out")"
done

# Redis GEO: the same points (500 a GEOADD: an inline command stays under
# Redis's 64 KB), members named by their number (12 digits, as
# redis-benchmark's __rand_int__), searched around a random member
psql_ -c "COPY (SELECT 'GEOADD geo ' || string_agg(format('%s %s m:%s', lng, lat, lpad(id::text, 12, '0')), ' ')
  FROM pts GROUP BY id / 500) TO STDOUT" | redis-cli -p "$REDIS_PORT" >/dev/null
echo "redis: $(redis-cli -p "$REDIS_PORT" ZCARD geo) members, $(redis-cli -p "$REDIS_PORT" MEMORY USAGE geo SAMPLES 0) bytes"
redis-benchmark -p "$REDIS_PORT" -c 4 -n $((20000 * DURATION / 10)) -r "$POINTS" -q \
  GEOSEARCH geo FROMMEMBER m:__rand_int__ BYRADIUS 1 km ASC COUNT 1000 | tr '\r' '\n' | tail -n 2 | sed 's/^/redis   /'
