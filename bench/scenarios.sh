#!/usr/bin/env bash
# The load scenarios on the `small` dataset, each bounded by DURATION, on
# loopback. Reads run beside nginx serving a captured picogram response of
# the same bytes (the report gives picogram / nginx); writes and the mixed
# scenario report req/s, p50, p99 and errors, and the mixed scenario runs
# beside nginx serving answers of the same kinds in the same order. The request lists come from
# the dataset (deterministic), written by bench/scenario_lists.py.
#
#   (on a copy of the dataset, a fresh one for each write scenario: the
#   writes leave the original as it was)
#   bench/scenarios.sh [NAME...]    env: ROUNDS=3 DURATION=10s WARMUP=3s CONNS=32 DATA=/tmp/picogram-small
#   names: user media user-recent (reads); like comment follow (writes); mixed
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ensure_small
# the writes change the data: they run on a copy, so every run starts alike,
# and each write scenario on a fresh one (after the comment scenario the
# newest photos carry four comments each where the dataset has few, and a
# mixed scenario run after it ran at 20,000 to 25,000 req/s, against
# 30,500 on a fresh copy: BENCHMARKS.md, stop 47)
SRC_DATA=$DATA
cp -r "$DATA" "$WORK/data"
DATA=$WORK/data
start_picogram
WROTE=0
fresh_data() {
  [ "$WROTE" = 1 ] || return 0
  kill "$PG_PID" && wait "$PG_PID" 2>/dev/null || true
  rm -rf "$DATA"
  cp -r "$SRC_DATA" "$DATA"
  start_picogram
}
start_nginx
LISTS=$WORK/lists
python3 bench/scenario_lists.py "$DATA/picogram.db" "$LISTS"
TOKENS=$DATA/tokens.txt

# a read scenario: picogram on the list's requests in turn; nginx on the
# first request's captured answer, twice: with wrk alone (as every figure
# before 2026-12-06), and through the same Lua client as picogram (the same
# script, tokens and header per request, on a list of that one path), since
# wrk shares the two cores and its script costs it CPU per request that
# plain wrk does not spend
read_side_by_side() { # NAME LIST
  local name=$1 list=$2 path
  path=$(head -1 "$list" | cut -d' ' -f2)
  capture "$path" "$name" >/dev/null
  sed "s|^GET .*|GET /$name|" "$list" >"$WORK/ng-$name.list"
  echo "== $name: $(wc -l <"$list") requests in turn, e.g. GET $path ($(wc -c <"$WORK/www/$name") bytes)"
  printf '%-6s %-9s %12s %10s %10s\n' round server req/s p50 p99
  warm_up "$list"
  : >"$WORK/pg"; : >"$WORK/ng"; : >"$WORK/ngl"
  for r in $(seq "$ROUNDS"); do
    read -r rps p50 p99 < <(scenario_run "$list")
    printf '%-6s %-9s %12s %10s %10s\n' "$r" picogram "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/pg"
    read -r rps p50 p99 < <(wrk_run "http://127.0.0.1:$NG_PORT/$name")
    printf '%-6s %-9s %12s %10s %10s\n' "$r" nginx "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/ng"
    read -r rps p50 p99 < <(PG_PORT=$NG_PORT scenario_run "$WORK/ng-$name.list")
    printf '%-6s %-9s %12s %10s %10s\n' "$r" nginx-lua "$rps" "$p50" "$p99"; echo "$rps" >>"$WORK/ngl"
  done
  local pg ng ngl
  pg=$(median <"$WORK/pg"); ng=$(median <"$WORK/ng"); ngl=$(median <"$WORK/ngl")
  echo "median req/s: picogram $pg, nginx $ng, ratio $(awk -v a="$pg" -v b="$ng" 'BEGIN {printf "%.3f", a/b}');" \
    "nginx through the same client $ngl, ratio $(awk -v a="$pg" -v b="$ngl" 'BEGIN {printf "%.3f", a/b}')"
}

# Before the rounds, a scenario runs once for WARMUP unrecorded (its figures
# are printed as round "warm"): each server starts cold (its object cache
# empty, its pages unread), and a first round measured that, not the steady
# state (p99 of 20 to 120 ms in the first round of the mixed scenario, for
# builds before and after issue 16, against 4 to 10 ms in the next). WARMUP=0
# skips it.
WARMUP=${WARMUP:-3s}
warm_up() { # scenario_run's arguments
  [ "$WARMUP" = 0 ] && return
  local rps p50 p99 rest
  read -r rps p50 p99 rest < <(DURATION=$WARMUP scenario_run "$@")
  printf '%-6s %12s %10s %10s\n' warm "$rps" "$p50" "$p99"
}

