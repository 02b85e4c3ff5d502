#!/usr/bin/env bash
# The cluster topology on one box, on 127.0.0.1, everything in DIR:
#
#   scripts/cluster.sh up DIR     two PostgreSQL 15 servers (initdb), a
#                                 pgbouncer in front of each (transaction
#                                 pooling), a Redis (rate limits, log-in
#                                 back-off and home timelines), two
#                                 memcached (the object cache every server
#                                 shares), gearmand (the jobs, its queue
#                                 in SQLite), `picogram migrate`, an S3
#                                 server (s3rver, from npm) holding the
#                                 photos, then two `picogram serve` with
#                                 DIR/picogram.conf behind nginx and a
#                                 `picogram worker` running their jobs
#                                 (deploy/nginx.conf; it caches the photos
#                                 too, the CDN stand-in). Returns when
#                                 everything answers; the last line is
#                                 nginx's URL, the API's.
#   scripts/cluster.sh down DIR   stops everything `up` started, by PID.
#   scripts/cluster.sh env DIR    prints what `up` wrote to DIR/cluster.env.
#   scripts/cluster.sh stop-pg DIR I | start-pg DIR I
#                                 stops or starts PostgreSQL server I (0 or 1)
#                                 alone, on its port (fault drills).
#   scripts/cluster.sh stop-redis DIR | start-redis DIR   the same for Redis.
#   scripts/cluster.sh stop-memcached DIR I | start-memcached DIR I  the same for memcached I (0 or 1);
#                                 it starts again empty.
#   scripts/cluster.sh stop-gearmand DIR | start-gearmand DIR  the same for gearmand (its queue kept).
#   scripts/cluster.sh stop-s3 DIR | start-s3 DIR         the same for the S3 server.
#   scripts/cluster.sh stop-worker DIR | start-worker DIR the same for the worker.
#   scripts/cluster.sh stop-serve DIR I | start-serve DIR I  the same for `picogram serve` I (0 or 1).
#
# Backups, point-in-time restore, replicas and failover (README, Backups;
# Replicas and failover). Every PostgreSQL server archives its WAL into
# DIR/archive/pgI (archive_mode on, archive_timeout 60 s).
#   scripts/cluster.sh backup DIR DEST   a base backup of each server, then
#                                 `picogram backup` (a restore point on each,
#                                 archived, the photos, the secret) in DEST.
#   scripts/cluster.sh restore DEST NEWDIR [TARGET]  a new cluster in NEWDIR,
#                                 each server replayed from the archive to
#                                 TARGET (default: the backup's restore
#                                 point; or a time, '2026-12-04 10:00:00+00';
#                                 or a restore point's name), its photos put
#                                 back; then up as `up`.
#   scripts/cluster.sh archive-wal DIR   every server's current WAL segment
#                                 archived now.
#   scripts/cluster.sh replica DIR I [sync|async]  a streaming replica of
#                                 server I in DIR/pgIr; prints its port.
#   scripts/cluster.sh promote DIR I     fails server I over to its replica:
#                                 the old primary stopped, the replica
#                                 promoted, pgbouncer I pointed at it.
# Each process's PID is in a file of DIR (log/serveI.pid, log/worker.pid,
# s3/s3rver.pid, redis/redis.pid, memcachedI/memcached.pid, gearmand/gearmand.pid,
# nginx/nginx.pid, the PostgreSQL data
# directories' postmaster.pid), for fault drills that kill one.
#
# The logical shards are split in two: 0-4095 on the first server, 4096-8191
# on the second. Ports are free ones picked at start. As root, the servers
# run as `nobody` (initdb and pgbouncer refuse root); otherwise as the user.
# Env: PICOGRAM_BIN (default build/picogram), PG_FSYNC (on; off for tests),
#      PG_SYNC_COMMIT (synchronous_commit; default PG_FSYNC's value),
#      CLUSTER_SERVE=0 (databases, Redis, memcached and gearmand only: no S3, no picogram serve,
#      no nginx), BOUNCER_IDLE_TIMEOUT (pgbouncer's server_idle_timeout, in seconds; its
#      default, 600, when unset. The test suite makes a database per server it starts, and
#      each pool's idle connections, kept that long, add up past PostgreSQL's
#      max_connections, after which a new database's first connection is refused).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BIN=${PICOGRAM_BIN:-$here/build/picogram}

die() { echo "cluster.sh: $*" >&2; exit 1; }

# A port free now, below the kernel's ephemeral range: a port from that
# range could be taken, before its server binds it, by the local end of
# one of the connections the parts started first make to each other.
free_port() {
    python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(1000):
    p = random.randint(10000, max(10001, low - 1))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("no free port")
'
}

# Runs a command as the servers' user (setpriv execs it, so a background
# "${AS_USER[@]}" cmd & leaves the command's own PID in $!).
AS_USER=()
if [ "$(id -u)" -eq 0 ]; then AS_USER=(setpriv --reuid=nobody --regid=nogroup --clear-groups --); fi
as_user() { "${AS_USER[@]}" "$@"; }

