#!/usr/bin/env bash
# The API suite against a ThreadSanitizer build (make tsan): the server's
# event loops, worker pool, job runner and caches under the suite's
# concurrency (three test files at once, each with its own servers). It
# passes when every test passes and no server reported a data race, a
# lock-order inversion or any other TSan report.
#
#   make tsan                          the whole API suite (about 10 minutes on 2 cores)
#   tests/tsan.sh tests/api/social.test.mjs ...   some files
#
# Reports go to build-tsan/reports/tsan.PID (one file per process that had
# any); the script prints the first of them. tests/tsan.supp names what is
# not ours (libraries TSan cannot see into); it starts empty of our code.
# The files that assert latency budgets (flood.test.mjs) are left out:
# TSan makes every step 5 to 15 times slower.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=build-tsan
if [ ! -f "$DIR/build.ninja" ]; then
    CC=clang meson setup "$DIR" --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false >/dev/null || exit 1
fi
ninja -C "$DIR" picogram >"$DIR/build-output.log" 2>&1 || { tail -n 40 "$DIR/build-output.log"; exit 1; }
REPORTS=$ROOT/$DIR/reports
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
export TSAN_OPTIONS="log_path=$REPORTS/tsan suppressions=$ROOT/tests/tsan.supp second_deadlock_stack=1 exitcode=0"
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    for f in tests/api/*.test.mjs; do
        case "$f" in tests/api/flood.test.mjs) continue ;; esac
        files+=("$f")
    done
fi
log=$ROOT/$DIR/api.log
t0=$SECONDS
PICOGRAM_BIN=$ROOT/$DIR/picogram PICOGRAM_TEST_OUT=$ROOT/$DIR/test-output \
    node --test --test-reporter=tap --test-concurrency="${API_CONCURRENCY:-3}" "${files[@]}" >"$log" 2>&1
pass=$(awk '/^# pass/ {print $3}' "$log"); fail=$(awk '/^# fail/ {print $3}' "$log")
[ "${fail:-1}" -eq 0 ] || grep -E -B2 -A30 '^not ok|^    not ok|^  not ok' "$log" | head -100
reports=$(cat "$REPORTS"/tsan.* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer')
if [ "$reports" -gt 0 ]; then
    echo "--- the first report:"
    cat "$(ls "$REPORTS"/tsan.* | head -n 1)" | head -n 80
    echo "--- by kind:"
    cat "$REPORTS"/tsan.* | grep '^WARNING: ThreadSanitizer' | sort | uniq -c
fi
echo "tsan: api ${pass:-0} passed, ${fail:-?} failed, $reports TSan reports, $((SECONDS - t0)) s"
[ "${fail:-1}" -eq 0 ] && [ "$reports" -eq 0 ]
