#!/bin/sh
# Prints deploy/nginx.conf with its @NAME@ words filled in:
#   scripts/nginx-conf.sh PREFIX LISTEN MAX_UPLOAD HOST:PORT [HOST:PORT...]
# (scripts/cluster.sh and the tests' load balancer use it).
set -eu
[ $# -ge 4 ] || { echo "usage: scripts/nginx-conf.sh PREFIX LISTEN MAX_UPLOAD HOST:PORT..." >&2; exit 2; }
prefix=$1 listen=$2 max=$3
shift 3
ups=""
for u in "$@"; do ups="$ups server $u max_fails=1 fail_timeout=5s;"; done
sed -e "s|@PREFIX@|$prefix|g" -e "s|@LISTEN@|$listen|g" -e "s|@MAX_UPLOAD@|$max|g" -e "s|@UPSTREAMS@|$ups|" \
    "$(dirname "$0")/../deploy/nginx.conf"
