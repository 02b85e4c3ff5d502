#!/bin/sh
# A rolling restart of picogram servers, one at a time (the seeds' Fabric):
#
#   deploy/roll.sh HOST:PORT [HOST:PORT...]
#
# For each server in turn: run RESTART on its host over ssh, wait until
# http://HOST:PORT/readyz answers 200, then wait SETTLE seconds (longer
# than nginx's fail_timeout, 5 s in deploy/nginx.conf, so that nginx takes
# the server back) before the next. If a server is not ready within
# READY_TIMEOUT seconds, after its restart or before it, stop there,
# leaving the others as they are, and exit 1. With drain_seconds (6 or
# more behind deploy/nginx.conf) set in each server's config, a restart
# loses no request (README, "Running").
#
# Environment:
#   RESTART        the command run on the host; {port} is replaced by the
#                  server's port (default: sudo systemctl restart picogram,
#                  or e.g. sudo systemctl restart picogram@{port})
#   SSH            how to reach a host (default: ssh; it gets the host and
#                  the command)
#   READY_TIMEOUT  seconds (default 60)
#   SETTLE         seconds (default 6)
set -eu
[ $# -ge 1 ] || { echo "usage: deploy/roll.sh HOST:PORT [HOST:PORT...]" >&2; exit 2; }
SSH=${SSH:-ssh}
RESTART=${RESTART:-sudo systemctl restart picogram}
READY_TIMEOUT=${READY_TIMEOUT:-60}
SETTLE=${SETTLE:-6}

ready() { # ready HOST:PORT: whether its /readyz answers 200
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$1/readyz" || true)" = 200 ]
}

wait_ready() { # wait_ready HOST:PORT: until it is ready, at most READY_TIMEOUT seconds of tries
    tries=0
    until ready "$1"; do
        [ "$tries" -lt "$((READY_TIMEOUT * 2))" ] || return 1
        sleep 0.5
        tries=$((tries + 1))
    done
}

n=0
for target in "$@"; do
    n=$((n + 1))
    host=${target%:*}
    port=${target##*:}
    case "$port" in '' | *[!0-9]*) echo "roll.sh: $target: expected HOST:PORT" >&2; exit 2 ;; esac
    # (a busy server may answer /readyz late once: it is given READY_TIMEOUT too)
    wait_ready "$target" ||
        { echo "roll.sh: $target is not ready before its restart (${READY_TIMEOUT}s); stopping here" >&2; exit 1; }
    cmd=$(printf '%s' "$RESTART" | sed "s/{port}/$port/g")
    echo "roll.sh: $target: $cmd"
    $SSH "$host" "$cmd" || { echo "roll.sh: $target: the restart failed; stopping here" >&2; exit 1; }
    wait_ready "$target" || { echo "roll.sh: $target: not ready after ${READY_TIMEOUT}s; stopping here" >&2; exit 1; }
    echo "roll.sh: $target: ready"
    [ "$n" -eq $# ] || sleep "$SETTLE"
done
echo "roll.sh: $# server(s) restarted"
