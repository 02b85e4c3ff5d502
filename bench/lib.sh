# Shared by the load benchmarks (source it): the `small` dataset, picogram
# and nginx on loopback, wrk runs, medians and the picogram/nginx
# side-by-side. Set ROUNDS, DURATION, CONNS and DATA before sourcing.
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10s}; CONNS=${CONNS:-32}
DATA=${DATA:-/tmp/picogram-small}
PG_PORT=${PG_PORT:-18480}; NG_PORT=${NG_PORT:-18481}
[ -x build/bench_seed ] || { echo "build first: make build" >&2; exit 1; }

# The dataset (bench_seed's defaults, the Django reference's shape), made once and kept.
ensure_small() {
  if [ ! -f "$DATA/tokens.txt" ]; then
    rm -rf "$DATA"
    build/bench_seed "$DATA" >"$DATA.tokens"
    mv "$DATA.tokens" "$DATA/tokens.txt"
  fi
}

# For the write runs: a copy of the dataset (the writes change it) as
# DATA, and the scenarios' request lists in $WORK/lists, SCENARIO's among them.
copy_with_lists() { # SCENARIO
  cp -r "$DATA" "$WORK/data"
  DATA=$WORK/data
  python3 bench/scenario_lists.py "$DATA/picogram.db" "$WORK/lists" >/dev/null
  [ -f "$WORK/lists/$1" ] || { echo "no scenario $1" >&2; exit 2; }
}

WORK=$(mktemp -d /tmp/picogram-bench.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/www"
PG_PID=; NG_PID=
bench_cleanup() {
  [ -n "$PG_PID" ] && kill "$PG_PID" 2>/dev/null && wait "$PG_PID" 2>/dev/null
  [ -n "$NG_PID" ] && kill "$NG_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap bench_cleanup EXIT

start_picogram() {
  "${PICOGRAM_BIN:-build/picogram}" serve --listen 127.0.0.1:$PG_PORT --data "$DATA" --threads 2 --access-log off \
    --rate-limit 100000000 ${PG_ARGS:-} 2>"$WORK/picogram.log" &
  PG_PID=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PG_PORT/" && break; sleep 0.1; done
}

# nginx serving $WORK/www as static files
start_nginx() {
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
}

# Saves picogram's answer to PATH (with the first token) under $WORK/www/NAME; prints its size.
capture() { # capture PATH NAME
  local sep='?'; case $1 in *'?'*) sep='&' ;; esac
  curl -fs "http://127.0.0.1:$PG_PORT$1${sep}access_token=$(head -1 "$DATA/tokens.txt")" >"$WORK/www/$2"
  wc -c <"$WORK/www/$2"
}

wrk_run() { # wrk_run URL [PATH TOKENS_FILE] -> "rps p50 p99"
  local url=$1; shift
  if [ $# -gt 0 ]; then
    wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s bench/rotate.lua "$url" -- "$@" >"$WORK/wrk.txt"
  else
    wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$url" >"$WORK/wrk.txt"
  fi
  if grep -q 'Non-2xx\|Socket errors' "$WORK/wrk.txt"; then cat "$WORK/wrk.txt" >&2; exit 1; fi
  awk '/^Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print r, p50, p99}' "$WORK/wrk.txt"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ROUNDS alternated runs of picogram on PATH (tokens in turn) and nginx on
# the captured bytes of the same answer; one table, then the medians.
side_by_side() { # side_by_side NAME PATH
  local name=$1 path=$2 bytes r rps p50 p99
  bytes=$(capture "$path" "$name")
  echo "== $name: GET $path ($bytes bytes); wrk -t1 -c$CONNS -d$DURATION; picogram --threads 2; nginx worker_processes 2"
  printf '%-6s %-9s %12s %10s %10s\n' round server req/s p50 p99
  : >"$WORK/pg"; : >"$WORK/ng"; : >"$WORK/pg99"
  for r in $(seq "$ROUNDS"); do
    read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$PG_PORT" "$path" "$DATA/tokens.txt")
    printf '%-6s %-9s %12s %10s %10s\n' "$r" picogram "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/pg"; echo "$p99" >>"$WORK/pg99"
    read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$NG_PORT/$name")
    printf '%-6s %-9s %12s %10s %10s\n' "$r" nginx "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/ng"
  done
  local pg ng
  pg=$(median <"$WORK/pg"); ng=$(median <"$WORK/ng")
  echo "picogram memory: $(rss)"
  echo "median req/s: picogram $pg, nginx $ng, ratio $(awk -v a="$pg" -v b="$ng" 'BEGIN {printf "%.3f", a/b}')"
}

# picogram's resident memory now and at its peak (VmRSS, VmHWM)
rss() {
  awk '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} END {printf "RSS %.0f MiB, peak %.0f MiB", r/1024, h/1024}' "/proc/$PG_PID/status"
}