own() { # own PATH...: the servers' user owns them
    if [ "$(id -u)" -eq 0 ]; then chown -R nobody:nogroup "$@"; fi
}

wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
    local until=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $until ] || return 1
        sleep 0.1
    done
}

answers() { # answers URL: an HTTP answer of any status
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" != 000 ]
}

start_pg() { # start_pg I PORT: server I, in DIR/pgI (or the replica promoted in its place)
    local d
    d=$(pg_dir "$1")
    mkdir -p "$d"
    own "$d"
    if [ ! -f "$d/data/PG_VERSION" ]; then
        as_user "$PGBIN/initdb" -D "$d/data" -U picogram -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$d/initdb.log" 2>&1 ||
            { cat "$d/initdb.log" >&2; die "initdb failed for server $1"; }
    fi
    pg_run "$d" "$2" "$1" || die "PostgreSQL server $1 did not start"
    if [ -f "$d/data/recovery.signal" ]; then # a restore: until it has replayed to its target
        wait_for 300 pg_is_primary "$2" || { tail -n 20 "$d/postgres.log" >&2; die "PostgreSQL server $1 did not finish its recovery"; }
        # a shard move's subscription, restored, must not reach the backed-up cluster's source: dropped
        # (no logical replication worker ran: restore set them to 0), then the workers back
        local sub
        for sub in $(pg_sql "$2" "SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"); do
            pg_sql "$2" "ALTER SUBSCRIPTION $sub DISABLE" >/dev/null
            pg_sql "$2" "ALTER SUBSCRIPTION $sub CONNECTION 'host=/nonexistent'" >/dev/null # never the live source's slots
            pg_sql "$2" "ALTER SUBSCRIPTION $sub SET (slot_name = NONE)" >/dev/null
            pg_sql "$2" "DROP SUBSCRIPTION $sub" >/dev/null
        done
        pg_sql "$2" "ALTER SYSTEM RESET max_logical_replication_workers" >/dev/null
        as_user "$PGBIN/pg_ctl" -D "$d/data" -w -t 60 -m fast stop >/dev/null
        pg_run "$d" "$2" "$1" || die "PostgreSQL server $1 did not start again after its recovery"
    fi
    as_user "$PGBIN/psql" -h 127.0.0.1 -p "$2" -U picogram -d postgres -qAt \
        -c "SELECT 1 FROM pg_database WHERE datname = 'picogram'" | grep -q 1 ||
        as_user "$PGBIN/psql" -h 127.0.0.1 -p "$2" -U picogram -d postgres -q -c "CREATE DATABASE picogram"
}

# pg_run D PORT I [MODE]: the server of D/data on PORT, its WAL archived into
# DIR/archive/pgI (archive_timeout: a quiet server's last minute is archived
# within a minute; a segment archived already is fine if the same, as after
# a crash between the copy and PostgreSQL's note of it). MODE: archive_mode,
# on; a replica's is always, so the segments a primary killed had not yet
# archived are archived by its replica. PG_SYNC_COMMIT overrides synchronous_commit (a
# synchronous replica needs it on even when PG_FSYNC is off).
pg_run() {
    local d=$1 arch=$DIR/archive/pg$3 fsync=${PG_FSYNC:-on} mode=${4:-on}
    local sync=${PG_SYNC_COMMIT:-$fsync}
    mkdir -p "$arch"
    own "$arch"
    as_user "$PGBIN/pg_ctl" -D "$d/data" -l "$d/postgres.log" -w -t 60 start -o \
        "-p $2 -c listen_addresses=127.0.0.1 -c unix_socket_directories=$d -c max_connections=300 \
         -c fsync=$fsync -c synchronous_commit=$sync -c full_page_writes=$fsync -c shared_buffers=128MB \
         -c wal_level=logical -c archive_mode=$mode -c archive_timeout=60 \
         -c archive_command='if test -f $arch/%f; then cmp -s %p $arch/%f; else cp %p $arch/%f.part && mv $arch/%f.part $arch/%f; fi'" >/dev/null ||
        { tail -n 20 "$d/postgres.log" >&2; return 1; }
}

pg_sql() { # pg_sql PORT SQL: one statement on the picogram database, its rows unaligned
    as_user "$PGBIN/psql" -h 127.0.0.1 -p "$1" -U picogram -d picogram -qAtX -v ON_ERROR_STOP=1 -c "$2"
}

