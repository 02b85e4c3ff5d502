#!/bin/sh
# Prints deploy/nginx.conf with its @NAME@ words filled in:
#   scripts/nginx-conf.sh PREFIX LISTEN MAX_UPLOAD HOST:PORT [HOST:PORT...]
# (scripts/cluster.sh and the tests' load balancer use it). With S3=http://HOST:PORT/BUCKET
# in the environment, nginx also caches the photos of that S3 store under /media/.
set -eu
[ $# -ge 4 ] || { echo "usage: scripts/nginx-conf.sh PREFIX LISTEN MAX_UPLOAD HOST:PORT..." >&2; exit 2; }
prefix=$1 listen=$2 max=$3
shift 3
ups=""
for u in "$@"; do ups="$ups server $u max_fails=1 fail_timeout=5s;"; done
cache="" loc=""
if [ -n "${S3:-}" ]; then
    cache="proxy_cache_path $prefix/photo-cache levels=1:2 keys_zone=photos:16m max_size=1g inactive=30d use_temp_path=off;"
    loc="location /media/ { limit_except GET { deny all; } proxy_pass $S3/media/; proxy_cache photos; max_ranges 1;"
    loc="$loc proxy_cache_valid 200 30d; proxy_cache_lock on;"
    loc="$loc proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;"
    loc="$loc add_header X-Cache-Status \$upstream_cache_status; }"
fi
sed -e "s|@PREFIX@|$prefix|g" -e "s|@LISTEN@|$listen|g" -e "s|@MAX_UPLOAD@|$max|g" -e "s|@UPSTREAMS@|$ups|" \
    -e "s|^\( *\)@PHOTO_CACHE@|\1$cache|" -e "s|^\( *\)@PHOTO_LOCATION@|\1$loc|" \
    "$(dirname "$0")/../deploy/nginx.conf"
