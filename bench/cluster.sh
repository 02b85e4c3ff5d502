#!/usr/bin/env bash
# The cluster's data tier (Cluster I), side by side in one session:
#
#  1. a cluster of two PostgreSQL 15 servers, each behind pgbouncer
#     (scripts/cluster.sh, in a temporary directory);
#  2. the time to create the 8192 logical shards (picogram migrate on two
#     fresh databases), and, for the layout's reason, one schema per shard
#     (the seeds' layout) made 256 times, with its size;
#  3. the `small` dataset loaded into the two servers (bench_seed), its
#     time, and bytes per user and per photo;
#  4. unnamed statements (what pgbouncer's transaction pooling allows)
#     against prepared ones, on one server (pgbench, the feed's query);
#  5. GET /v1/users/self/feed?count=20 and GET /v1/users/self on picogram
#     over the two PostgreSQL servers, on picogram embedded (SQLite, the
#     same dataset), and nginx serving the same bytes, alternated, each
#     picogram warmed for 2 s before its round;
#  6. the feed on the two PostgreSQL servers with every request on the
#     request threads (dispatch pool) against each tried on its loop first
#     (auto);
#  7. the feed through nginx over two picogram servers on the two
#     PostgreSQL servers (deploy/nginx.conf), once with a local object
#     cache each (and the cluster's Redis carrying invalidations), once
#     with the cluster's two memcached as their one shared cache and a
#     local tier each (the cluster's default), once with memcached alone
#     (near_cache = off), against nginx proxying to nginx that serves the
#     same bytes, and against the embedded feed (Cluster II's benchmark);
#  8. the Django reference on PostgreSQL (REF_DB=pg), on server 0.
#
#   bench/cluster.sh        env: ROUNDS=3 DURATION=10s CONNS=32 DATA=/tmp/picogram-small
#                           SKIP_SHARDS=1 (no 2), SKIP_READS=1 (no 4-6), SKIP_DJANGO=1 (no 8)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
PGBIN=/usr/lib/postgresql/15/bin
CL=$WORK/cluster
CLUSTER_UP=
SERVE2_PID=
LB_PIDS=
cluster_cleanup() {
  [ -n "$SERVE2_PID" ] && kill "$SERVE2_PID" 2>/dev/null && wait "$SERVE2_PID" 2>/dev/null
  for p in $LB_PIDS; do kill "$p" 2>/dev/null; done
  [ -n "$CLUSTER_UP" ] && scripts/cluster.sh down "$CL" >/dev/null 2>&1
  bench_cleanup
}
trap cluster_cleanup EXIT
psql_on() { # psql_on PORT DB SQL
  "$PGBIN/psql" -h 127.0.0.1 -p "$1" -U picogram -d "$2" -qAtX -v ON_ERROR_STOP=1 -c "$3"
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b - a) / 1e9}'; }

echo "== cluster: two PostgreSQL 15 servers, a pgbouncer in front of each (scripts/cluster.sh)"
CLUSTER_SERVE=0 scripts/cluster.sh up "$CL" >/dev/null
CLUSTER_UP=1
. "$CL/cluster.env"
read -r P0 P1 <<<"$PG_PORTS"
read -r B0 B1 <<<"$BOUNCER_PORTS"

if [ "${SKIP_SHARDS:-0}" != 1 ]; then
echo "== creating the logical shards"
for p in $P0 $P1; do psql_on "$p" postgres "CREATE DATABASE shards_t"; done
t0=$(date +%s%N)
build/picogram migrate --database "0-4095=postgres://picogram@127.0.0.1:$B0/shards_t;4096-8191=postgres://picogram@127.0.0.1:$B1/shards_t" \
  --data "$WORK/m" >/dev/null
t1=$(date +%s%N)
echo "picogram migrate, 8192 logical shards on two servers (shared tables): $(secs "$t0" "$t1") s," \
  "$(psql_on "$P0" shards_t "SELECT pg_size_pretty(pg_database_size('shards_t'))") per server"
