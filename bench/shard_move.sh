#!/usr/bin/env bash
# Cluster III, measured in one session:
#
#  1. a cluster (scripts/cluster.sh, its databases only) with the `small`
#     dataset loaded into its two PostgreSQL servers (bench_seed), and one
#     `picogram serve` on it through pgbouncer;
#  2. a move of 1% of the logical shards (0-81: 82 of 8192) from the first
#     server to the second under a load (bench/move_load.mjs: CONNS users
#     outside the range reading their feeds and liking photos outside it),
#     against the same load for as long without a move, alternated ROUNDS
#     times (each move goes back the other way): the move's time, the
#     write fence's, the rows moved, and p50/p99 of the reads and writes on
#     the other shards, each way;
#  3. a backup (scripts/cluster.sh backup) and a restore into a new cluster
#     (scripts/cluster.sh restore): MB/s of the databases' size on disk;
#  4. an asynchronous replica of the second server: its replay lag under
#     the load, and the time of a failover to it (scripts/cluster.sh promote).
#
#   bench/shard_move.sh     env: ROUNDS=3 SECONDS_=20 CONNS=16 SKIP_BACKUP=1 (the moves alone: no 3, 4)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; SECS=${SECONDS_:-20}; CONNS=${CONNS:-16}
BIN=${PICOGRAM_BIN:-build/picogram}
PGBIN=/usr/lib/postgresql/15/bin
WORK=$(mktemp -d /tmp/picogram-move.XXXXXX)
chmod 755 "$WORK"
CL=$WORK/cluster; NEW=$WORK/restored; SRV=
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
  scripts/cluster.sh down "$CL" >/dev/null 2>&1 || true
  scripts/cluster.sh down "$NEW" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
psql_on() { "$PGBIN/psql" -h 127.0.0.1 -p "$1" -U picogram -d picogram -qAtX -v ON_ERROR_STOP=1 -c "$2"; }
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b - a) / 1e9}'; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GB; PostgreSQL $($PGBIN/postgres --version | awk '{print $3}')"
CLUSTER_SERVE=0 PG_FSYNC=on scripts/cluster.sh up "$CL" >/dev/null
. "$CL/cluster.env"
read -r P0 P1 <<<"$PG_PORTS"
read -r B0 B1 <<<"$BOUNCER_PORTS"
echo "== the small dataset into the two servers (bench_seed)"
BENCH_DATABASE="0-4095=postgres://picogram@127.0.0.1:$P0/picogram;4096-8191=postgres://picogram@127.0.0.1:$P1/picogram" \
  build/bench_seed "$WORK/seed" small >"$WORK/tokens.txt" 2>"$WORK/seed.log"
tail -n 1 "$WORK/seed.log"
for p in $P0 $P1; do psql_on "$p" "VACUUM ANALYZE" >/dev/null; done
users=$(psql_on "$P0" "SELECT count(*) FROM users WHERE shard BETWEEN 0 AND 81")
media=$(psql_on "$P0" "SELECT count(*) FROM media WHERE shard BETWEEN 0 AND 81")
all=$(( $(psql_on "$P0" "SELECT count(*) FROM users") + $(psql_on "$P1" "SELECT count(*) FROM users") ))
echo "shards 0-81 hold $users of $all users and $media photos"

"$BIN" serve --config "$CL/picogram.conf" --listen 127.0.0.1:18490 --threads 2 --access-log off \
  --rate-limit 100000000 2>"$WORK/serve.log" &
SRV=$!
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18490/healthz && break; sleep 0.1; done
node bench/move_load.mjs http://127.0.0.1:18490 "$WORK/tokens.txt" 0 81 3 "$CONNS" >/dev/null # warm

