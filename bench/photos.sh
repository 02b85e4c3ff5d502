#!/usr/bin/env bash
# CPU per photo of the four renditions: picogram beside Pillow (and beside
# an older picogram build, if given), alternated in one session.
#
#   bench/photos.sh DIR        env: CYCLES=3 ROUNDS=3 OLD_BENCH=path/to/old/build/bench_images
#
# A cycle runs, one after the other, each of these ROUNDS times over every
# photo in DIR and keeps its median round:
#   new       build/bench_images (the server's malloc settings, src/core/memtune.c)
#   old       OLD_BENCH, if set, as it is
#   old+m     OLD_BENCH under the same malloc settings (GLIBC_TUNABLES), if set
#   pil       bench/pillow_renditions.py --draft (Debian's Pillow, as it runs)
#   pil+m     the same under the server's malloc settings
# Then prints each one's median over the cycles and its ratio to Pillow's.
#
# DIR: tests/fixtures/make_bench_photos.py --phone /tmp/phone (12 MP), or
# build/test-fixtures/bench (1080x1350, made by the API tests).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: bench/photos.sh DIR}
CYCLES=${CYCLES:-3}; ROUNDS=${ROUNDS:-3}
[ -x build/bench_images ] || { echo "build first: make build" >&2; exit 1; }
# the values of src/core/memtune.c, for the programs that don't set them
TUNED=glibc.malloc.mmap_threshold=$((16 << 20)):glibc.malloc.trim_threshold=$((256 << 20))
PY=/usr/bin/python3

median_of() { sed -n 's/^median: \([0-9.]*\).*/\1/p'; }
run() { # name command...: one median, appended to $OUT/name
  local name=$1; shift
  local m; m=$("$@" | median_of)
  echo "$m" >>"$OUT/$name"
  printf '  %-6s %8s ms\n' "$name" "$m"
}
OUT=$(mktemp -d /tmp/picogram-photos.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
NAMES=(new pil pil+m)
[ -n "${OLD_BENCH:-}" ] && NAMES=(new old old+m pil pil+m)

echo "photos: $DIR ($(ls "$DIR" | wc -l) files), $CYCLES cycles of $ROUNDS rounds; CPU per photo (user + system)"
for c in $(seq 1 "$CYCLES"); do
  echo "cycle $c"
  run new build/bench_images "$DIR" "$ROUNDS"
  if [ -n "${OLD_BENCH:-}" ]; then
    run old "$OLD_BENCH" "$DIR" "$ROUNDS"
    run old+m env GLIBC_TUNABLES="$TUNED" "$OLD_BENCH" "$DIR" "$ROUNDS"
  fi
  run pil "$PY" bench/pillow_renditions.py --draft "$DIR" "$ROUNDS"
  run pil+m env GLIBC_TUNABLES="$TUNED" "$PY" bench/pillow_renditions.py --draft "$DIR" "$ROUNDS"
done
med() { sort -n "$OUT/$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
PIL=$(med pil); PILM=$(med pil+m)
echo "medians over the cycles, and the ratio to Pillow as it runs (pil) and to Pillow with the same malloc settings (pil+m):"
for n in "${NAMES[@]}"; do
  m=$(med "$n")
  printf '  %-6s %8.2f ms   %.2f of pil   %.2f of pil+m   (cycles: %s)\n' "$n" "$m" \
    "$(echo "$m / $PIL" | bc -l)" "$(echo "$m / $PILM" | bc -l)" "$(tr '\n' ' ' <"$OUT/$n")"
done