pg_is_primary() { # pg_is_primary PORT: it answers, and is not in recovery
    [ "$(pg_sql "$1" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]
}

pg_dir() { # pg_dir I: the data directory's parent of server I now (PG_DIRS of cluster.env)
    local dirs=(pg0 pg1)
    [ -z "${PG_DIRS:-}" ] || read -r -a dirs <<<"$PG_DIRS"
    echo "$DIR/${dirs[$1]}"
}

start_bouncer() { # start_bouncer I PORT PGPORT
    local d=$DIR/bouncer$1
    mkdir -p "$d"
    # the documented template, filled in (as nginx's is)
    sed -e "s|@PG_HOST@|127.0.0.1|g" -e "s|@PG_PORT@|$3|g" -e "s|@LISTEN_ADDR@|127.0.0.1|g" \
        -e "s|@LISTEN_PORT@|$2|g" -e "s|@DIR@|$d|g" -e "s|@AUTH_TYPE@|trust|g" \
        "$here/deploy/pgbouncer.ini" >"$d/pgbouncer.ini"
    ! grep -q '@[A-Z_]*@' "$d/pgbouncer.ini" || die "deploy/pgbouncer.ini has a word cluster.sh does not fill in"
    # (the template ends in its [pgbouncer] section)
    [ -z "${BOUNCER_IDLE_TIMEOUT:-}" ] || echo "server_idle_timeout = $BOUNCER_IDLE_TIMEOUT" >>"$d/pgbouncer.ini"
    echo '"picogram" ""' >"$d/users.txt"
    own "$d"
    as_user pgbouncer -d "$d/pgbouncer.ini" || die "pgbouncer $1 did not start"
    wait_for 10 as_user "$PGBIN/pg_isready" -h 127.0.0.1 -p "$2" -U picogram -d picogram ||
        die "pgbouncer $1 does not answer"
}

start_redis() { # start_redis PORT: no persistence (what it holds is cheap to lose)
    local d=$DIR/redis
    mkdir -p "$d"
    own "$d"
    as_user redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "$d" \
        --daemonize yes --pidfile "$d/redis.pid" --logfile "$d/redis.log" || die "redis-server did not start"
    wait_for 10 redis-cli -h 127.0.0.1 -p "$1" ping || die "redis does not answer"
}

stop_redis() {
    local f=$DIR/redis/redis.pid
    [ -f "$f" ] && stop_pid "$(cat "$f")"
    rm -f "$f"
}

start_memcached() { # start_memcached I PORT: 64 MB, TCP only
    local d=$DIR/memcached$1
    mkdir -p "$d"
    own "$d"
    local as=()
    [ "$(id -u)" -ne 0 ] || as=(-u nobody) # memcached drops root itself
    memcached -l 127.0.0.1 -p "$2" -U 0 -m 64 "${as[@]}" </dev/null >>"$d/memcached.log" 2>&1 &
    echo $! >"$d/memcached.pid"
    wait_for 10 memcached_answers "$2" || { tail -n 20 "$d/memcached.log" >&2; die "memcached $1 does not answer"; }
}

memcached_answers() ( # memcached_answers PORT (a subshell: its descriptor goes with it)
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'version\r\n' >&3
    read -r -t 2 line <&3 || exit 1
    [[ $line == VERSION* ]]
)

stop_memcached() { # stop_memcached I
    local f=$DIR/memcached$1/memcached.pid
    [ -f "$f" ] && stop_pid "$(cat "$f")"
    rm -f "$f"
}

start_gearmand() { # start_gearmand PORT: the queue persists in SQLite, in DIR/gearmand
    local d=$DIR/gearmand
    mkdir -p "$d"
    own "$d"
    "${AS_USER[@]}" gearmand -L 127.0.0.1 -p "$1" -q libsqlite3 --libsqlite3-db "$d/queue.db" \
        -l "$d/gearmand.log" --verbose WARNING -t 2 </dev/null >>"$d/gearmand.out" 2>&1 &
    echo $! >"$d/gearmand.pid"
    wait_for 10 gearmand_answers "$1" || { tail -n 20 "$d/gearmand.log" >&2; die "gearmand does not answer"; }
}

gearmand_answers() ( # gearmand_answers PORT: its admin protocol's version
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'version\n' >&3
    read -r -t 2 line <&3 || exit 1
    [[ $line == OK* ]]
)

stop_gearmand() {
    local f=$DIR/gearmand/gearmand.pid
    [ -f "$f" ] && stop_pid "$(cat "$f")"
    rm -f "$f"
}

S3_BUCKET=picogram
start_s3() { # start_s3 PORT: s3rver (its default account, S3RVER/S3RVER), the bucket made at start
    local d=$DIR/s3
    mkdir -p "$d/data"
    own "$d"
    [ -f "$here/node_modules/s3rver/bin/s3rver.js" ] || die "no s3rver in node_modules (run scripts/deps.sh cluster)"
    # --openssl-legacy-provider: s3rver makes the continuation tokens of long listings with DES
    "${AS_USER[@]}" node --openssl-legacy-provider "$here/node_modules/s3rver/bin/s3rver.js" -d "$d/data" -a 127.0.0.1 -p "$1" --silent \
        --configure-bucket "$S3_BUCKET" </dev/null >>"$d/s3rver.log" 2>&1 &
    echo $! >"$d/s3rver.pid"
    wait_for 20 answers "http://127.0.0.1:$1/" || { tail -n 20 "$d/s3rver.log" >&2; die "s3rver does not answer"; }
}

stop_s3() {
    local f=$DIR/s3/s3rver.pid
    [ -f "$f" ] && stop_pid "$(cat "$f")"
    rm -f "$f"
}

up() {
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    [ "$(id -u)" -ne 0 ] || chmod 0755 "$DIR" # the servers' user must reach its parts
    [ -x "$BIN" ] || die "no picogram binary at $BIN (run make first)"
    if [ -f "$DIR/cluster.env" ]; then
        # shellcheck disable=SC1091
        . "$DIR/cluster.env"
        # (UP: written last, so a start that failed half-way is not taken for one that is up)
        if [ "${UP:-0}" = 1 ] && [ -f "$DIR/nginx/nginx.pid" ] && kill -0 "$(cat "$DIR/nginx/nginx.pid")" 2>/dev/null; then
            echo "cluster.sh: already up in $DIR" >&2
            echo "http://127.0.0.1:$NGINX_PORT"
            return 0
        fi
    fi
    # Each server's port is chosen just before it starts: a port chosen
    # free can be taken by another process (another cluster, a test's
    # server) before its own server binds it, and the sooner it binds the
    # narrower that window. nginx names the servers' ports, and they name
    # its (public_url): so it starts just before them, and takes another
    # port if its own was taken.
    local pg0 pg1 b0 b1 api api1 ng redis mc0 mc1 gm s3=""
    pg0=$(free_port); start_pg 0 "$pg0"
    pg1=$(free_port); start_pg 1 "$pg1"
    b0=$(free_port); start_bouncer 0 "$b0" "$pg0"
    b1=$(free_port); start_bouncer 1 "$b1" "$pg1"
    redis=$(free_port); start_redis "$redis"
    mc0=$(free_port); start_memcached 0 "$mc0"
    mc1=$(free_port); start_memcached 1 "$mc1"
    gm=$(free_port); start_gearmand "$gm"
    mkdir -p "$DIR/data" "$DIR/log"
    own "$DIR/data" "$DIR/log"
    cat >"$DIR/picogram.conf" <<EOF
# picogram in the cluster topology, made by scripts/cluster.sh
data = $DIR/data
database = 0-4095=postgres://picogram@127.0.0.1:$b0/picogram;4096-8191=postgres://picogram@127.0.0.1:$b1/picogram
access_log = $DIR/log/access.log
redis = redis://127.0.0.1:$redis
feed_store = redis://127.0.0.1:$redis
cache = memcached://127.0.0.1:$mc0,127.0.0.1:$mc1
job_server = gearman://127.0.0.1:$gm
EOF
    if [ "${CLUSTER_SERVE:-1}" = 1 ]; then # (before a restore: it puts the photos into this store)
        s3=$(free_port); start_s3 "$s3"
        cat >>"$DIR/picogram.conf" <<EOF
# the photos in S3; nginx caches them under /media/ (photo_url is nginx, as public_url)
photo_store = s3:http://127.0.0.1:$s3/$S3_BUCKET
s3_access_key = S3RVER
s3_secret_key = S3RVER
# the servers run no background jobs: the worker does (picogram worker --job-threads 2)
job_threads = 0
EOF
    fi
    as_user "$BIN" migrate --config "$DIR/picogram.conf" >"$DIR/log/migrate.log" 2>&1 ||
        { cat "$DIR/log/migrate.log" >&2; die "picogram migrate failed"; }
    if [ -n "${RESTORE_FROM:-}" ]; then # restore: the backup's photos and secret, before any server starts
        "$BIN" restore "$RESTORE_FROM" --config "$DIR/picogram.conf" >"$DIR/log/restore.log" 2>&1 ||
            { cat "$DIR/log/restore.log" >&2; die "picogram restore failed"; }
        own "$DIR/data" # (read as the backup's owner, written for the servers' user)
    fi
    api=$(free_port); api1=$(free_port); ng=$(free_port)
    if [ "${CLUSTER_SERVE:-1}" = 1 ]; then
        S3_PORT=$s3 NGINX_WAIT=0 start_nginx "$ng" "127.0.0.1:$api" "127.0.0.1:$api1"
        ng=$NGINX_BOUND
    fi
    cat >>"$DIR/picogram.conf" <<EOF
listen = 127.0.0.1:$api
# behind nginx: links point at it, and it names the client
public_url = http://127.0.0.1:$ng
trusted_proxies = 127.0.0.1
EOF
    cat >"$DIR/cluster.env" <<EOF
PG_PORTS="$pg0 $pg1"
PG_DIRS="pg0 pg1"
BOUNCER_PORTS="$b0 $b1"
API_PORTS="$api $api1"
NGINX_PORT=$ng
REDIS_PORT=$redis
MEMCACHED_PORTS="$mc0 $mc1"
GEARMAND_PORT=$gm
S3_PORT=$s3
EOF
    if [ "${CLUSTER_SERVE:-1}" = 1 ]; then
        start_serve 0 "$api"
        start_serve 1 "$api1"
        start_worker
        wait_for 10 answers "http://127.0.0.1:$ng/healthz" || die "nginx does not answer"
    fi
    echo "UP=1" >>"$DIR/cluster.env"
    echo "http://127.0.0.1:$ng"
}

start_serve() { # start_serve I PORT: `picogram serve` number I, its PID in DIR/log/serveI.pid
    "${AS_USER[@]}" "$BIN" serve --config "$DIR/picogram.conf" --listen "127.0.0.1:$2" \
        --access-log "$DIR/log/access$1.log" </dev/null >>"$DIR/log/picogram$1.log" 2>&1 &
    echo $! >"$DIR/log/serve$1.pid"
    wait_for 20 answers "http://127.0.0.1:$2/healthz" ||
        { tail -n 20 "$DIR/log/picogram$1.log" >&2; die "picogram serve $1 does not answer"; }
}

stop_serve() { # stop_serve I
    local f=$DIR/log/serve$1.pid
    [ -f "$f" ] && stop_pid "$(cat "$f")"
    rm -f "$f"
}

worker_starts() { # how many times a worker said it started, in its log
    grep -c "picogram worker:" "$DIR/log/worker.log" 2>/dev/null || true
}

worker_started_since() { # worker_started_since N: a start logged after the first N
    [ "$(worker_starts)" -gt "$1" ]
}

start_worker() { # one `picogram worker`: the cluster's background jobs
    local before
    before=$(worker_starts)
    "${AS_USER[@]}" "$BIN" worker --config "$DIR/picogram.conf" --job-threads 2 </dev/null >>"$DIR/log/worker.log" 2>&1 &
    echo $! >"$DIR/log/worker.pid"
    wait_for 20 worker_started_since "${before:-0}" ||
        { tail -n 20 "$DIR/log/worker.log" >&2; die "picogram worker did not start"; }
}

stop_worker() {
    local f=$DIR/log/worker.pid
    [ -f "$f" ] && stop_pid "$(cat "$f")"
    rm -f "$f"
}

start_nginx() { # start_nginx PORT UPSTREAM...: deploy/nginx.conf, filled in; the port it bound in NGINX_BOUND
    # (a port taken since it was chosen: another, up to 5 times). NGINX_WAIT=0: no wait for its /healthz
    local d=$DIR/nginx port=$1 try
    shift
    mkdir -p "$d"
    own "$d"
    for try in 1 2 3 4 5; do
        S3=${S3_PORT:+http://127.0.0.1:$S3_PORT/$S3_BUCKET} "$here/scripts/nginx-conf.sh" "$d" "127.0.0.1:$port" 25m "$@" >"$d/nginx.conf"
        as_user nginx -c "$d/nginx.conf" -p "$d" 2>"$d/start.log" && break
        if ! grep -q 'Address already in use' "$d/start.log" || [ "$try" -eq 5 ]; then
            cat "$d/start.log" >&2
            die "nginx did not start"
        fi
        echo "cluster.sh: nginx's port $port was taken since it was chosen; another" >&2
        port=$(free_port)
    done
    NGINX_BOUND=$port
    [ "${NGINX_WAIT:-1}" = 0 ] || wait_for 10 answers "http://127.0.0.1:$port/healthz" || die "nginx does not answer"
}

stop_pid() { # stop_pid PID: TERM, then KILL after 10 s
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

stop_pg() { # stop_pg I: fast shutdown, by the postmaster's PID
    stop_pg_dir "$(pg_dir "$1")"
}

stop_pg_dir() { # stop_pg_dir D: the server of D/data
    local f=$1/data/postmaster.pid
    [ -f "$f" ] || return 0
    local pid
    pid=$(head -n 1 "$f")
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

# stop_all PIDFILE...: every process named, signalled at once (TERM; INT
# for a PostgreSQL postmaster.pid: its fast shutdown), then waited for
# together; KILL for any still there after 10 s. (Some take seconds to
# exit, memcached two: one after another, a cluster took 16 s to stop.)
stop_all() {
    local f pid pids=()
    for f in "$@"; do
        [ -f "$f" ] || continue
        pid=$(head -n 1 "$f")
        kill -0 "$pid" 2>/dev/null || continue
        case "$f" in */postmaster.pid) kill -INT "$pid" ;; *) kill -TERM "$pid" ;; esac 2>/dev/null || true
        pids+=("$pid")
    done
    local until=$((SECONDS + 10)) left
    while :; do
        left=()
        for pid in "${pids[@]+"${pids[@]}"}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
        [ ${#left[@]} -gt 0 ] || return 0
        [ $SECONDS -lt $until ] || break
        sleep 0.05
    done
    kill -KILL "${left[@]}" 2>/dev/null || true
}

down() {
    [ -d "$DIR" ] || die "no cluster in $DIR"
    DIR=$(cd "$DIR" && pwd)
    # the front first (nginx, the servers and the worker, which may still write), then the back
    stop_all "$DIR/nginx/nginx.pid" "$DIR/log/serve0.pid" "$DIR/log/serve1.pid" "$DIR/log/worker.pid"
    local back=("$DIR/bouncer0/pgbouncer.pid" "$DIR/bouncer1/pgbouncer.pid" "$DIR/redis/redis.pid"
        "$DIR/memcached0/memcached.pid" "$DIR/memcached1/memcached.pid" "$DIR/gearmand/gearmand.pid" "$DIR/s3/s3rver.pid")
    local d
    for d in "$DIR"/pg*/; do back+=("${d}data/postmaster.pid"); done # the primaries, their replicas, the ones failed over
    stop_all "${back[@]}"
    rm -f "$DIR/log/serve0.pid" "$DIR/log/serve1.pid" "$DIR/log/worker.pid" "$DIR/redis/redis.pid" \
        "$DIR/memcached0/memcached.pid" "$DIR/memcached1/memcached.pid" "$DIR/gearmand/gearmand.pid" "$DIR/s3/s3rver.pid"
    rm -f "$DIR/cluster.env"
    echo "cluster.sh: stopped everything in $DIR" >&2
}

# ---- backups, point-in-time restore, replicas and failover ----

# backup DIR DEST: a base backup of each PostgreSQL server (pg_basebackup)
# into DEST/pgI, then `picogram backup` into DEST/picogram (the restore
# point on every server, archived, then the photos and the secret). The
# WAL archive stays where the servers write it (DIR/archive); DEST/backup.env
# names it.
backup() {
    local dest=$1
    [ ! -e "$dest" ] || die "$dest exists: a backup goes into a new directory"
    mkdir -p "$dest"
    dest=$(cd "$dest" && pwd)
    chmod 0700 "$dest" # password hashes, the server secret: the invoking user's alone
    local pg nosync=() i t0=$SECONDS
    read -r -a pg <<<"$PG_PORTS"
    [ "${PG_FSYNC:-on}" != off ] || nosync=(--no-sync)
    for i in 0 1; do
        "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "${pg[$i]}" -U picogram -D "$dest/pg$i" -Fp -X stream \
            -c fast "${nosync[@]}" >"$dest/basebackup$i.log" 2>&1 ||
            { cat "$dest/basebackup$i.log" >&2; die "the base backup of PostgreSQL server $i failed"; }
    done
    echo "ARCHIVE=$DIR/archive" >"$dest/backup.env"
    "$BIN" backup --config "$DIR/picogram.conf" --out "$dest/picogram" >&2 || die "picogram backup failed"
    echo "cluster.sh: backed up to $dest in $((SECONDS - t0)) s" >&2
    echo "$dest"
}

# restore DEST NEWDIR [TARGET]: a new cluster in NEWDIR from the backup in
# DEST: each server's base backup, replayed from the WAL archive to TARGET
# (the backup's restore point by default; a time such as
# '2026-12-04 10:00:00+00'; or another restore point's name), then
# promoted; the photos and secret put back by `picogram restore`; then up
# as `up` starts a cluster (new ports, empty Redis, memcached and gearmand).
restore() {
    local dest=$1 target=${2:-} i
    [ -f "$dest/picogram/backup.json" ] || die "$dest is not a finished cluster backup (no picogram/backup.json)"
    dest=$(cd "$dest" && pwd)
    local archive
    # shellcheck disable=SC1091
    archive=$(. "$dest/backup.env" && echo "$ARCHIVE")
    [ -d "$archive" ] || die "the WAL archive $archive is not there"
    if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR")" ]; then die "$DIR is not empty: restore into a new directory"; fi
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    [ "$(id -u)" -ne 0 ] || chmod 0755 "$DIR"
    local point setting
    point=$(sed -n 's/.*"restore_point":"\([^"]*\)".*/\1/p' "$dest/picogram/backup.json")
    [ -n "$point" ] || die "$dest/picogram/backup.json names no restore point"
    case "${target:-$point}" in
    *-*-*:*) setting="recovery_target_time = '$target'" ;;
    *) setting="recovery_target_name = '${target:-$point}'" ;;
    esac
    for i in 0 1; do
        mkdir -p "$DIR/pg$i"
        cp -a "$dest/pg$i" "$DIR/pg$i/data"
        chmod 0700 "$DIR/pg$i/data"
        cat >>"$DIR/pg$i/data/postgresql.auto.conf" <<EOF
# the restore by scripts/cluster.sh from $dest
restore_command = 'cp $archive/pg$i/%f %p'
$setting
recovery_target_action = 'promote'
max_logical_replication_workers = 0
EOF
        touch "$DIR/pg$i/data/recovery.signal"
        own "$DIR/pg$i"
    done
    RESTORE_FROM=$dest/picogram up
}

# archive-wal DIR: every server switches to a new WAL segment and waits
# until the old one is archived (what archive_timeout does within a minute).
archive_wal() {
    local pg i wal
    read -r -a pg <<<"$PG_PORTS"
    for i in 0 1; do
        wal=$(pg_sql "${pg[$i]}" "SELECT pg_walfile_name(pg_switch_wal())")
        wait_for 60 archived "${pg[$i]}" "$wal" || die "PostgreSQL server $i did not archive $wal"
    done
}

archived() { # archived PORT SEGMENT
    [ "$(pg_sql "$1" "SELECT coalesce(last_archived_wal, '') >= '$2' FROM pg_stat_archiver")" = t ]
}

# replica DIR I [sync|async]: a streaming replica of server I in DIR/pgIr
# (pg_basebackup, a replication slot on the primary so that it keeps the
# WAL the replica has not had), on a port of its own. sync: the primary
# commits only once the replica has the commit (synchronous_standby_names;
# the cluster must run with synchronous_commit on, PG_SYNC_COMMIT=on), and
# stops committing while the replica is down.
replica() {
    local i=$1 mode=${2:-async} pg port d
    read -r -a pg <<<"$PG_PORTS"
    d=$DIR/pg${i}r
    [ ! -e "$d" ] || die "server $i has a replica already ($d)"
    port=$(free_port)
    mkdir -p "$d"
    own "$d"
    local nosync=()
    [ "${PG_FSYNC:-on}" != off ] || nosync=(--no-sync)
    as_user "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "${pg[$i]}" -U picogram -D "$d/data" -X stream -c fast \
        -C -S "replica$i" "${nosync[@]}" >"$d/basebackup.log" 2>&1 ||
        { cat "$d/basebackup.log" >&2; die "the base backup for the replica of server $i failed"; }
    cat >>"$d/data/postgresql.auto.conf" <<EOF
# a streaming replica of server $i, by scripts/cluster.sh
primary_conninfo = 'host=127.0.0.1 port=${pg[$i]} user=picogram application_name=replica$i'
primary_slot_name = 'replica$i'
EOF
    touch "$d/data/standby.signal"
    own "$d"
    pg_run "$d" "$port" "$i" always || die "the replica of server $i did not start"
    echo "REPLICA${i}_PORT=$port" >>"$DIR/cluster.env"
    if [ "$mode" = sync ]; then
        pg_sql "${pg[$i]}" "ALTER SYSTEM SET synchronous_standby_names = 'replica$i'" >/dev/null
        pg_sql "${pg[$i]}" "SELECT pg_reload_conf()" >/dev/null
    fi
    wait_for 60 streaming "${pg[$i]}" "replica$i" "$mode" || die "the replica of server $i does not stream"
    echo "cluster.sh: server $i has a $mode replica on port $port" >&2
    echo "$port"
}

streaming() { # streaming PORT NAME sync|async: the primary on PORT sends to NAME, in that mode
    [ "$(pg_sql "$1" "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$2' AND state = 'streaming'")" = "$3" ]
}

# promote DIR I: fails server I over to its replica. The old primary is
# stopped first if it still runs (a fence: never two primaries of one
# shard set), the replica promoted, and server I's pgbouncer pointed at it
# and reloaded, so that every picogram server goes on through the same
# URL, without a restart. cluster.env follows (PG_PORTS, PG_DIRS).
promote() {
    local i=$1 pg dirs d rport
    read -r -a pg <<<"$PG_PORTS"
    read -r -a dirs <<<"${PG_DIRS:-pg0 pg1}"
    d=$DIR/pg${i}r
    [ -f "$d/data/standby.signal" ] || die "server $i has no replica to promote ($d)"
    rport=$(sed -n "s/^REPLICA${i}_PORT=//p" "$DIR/cluster.env")
    local t0=$SECONDS
    stop_pg "$i"
    as_user "$PGBIN/pg_ctl" -D "$d/data" -w -t 60 promote >/dev/null || die "the replica of server $i did not promote"
    wait_for 60 pg_is_primary "$rport" || die "the promoted replica of server $i takes no writes"
    pg_sql "$rport" "ALTER SYSTEM RESET synchronous_standby_names" >/dev/null
    pg_sql "$rport" "SELECT pg_reload_conf()" >/dev/null
    pg[$i]=$rport
    dirs[$i]=pg${i}r
    sed -i -e "s/^PG_PORTS=.*/PG_PORTS=\"${pg[*]}\"/" -e "s/^PG_DIRS=.*/PG_DIRS=\"${dirs[*]}\"/" \
        -e "/^REPLICA${i}_PORT=/d" "$DIR/cluster.env"
    # server I's pgbouncer, to the new primary: a reload closes each old server connection once released
    local b ports
    read -r -a ports <<<"$BOUNCER_PORTS"
    b=$DIR/bouncer$i
    sed -i "s/^\* = host=127.0.0.1 port=.*/* = host=127.0.0.1 port=$rport/" "$b/pgbouncer.ini"
    kill -HUP "$(cat "$b/pgbouncer.pid")" || die "pgbouncer $i did not reload"
    wait_for 30 pg_is_primary "${ports[$i]}" || die "pgbouncer $i does not reach the new primary"
    echo "cluster.sh: server $i failed over to its replica (port $rport) in $((SECONDS - t0)) s" >&2
}

loaded() { # the cluster's ports, from DIR/cluster.env
    DIR=$(cd "$DIR" && pwd)
    # shellcheck disable=SC1091
    . "$DIR/cluster.env"
}

usage="usage: scripts/cluster.sh up|down|env|archive-wal DIR, backup DIR DEST, restore DEST NEWDIR [TARGET], replica DIR 0|1 [sync|async], promote DIR 0|1, stop-pg|start-pg DIR 0|1, stop-redis|start-redis DIR, stop-memcached|start-memcached DIR 0|1, stop-gearmand|start-gearmand DIR, stop-s3|start-s3 DIR, stop-worker|start-worker DIR or stop-serve|start-serve DIR 0|1"
[ $# -ge 2 ] || die "$usage"
DIR=$2
# PostgreSQL's -o options and archive_command, pgbouncer.ini, nginx.conf
# and the servers' connection strings take the cluster's paths unquoted:
# refuse one with white space at once, not halfway through a start.
home=$DIR
[ "$1" = restore ] && home=${3:-.}
home=$(realpath -m -- "$home")
case $home in
*[[:space:]]*) die "$home: a cluster's directory must have no white space in its path (make cluster uses ./cluster: give another DIR, or move the checkout)" ;;
esac
# The fault drills: one part stopped or started again, on its port of cluster.env.
drill() { # drill CMD [I]
    DIR=$(cd "$DIR" && pwd)
    # shellcheck disable=SC1091
    . "$DIR/cluster.env"
    local pg api mc
    read -r -a pg <<<"$PG_PORTS"
    read -r -a api <<<"$API_PORTS"
    read -r -a mc <<<"$MEMCACHED_PORTS"
    case "$1" in
    stop-pg) stop_pg "$2" ;;
    start-pg) start_pg "$2" "${pg[$2]}" ;;
    stop-redis) stop_redis ;;
    start-redis) start_redis "$REDIS_PORT" ;;
    stop-gearmand) stop_gearmand ;;
    start-gearmand) start_gearmand "$GEARMAND_PORT" ;;
    stop-memcached) stop_memcached "$2" ;;
    start-memcached) start_memcached "$2" "${mc[$2]}" ;;
    stop-s3) stop_s3 ;;
    start-s3)
        [ -n "${S3_PORT:-}" ] || die "no S3 server in this cluster (CLUSTER_SERVE=0)"
        start_s3 "$S3_PORT"
        ;;
    stop-serve) stop_serve "$2" ;;
    start-serve) start_serve "$2" "${api[$2]}" ;;
    stop-worker) stop_worker ;;
    start-worker) start_worker ;;
    esac
}

