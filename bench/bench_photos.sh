#!/usr/bin/env bash
# Prints the directory of the 1080x1350 bench photos (p00.jpg .. p19.jpg),
# made from the repository's own generator if missing: the same set the API
# tests make (build/test-fixtures/bench, or $PICOGRAM_FIXTURES_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${PICOGRAM_FIXTURES_DIR:-build/test-fixtures/bench}
[ -f "$DIR/p19.jpg" ] || /usr/bin/python3 tests/fixtures/make_bench_photos.py "$DIR" >&2
echo "$DIR"