# the seeds' layout, for comparison: one schema per logical shard, the same tables in each
psql_on "$P0" postgres "CREATE DATABASE schemas_t"
psql_on "$P0" schemas_t "SELECT 1" >/dev/null
before=$(psql_on "$P0" schemas_t "SELECT pg_database_size('schemas_t')")
{ psql_on "$P0" shards_t "SELECT 1" >/dev/null
  "$PGBIN/pg_dump" -h 127.0.0.1 -p "$P0" -U picogram -s -n public -T schema_migrations shards_t |
    grep -v '^SET \|^SELECT pg_catalog\|^--\|OWNER TO\|^COMMENT' >"$WORK/shard.sql"; }
t0=$(date +%s%N)
for i in $(seq 1 256); do
  printf 'CREATE SCHEMA s%04d; SET search_path = s%04d;\n' "$i" "$i"
  sed 's/public\.//g' "$WORK/shard.sql"
done | "$PGBIN/psql" -h 127.0.0.1 -p "$P0" -U picogram -d schemas_t -q >/dev/null 2>&1
t1=$(date +%s%N)
after=$(psql_on "$P0" schemas_t "SELECT pg_database_size('schemas_t')")
echo "one schema per logical shard: 256 schemas in $(secs "$t0" "$t1") s, $(( (after - before) / 256 / 1024 )) KiB each" \
  "(8192 would take $(awk -v s="$(secs "$t0" "$t1")" 'BEGIN {printf "%.0f", s * 32}') s and" \
  "$(( (after - before) / 256 * 8192 / 1048576 )) MiB before any row)"
fi

echo "== the small dataset into the two servers (bench_seed, direct to PostgreSQL)"
for p in $P0 $P1; do psql_on "$p" postgres "CREATE DATABASE bench"; done
BENCH_DATABASE="0-4095=postgres://picogram@127.0.0.1:$P0/bench;4096-8191=postgres://picogram@127.0.0.1:$P1/bench" \
  build/bench_seed "$WORK/pgdata" small >"$WORK/pg-tokens.txt" 2>"$WORK/seed.log"
tail -n 1 "$WORK/seed.log"
sizes() { # bytes per user (users, usernames, tokens, following, followers) and per photo (the rest)
  local u=0 m=0 users media
  for p in $P0 $P1; do
    u=$((u + $(psql_on "$p" bench "SELECT SUM(pg_total_relation_size(c)) FROM unnest(ARRAY['users','usernames','tokens','following','followers']::regclass[]) c")))
    m=$((m + $(psql_on "$p" bench "SELECT SUM(pg_total_relation_size(c)) FROM unnest(ARRAY['media','media_tags','tag_media','tags','likes','liked','comments','geo_media','location_media','locations','geo_places']::regclass[]) c")))
  done
  users=$(( $(psql_on "$P0" bench "SELECT COUNT(*) FROM users") + $(psql_on "$P1" bench "SELECT COUNT(*) FROM users") ))
  media=$(( $(psql_on "$P0" bench "SELECT COUNT(*) FROM media") + $(psql_on "$P1" bench "SELECT COUNT(*) FROM media") ))
  echo "bytes per user: $((u / users)) (users, usernames, tokens and the follow lists; 100 follows each)"
  echo "bytes per photo: $((m / media)) (media, tags, likes, liked lists, comments, places, geo; 5 likes and 1.5 comments each)"
}
sizes
# what a bulk load leaves behind (dirty pages, tables never analyzed) is settled before measuring reads
t0=$(date +%s%N)
for p in $P0 $P1; do psql_on "$p" bench "VACUUM ANALYZE" && psql_on "$p" bench "CHECKPOINT"; done
echo "VACUUM ANALYZE and CHECKPOINT after the load: $(secs "$t0" "$(date +%s%N)") s"

ensure_small
start_picogram # embedded, on $DATA
cat >"$WORK/pg.conf" <<EOF
database = 0-4095=postgres://picogram@127.0.0.1:$B0/bench;4096-8191=postgres://picogram@127.0.0.1:$B1/bench
EOF
FEED=/v1/users/self/feed?count=20
warm() { # warm PORT TOKENS: every token's timeline built, its objects cached
  while read -r t; do curl -fs -o /dev/null "http://127.0.0.1:$1$FEED&access_token=$t"; curl -fs -o /dev/null "http://127.0.0.1:$1/v1/users/self?access_token=$t"; done <"$2"
}
warm "$PG_PORT" "$DATA/tokens.txt"
start_nginx