case "$1" in
up) up ;;
backup)
    [ $# -eq 3 ] || die "usage: scripts/cluster.sh backup DIR DEST"
    loaded
    backup "$3"
    ;;
restore)
    [ $# -ge 3 ] && [ $# -le 4 ] || die "usage: scripts/cluster.sh restore DEST NEWDIR [TARGET]"
    DIR=$3
    restore "$2" "${4:-}"
    ;;
archive-wal)
    loaded
    archive_wal
    ;;
replica)
    [ $# -ge 3 ] && [ "$3" = 0 -o "$3" = 1 ] && [ "${4:-async}" = sync -o "${4:-async}" = async ] ||
        die "usage: scripts/cluster.sh replica DIR 0|1 [sync|async]"
    loaded
    replica "$3" "${4:-async}"
    ;;
promote)
    [ $# -eq 3 ] && [ "$3" = 0 -o "$3" = 1 ] || die "usage: scripts/cluster.sh promote DIR 0|1"
    loaded
    promote "$3"
    ;;
down) down ;;
env) cat "$DIR/cluster.env" ;;
stop-pg | start-pg | stop-serve | start-serve | stop-memcached | start-memcached)
    [ $# -eq 3 ] && [ "$3" = 0 -o "$3" = 1 ] || die "$usage"
    drill "$1" "$3"
    ;;
stop-redis | start-redis | stop-gearmand | start-gearmand | stop-s3 | start-s3 | stop-worker | start-worker) drill "$1" ;;
*) die "$usage" ;;
esac
