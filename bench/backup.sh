#!/usr/bin/env bash
# Backup and restore rates of the embedded topology, beside `cp -R` of the
# same directory in the same session (what copying the bytes costs).
#
#   bench/backup.sh            env: USERS=1000 MEDIA=20000 LIKES=100000 COMMENTS=30000 ROUNDS=3
#
# The data: bench_seed's users, follows, photos, likes and comments, and
# each photo's four renditions as files, hard links to four real sizes made
# from tests/fixtures/photos/square-1080.jpg (150, 320, 640 and 1080 wide),
# so the store holds what an upload would leave. The backup runs with no
# server on the directory (a backup beside a running server reads the same).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-1000}; MEDIA=${MEDIA:-20000}; LIKES=${LIKES:-100000}; COMMENTS=${COMMENTS:-30000}; ROUNDS=${ROUNDS:-3}
BIN=${PICOGRAM_BIN:-build/picogram}
WORK=$(mktemp -d /tmp/picogram-backup.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
D="$WORK/data"
build/bench_seed "$D" "$USERS" 50 "$MEDIA" "$LIKES" "$COMMENTS" 20111006 1 >/dev/null 2>&1
/usr/bin/python3 - "$D" tests/fixtures/photos/square-1080.jpg "$WORK" <<'EOF'
import os, sqlite3, sys
from PIL import Image
d, photo, work = sys.argv[1:4]
src = {}
for suffix, w in (('t', 150), ('l', 320), ('s', 640), ('h', 1080)):
    src[suffix] = os.path.join(work, 'r_%s.jpg' % suffix)
    Image.open(photo).convert('RGB').resize((w, w)).save(src[suffix], quality=85)
for mid, fk in sqlite3.connect(os.path.join(d, 'picogram.db')).execute('SELECT id, file_key FROM media'):
    base = os.path.join(d, 'photos', 'media', str((mid >> 10) & 8191))
    os.makedirs(base, exist_ok=True)
    for suffix in 'tlsh':
        os.link(src[suffix], os.path.join(base, '%d_%016x_%s.jpg' % (mid, fk, suffix)))
EOF
DB_MB=$(du -sm "$D/picogram.db" | cut -f1)
PH_MB=$(du -sm --count-links "$D/photos" | cut -f1)
echo "machine: $(nproc) cores, $(awk '/model name/ {sub(/.*: /,""); print; exit}' /proc/cpuinfo)"
echo "data: $USERS users, $MEDIA photos ($((MEDIA * 4)) files), database ${DB_MB} MB, photos ${PH_MB} MB"
secs() { /usr/bin/time -f '%e' -o "$WORK/t" "$@" >/dev/null; cat "$WORK/t"; }
printf '%-6s %-24s %9s %9s\n' round what seconds MB/s
for r in $(seq "$ROUNDS"); do
  sync; T=$(secs "$BIN" backup --data "$D" --out "$WORK/b")
  printf '%-6s %-24s %9s %9.0f\n' "$r" "picogram backup" "$T" "$(echo "($DB_MB+$PH_MB)/$T" | bc -l)"
  sync; T=$(secs cp -R "$D" "$WORK/c")
  printf '%-6s %-24s %9s %9.0f\n' "$r" "cp -R (the data dir)" "$T" "$(echo "($DB_MB+$PH_MB)/$T" | bc -l)"
  sync; T=$(secs "$BIN" restore "$WORK/b" --data "$WORK/r")
  printf '%-6s %-24s %9s %9.0f\n' "$r" "picogram restore" "$T" "$(echo "($DB_MB+$PH_MB)/$T" | bc -l)"
  sync; T=$(secs cp -R "$WORK/b" "$WORK/c2")
  printf '%-6s %-24s %9s %9.0f\n' "$r" "cp -R (the backup)" "$T" "$(echo "($DB_MB+$PH_MB)/$T" | bc -l)"
  rm -rf "$WORK/b" "$WORK/c" "$WORK/r" "$WORK/c2"
done