# wrk over a request list -> "rps p50 p99 errors" (non-2xx responses counted, not fatal)
scenario_run() { # LIST [PER_TOKEN]
  wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s bench/scenario.lua "http://127.0.0.1:$PG_PORT" -- "$1" "$TOKENS" \
    "${2:-1}" >"$WORK/wrk.txt"
  awk '/^Requests\/sec/ {r=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} /Non-2xx/ {e=$NF}
       END {print r, p50, p99, (e == "" ? 0 : e)}' "$WORK/wrk.txt"
}

# The floor for the mixed scenario on this machine: nginx serving captured
# answers of the same kinds and sizes (a feed, a user, a photo, a user's
# photos, and a write's answer for each write), in the list's order,
# through the same Lua client. Its p99 is what the client and the cores
# leave of a 5 ms budget when the server costs next to nothing.
mixed_floor_list() { # LIST -> $WORK/ng-mixed.list
  capture "/v1/users/self/feed?count=20" feed >/dev/null
  capture "$(head -1 "$LISTS/user" | cut -d' ' -f2)" user >/dev/null
  capture "$(head -1 "$LISTS/media" | cut -d' ' -f2)" media >/dev/null
  capture "$(head -1 "$LISTS/user-recent" | cut -d' ' -f2)" user-recent >/dev/null
  printf '{"meta":{"code":200},"data":null}' >"$WORK/www/write"
  awk '$1 != "GET" {print "GET /write"; next}
       $2 ~ /^\/v1\/users\/self\/feed/ {print "GET /feed"; next}
       $2 ~ /^\/v1\/users\/[0-9]+\/media\/recent/ {print "GET /user-recent"; next}
       $2 ~ /^\/v1\/users\/[0-9]+$/ {print "GET /user"; next}
       $2 ~ /^\/v1\/media\/[0-9]+$/ {print "GET /media"; next}
       {print "unmapped: " $0 >"/dev/stderr"; exit 1}' "$1" >"$WORK/ng-mixed.list"
}

write_scenario() { # NAME LIST
  local name=$1 list=$2 r rps p50 p99 errs
  fresh_data
  WROTE=1
  echo "== $name: $(wc -l <"$list") requests in turn, e.g. $(head -1 "$list" | cut -c1-80)"
  if [ "$name" = mixed ]; then mixed_floor_list "$list"; fi # (in an && list, set -e would not stop a failed capture)
  printf '%-6s %-9s %12s %10s %10s %8s\n' round server req/s p50 p99 non-2xx
  warm_up "$list" 2
  : >"$WORK/pg"; : >"$WORK/ngl"
  for r in $(seq "$ROUNDS"); do
    read -r rps p50 p99 errs < <(scenario_run "$list" 2) # pairs: the same user undoes its write
    printf '%-6s %-9s %12s %10s %10s %8s\n' "$r" picogram "$rps" "$p50" "$p99" "$errs"; echo "$rps" >>"$WORK/pg"
    if [ "$name" = mixed ]; then
      read -r rps p50 p99 errs < <(PG_PORT=$NG_PORT scenario_run "$WORK/ng-mixed.list" 2)
      printf '%-6s %-9s %12s %10s %10s %8s\n' "$r" nginx-lua "$rps" "$p50" "$p99" "$errs"; echo "$rps" >>"$WORK/ngl"
    fi
  done
  echo "median req/s: $(median <"$WORK/pg")$([ "$name" = mixed ] && echo "; nginx on the same kinds of answer, through the same client: $(median <"$WORK/ngl")")"
  echo "picogram memory: $(rss); WAL files: $(du -cb "$DATA"/*-wal 2>/dev/null | awk 'END {printf "%.1f MiB", $1 / 1048576}')"
}

NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=(user media user-recent like comment follow mixed)
for n in "${NAMES[@]}"; do
  case $n in
    user | media | user-recent) read_side_by_side "$n" "$LISTS/$n" ;;
    like | comment | follow | mixed) write_scenario "$n" "$LISTS/$n" ;;
    *) echo "unknown scenario $n" >&2; exit 2 ;;
  esac
done