if [ "${SKIP_READS:-0}" != 1 ]; then
echo "== unnamed statements (pgbouncer's transaction pooling) against prepared ones: the feed's query, one server"
U=$(psql_on "$P0" bench "SELECT user_id FROM feed_items LIMIT 1" || true)
[ -n "$U" ] || U=$(psql_on "$P0" bench "SELECT id FROM users LIMIT 1")
printf '\\set u %s\nSELECT media_id FROM feed_items WHERE user_id = :u AND media_id < 9223372036854775807 AND media_id > 0 ORDER BY media_id DESC LIMIT 21;\n' "$U" >"$WORK/q.sql"
for m in "extended $P0 direct" "prepared $P0 direct" "extended $B0 pgbouncer"; do
  set -- $m
  echo "$3, -M $1: $("$PGBIN/pgbench" -n -h 127.0.0.1 -p "$2" -U picogram -M "$1" -c 8 -j 1 -T 8 -f "$WORK/q.sql" bench 2>/dev/null | awk '/^tps/ {print $3 " tps"}')"
done

echo "== the feed and a user, on two PostgreSQL servers, on SQLite, and nginx"
PG2_PORT=$((PG_PORT + 10))
"${PICOGRAM_BIN:-build/picogram}" serve --config "$WORK/pg.conf" --listen 127.0.0.1:$PG2_PORT --data "$WORK/pgdata" \
  --threads 2 --access-log off --rate-limit 100000000 2>"$WORK/picogram-pg.log" &
SERVE2_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PG2_PORT/" && break; sleep 0.1; done
warm "$PG2_PORT" "$WORK/pg-tokens.txt"
three_ways() { # three_ways NAME PATH
  local name=$1 path=$2 bytes r
  bytes=$(capture "$path" "$name")
  echo "== $name: GET $path ($bytes bytes); wrk -t1 -c$CONNS -d$DURATION; picogram --threads 2; nginx worker_processes 2"
  printf '%-6s %-22s %12s %10s %10s\n' round server req/s p50 p99
  : >"$WORK/a"; : >"$WORK/b"; : >"$WORK/c"; : >"$WORK/a99"
  for r in $(seq "$ROUNDS"); do
    # each picogram is warmed for 2 s before its round, as the Django reference's bench.sh does:
    # idle through the other servers' rounds, its short-lived cache entries (5 s) have expired
    DURATION=2s wrk_run "http://127.0.0.1:$PG2_PORT" "$path" "$WORK/pg-tokens.txt" >/dev/null
    read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$PG2_PORT" "$path" "$WORK/pg-tokens.txt")
    printf '%-6s %-22s %12s %10s %10s\n' "$r" "picogram, 2 PostgreSQL" "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/a"; echo "$p99" >>"$WORK/a99"
    DURATION=2s wrk_run "http://127.0.0.1:$PG_PORT" "$path" "$DATA/tokens.txt" >/dev/null
    read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$PG_PORT" "$path" "$DATA/tokens.txt")
    printf '%-6s %-22s %12s %10s %10s\n' "$r" "picogram, SQLite" "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/b"
    read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$NG_PORT/$name")
    printf '%-6s %-22s %12s %10s %10s\n' "$r" nginx "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/c"
  done
  local a b c
  a=$(median <"$WORK/a"); b=$(median <"$WORK/b"); c=$(median <"$WORK/c")
  echo "median req/s: PostgreSQL $a, SQLite $b, nginx $c; PostgreSQL/SQLite $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a/b}')," \
    "PostgreSQL/nginx $(awk -v a="$a" -v c="$c" 'BEGIN {printf "%.2f", a/c}'); PostgreSQL p99s: $(tr '\n' ' ' <"$WORK/a99")"
}
three_ways feed "$FEED"
three_ways user /v1/users/self

# where requests run with PostgreSQL: every request on the request threads
# (dispatch pool), or each tried on its loop first (auto, the default)
echo "== the feed on two PostgreSQL servers: dispatch pool against auto; wrk -t1 -c$CONNS -d$DURATION"
kill "$SERVE2_PID"; wait "$SERVE2_PID" 2>/dev/null || true
: >"$WORK/pool"; : >"$WORK/auto"
for r in $(seq "$ROUNDS"); do
  for mode in pool auto; do
    "${PICOGRAM_BIN:-build/picogram}" serve --config "$WORK/pg.conf" --listen 127.0.0.1:$PG2_PORT --data "$WORK/pgdata" \
      --threads 2 --access-log off --rate-limit 100000000 --dispatch $mode 2>>"$WORK/picogram-pg.log" &
    SERVE2_PID=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PG2_PORT/" && break; sleep 0.1; done
    DURATION=3s wrk_run "http://127.0.0.1:$PG2_PORT" "$FEED" "$WORK/pg-tokens.txt" >/dev/null
    read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$PG2_PORT" "$FEED" "$WORK/pg-tokens.txt")
    printf '%-6s %-6s %12s %10s %10s\n' "$r" "$mode" "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/$mode"
    kill "$SERVE2_PID"; wait "$SERVE2_PID" 2>/dev/null || true
  done
