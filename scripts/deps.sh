#!/bin/sh
# Install what picogram needs to build, test and run, from Debian's packages.
# Idempotent: apt-get runs only when something is missing.
# Usage: scripts/deps.sh [build|test|cluster|bench]   (default: test, which includes build)
set -eu
want="${1:-test}"

build_pkgs="gcc pkg-config meson ninja-build libh2o-evloop-dev libssl-dev zlib1g-dev libsqlite3-dev libjansson-dev libsodium-dev libvips-dev libjpeg-dev liblcms2-dev libpq-dev libhiredis-dev libcurl4-openssl-dev libmemcached-dev libgearman-dev libzip-dev"
test_pkgs="libcmocka-dev clang libclang-rt-dev nodejs curl procps libimage-exiftool-perl python3-pil chromium chromium-driver postgresql-15 pgbouncer python3-psycopg2 redis-server memcached gearman-job-server nginx-light prometheus systemd groff-base man-db"
cluster_pkgs="postgresql-15 pgbouncer redis-server memcached gearman-job-server nginx-light curl python3"
bench_pkgs="wrk nginx-light gnuplot-nox zip time bc python3-pil python3-django gunicorn postgresql-15 pgbouncer python3-psycopg2"

case "$want" in
  build) pkgs="$build_pkgs" ;;
  test)  pkgs="$build_pkgs $test_pkgs" ;;
  cluster) pkgs="$build_pkgs $cluster_pkgs" ;;
  bench) pkgs="$build_pkgs $test_pkgs $bench_pkgs" ;;
  *) echo "deps.sh: unknown set '$want' (build, test, cluster or bench)" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
npm_deps() {
  # from npm, pinned in package-lock.json: the browser tests' driver
  # (playwright-core) and accessibility checker (axe-core), and the
  # cluster's S3 server (s3rver)
  [ "$want" = test ] || [ "$want" = cluster ] || return 0
  local m="$(dirname "$0")/../node_modules"
  [ -d "$m/playwright-core" ] && [ -d "$m/axe-core" ] && [ -d "$m/s3rver" ] && return 0
  if ! command -v npm >/dev/null; then
    # Debian's nodejs leaves npm out (a build of node from elsewhere may carry its own)
    echo "deps.sh: installing: npm" >&2
    ${SUDO:-} apt-get update -qq
    DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  (cd "$(dirname "$0")/.." && npm ci --no-audit --no-fund --silent)
}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
[ -z "$missing" ] && { npm_deps; exit 0; }

echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
npm_deps