to=("postgres://picogram@127.0.0.1:$B1/picogram" "postgres://picogram@127.0.0.1:$B0/picogram")
echo "== a move of shards 0-81 under the load (${SECS} s, $CONNS clients), against the load alone; ROUNDS=$ROUNDS"
for r in $(seq "$ROUNDS"); do
  echo "-- round $r: no move: $(node bench/move_load.mjs http://127.0.0.1:18490 "$WORK/tokens.txt" 0 81 "$SECS" "$CONNS")"
  node bench/move_load.mjs http://127.0.0.1:18490 "$WORK/tokens.txt" 0 81 "$SECS" "$CONNS" >"$WORK/load.json" &
  L=$!
  sleep 2
  t0=$(now)
  "$BIN" shards move 0-81 --to "${to[$(((r - 1) % 2))]}" --drop-source --config "$CL/picogram.conf" >"$WORK/move.out" 2>"$WORK/move.err"
  t1=$(now)
  wait "$L"
  echo "-- round $r: a move: $(cat "$WORK/load.json")"
  echo "   the move: $(secs "$t0" "$t1") s in all; $(grep -o 'caught up.*' "$WORK/move.err"); $(grep -o 'fenced for.*' "$WORK/move.err")"
done

[ "${SKIP_BACKUP:-0}" = 1 ] && exit 0
echo "== backup and restore (scripts/cluster.sh)"
bytes=$(( $(psql_on "$P0" "SELECT pg_database_size('picogram')") + $(psql_on "$P1" "SELECT pg_database_size('picogram')") ))
t0=$(now)
scripts/cluster.sh backup "$CL" "$WORK/backup" >/dev/null 2>"$WORK/backup.log"
t1=$(now)
on_disk=$(du -sb "$WORK/backup" | cut -f1)
echo "backup: $(secs "$t0" "$t1") s for $((on_disk / 1048576)) MiB ($((bytes / 1048576)) MiB of databases):" \
  "$(awk -v b="$on_disk" -v a="$t0" -v c="$t1" 'BEGIN {printf "%.0f", b / 1048576 / ((c - a) / 1e9)}') MB/s"
t0=$(now)
CLUSTER_SERVE=0 scripts/cluster.sh restore "$WORK/backup" "$NEW" >/dev/null 2>"$WORK/restore.log"
t1=$(now)
echo "restore to the backup's point, started: $(secs "$t0" "$t1") s:" \
  "$(awk -v b="$on_disk" -v a="$t0" -v c="$t1" 'BEGIN {printf "%.0f", b / 1048576 / ((c - a) / 1e9)}') MB/s"
scripts/cluster.sh down "$NEW" >/dev/null 2>&1

echo "== an asynchronous replica of server 1: its lag under the load, and a failover"
scripts/cluster.sh replica "$CL" 1 async >/dev/null 2>&1
node bench/move_load.mjs http://127.0.0.1:18490 "$WORK/tokens.txt" 0 81 "$SECS" "$CONNS" >"$WORK/load.json" &
L=$!
lags=()
for _ in $(seq $((SECS - 2))); do
  sleep 1
  lags+=("$(psql_on "$P1" "SELECT coalesce(extract(epoch FROM replay_lag) * 1000, 0)::int || ' ' || pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication WHERE application_name = 'replica1'")")
done
wait "$L"
printf '%s\n' "${lags[@]}" | sort -n | awk '{ms[NR] = $1; b[NR] = $2} END {print "replay lag each second under the load: median " ms[int((NR + 1) / 2)] " ms, max " ms[NR] " ms; bytes behind, median " b[int((NR + 1) / 2)]}'
tok=
while read -r t; do id=${t%%.*}; [ $(((id >> 10) & 8191)) -ge 4096 ] && { tok=$t; break; }; done <"$WORK/tokens.txt"
t0=$(now)
scripts/cluster.sh promote "$CL" 1 2>&1 | tail -n 1
t1=$(now)
for _ in $(seq 200); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:18490/v1/users/self?access_token=$tok")" = 200 ] && break
  sleep 0.05
done
echo "failover (cluster.sh promote): $(secs "$t0" "$t1") s; a user of server 1 served again $(secs "$t0" "$(now)") s after it began"