done
SERVE2_PID=
echo "median req/s: dispatch pool $(median <"$WORK/pool"), auto $(median <"$WORK/auto")"
fi

# Cluster II's benchmark: the warm feed through nginx over two servers
# (each with the cluster's Redis: the invalidation bus and shared rate
# limits; then the same with the cluster's memcached as the object
# cache), against nginx proxying to nginx that serves the same bytes
# statically, and the embedded feed, alternated.
echo "== the feed through nginx over two servers (local caches; memcached with a local tier; memcached alone), against nginx proxying to nginx, and embedded"
LB_PORT=$((PG_PORT + 20)) PX_PORT=$((PG_PORT + 21)) A0=$((PG_PORT + 22)) A1=$((PG_PORT + 23))
LBM_PORT=$((PG_PORT + 24)) A2=$((PG_PORT + 25)) A3=$((PG_PORT + 26))
LBS_PORT=$((PG_PORT + 27)) A4=$((PG_PORT + 28)) A5=$((PG_PORT + 29))
read -r -a MC <<<"$MEMCACHED_PORTS"
for a in $A0 $A1 $A2 $A3 $A4 $A5; do
  cache=local near=on
  [ "$a" = "$A0" ] || [ "$a" = "$A1" ] || cache="memcached://127.0.0.1:${MC[0]},127.0.0.1:${MC[1]}"
  [ "$a" = "$A4" ] || [ "$a" = "$A5" ] && near=off
  "${PICOGRAM_BIN:-build/picogram}" serve --config "$WORK/pg.conf" --listen 127.0.0.1:$a --data "$WORK/pgdata" \
    --threads 2 --access-log off --rate-limit 100000000 --redis "redis://127.0.0.1:$REDIS_PORT" \
    --cache "$cache" --near-cache "$near" --trusted-proxies 127.0.0.1 2>>"$WORK/picogram-lb.log" &
  LB_PIDS="$LB_PIDS $!"
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$a/healthz" && break; sleep 0.1; done
done
mkdir -p "$WORK/lb" "$WORK/lbm" "$WORK/lbs" "$WORK/px"
scripts/nginx-conf.sh "$WORK/lb" "127.0.0.1:$LB_PORT" 25m "127.0.0.1:$A0" "127.0.0.1:$A1" >"$WORK/lb/nginx.conf"
scripts/nginx-conf.sh "$WORK/lbm" "127.0.0.1:$LBM_PORT" 25m "127.0.0.1:$A2" "127.0.0.1:$A3" >"$WORK/lbm/nginx.conf"
scripts/nginx-conf.sh "$WORK/lbs" "127.0.0.1:$LBS_PORT" 25m "127.0.0.1:$A4" "127.0.0.1:$A5" >"$WORK/lbs/nginx.conf"
scripts/nginx-conf.sh "$WORK/px" "127.0.0.1:$PX_PORT" 25m "127.0.0.1:$NG_PORT" >"$WORK/px/nginx.conf"
for d in lb lbm lbs px; do
  sed -i 's/^worker_processes auto;/worker_processes 2;/; s|access_log [^;]*;|access_log off;|' "$WORK/$d/nginx.conf"
  nginx -c "$WORK/$d/nginx.conf" -p "$WORK/$d" -g 'daemon off;' &
  LB_PIDS="$LB_PIDS $!"
done
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$LB_PORT/healthz" && break; sleep 0.1; done
capture "$FEED" feed >/dev/null
warm "$LB_PORT" "$WORK/pg-tokens.txt"; warm "$LB_PORT" "$WORK/pg-tokens.txt" # both servers
warm "$LBM_PORT" "$WORK/pg-tokens.txt"; warm "$LBM_PORT" "$WORK/pg-tokens.txt"
warm "$LBS_PORT" "$WORK/pg-tokens.txt"
echo "round  server                                   req/s        p50        p99"
: >"$WORK/lb.r"; : >"$WORK/lbm.r"; : >"$WORK/lbs.r"; : >"$WORK/px.r"; : >"$WORK/em.r"; : >"$WORK/lb.99"; : >"$WORK/lbm.99"; : >"$WORK/lbs.99"
for r in $(seq "$ROUNDS"); do
  DURATION=2s wrk_run "http://127.0.0.1:$LB_PORT" "$FEED" "$WORK/pg-tokens.txt" >/dev/null
  read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$LB_PORT" "$FEED" "$WORK/pg-tokens.txt")
  printf '%-6s %-36s %12s %10s %10s\n' "$r" "nginx -> 2 picogram, 2 PostgreSQL" "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/lb.r"; echo "$p99" >>"$WORK/lb.99"
  DURATION=2s wrk_run "http://127.0.0.1:$LBM_PORT" "$FEED" "$WORK/pg-tokens.txt" >/dev/null
  read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$LBM_PORT" "$FEED" "$WORK/pg-tokens.txt")
  printf '%-6s %-36s %12s %10s %10s\n' "$r" "the same, memcached + a local tier" "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/lbm.r"; echo "$p99" >>"$WORK/lbm.99"
  DURATION=2s wrk_run "http://127.0.0.1:$LBS_PORT" "$FEED" "$WORK/pg-tokens.txt" >/dev/null
  read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$LBS_PORT" "$FEED" "$WORK/pg-tokens.txt")
  printf '%-6s %-36s %12s %10s %10s\n' "$r" "the same, memcached alone" "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/lbs.r"; echo "$p99" >>"$WORK/lbs.99"
  read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$PX_PORT/feed")
  printf '%-6s %-36s %12s %10s %10s\n' "$r" "nginx -> nginx (the same bytes)" "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/px.r"
  DURATION=2s wrk_run "http://127.0.0.1:$PG_PORT" "$FEED" "$DATA/tokens.txt" >/dev/null
  read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$PG_PORT" "$FEED" "$DATA/tokens.txt")
  printf '%-6s %-36s %12s %10s %10s\n' "$r" "picogram embedded (SQLite)" "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/em.r"
done
lb=$(median <"$WORK/lb.r"); lbm=$(median <"$WORK/lbm.r"); lbs=$(median <"$WORK/lbs.r"); px=$(median <"$WORK/px.r"); em=$(median <"$WORK/em.r")
ratio() { awk -v a="$1" -v b="$px" 'BEGIN {printf "%.2f", a/b}'; }
echo "median req/s: through nginx $lb (memcached + local tier: $lbm; memcached alone: $lbs), nginx -> nginx $px, embedded $em;" \
  "ratio to nginx -> nginx $(ratio "$lb") (memcached + local tier: $(ratio "$lbm"); memcached alone: $(ratio "$lbs"));" \
  "p99s: $(tr '\n' ' ' <"$WORK/lb.99") (memcached + local tier: $(tr '\n' ' ' <"$WORK/lbm.99"); alone: $(tr '\n' ' ' <"$WORK/lbs.99"))"
for p in $LB_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
LB_PIDS=

DJANGO_REF=${DJANGO_REF:-../shared/reference/django} # the workspace's, not the repository's
if [ "${SKIP_DJANGO:-0}" != 1 ] && [ ! -d "$DJANGO_REF" ]; then
  echo "== the Django reference: skipped, none at $DJANGO_REF (DJANGO_REF=DIR)"
elif [ "${SKIP_DJANGO:-0}" != 1 ]; then
  echo "== the Django reference on PostgreSQL (server 0), gunicorn 2 and 5 workers"
  REF=$WORK/django
  cp -r "$DJANGO_REF" "$REF"
  chmod -R u+w "$REF"
  psql_on "$P0" postgres "CREATE DATABASE refdjango"
  export REF_DB=pg REF_PG_HOST=127.0.0.1 REF_PG_PORT=$P0 REF_PG_USER=picogram REF_PG_NAME=refdjango
  (cd "$REF" && /usr/bin/python3 gen.py >/dev/null 2>&1 && DURATION=$DURATION ./bench.sh 2 5)
fi
