#!/usr/bin/env bash
# Runs every libFuzzer target (tests/fuzz/fuzz_*.c) for FUZZ_SECONDS each
# (default 60), from its committed corpus (tests/fuzz/corpus/NAME, copied:
# what a run finds stays in build-fuzz/corpus/NAME, not in the repository)
# with its dictionary (tests/fuzz/dict/NAME.dict) where there is one.
#
#   make fuzz                             every target, 60 s each
#   FUZZ_SECONDS=3600 tests/fuzz.sh range  one target, an hour
#   FUZZ_RUNS=10000000 FUZZ_SECONDS=3600 tests/fuzz.sh   each until 10M executions or an hour (FUZZING.md)
#   FUZZ_TIMEOUT=60 ...                    a longer limit per input (default 10 s), for runs on a busy machine
#
# A crash leaves its input in build-fuzz/ (crash-*), and the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
TIMEOUT=${FUZZ_TIMEOUT:-10} # seconds one input may take before it counts as a hang
RUNS=()
[ -z "${FUZZ_RUNS:-}" ] || RUNS=(-runs="$FUZZ_RUNS")
DIR=build-fuzz
if [ ! -f "$DIR/build.ninja" ]; then
    CC=clang meson setup "$DIR" --buildtype=debug -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all
fi
ninja -C "$DIR" >/dev/null
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for src in tests/fuzz/fuzz_*.c; do t=$(basename "$src" .c); names+=("${t#fuzz_}"); done
fi
failed=0
for t in "${names[@]}"; do
    corpus="$DIR/corpus/$t"
    mkdir -p "$corpus"
    cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
    dict=()
    [ -f tests/fuzz/dict/"$t".dict ] && dict=(-dict=tests/fuzz/dict/"$t".dict)
    log="$DIR/fuzz-$t.log"
    t0=$SECONDS
    if "$DIR/tests/fuzz/fuzz_$t" -max_total_time="$SECS" "${RUNS[@]}" -timeout="$TIMEOUT" -rss_limit_mb=2048 \
        -print_final_stats=1 "${dict[@]}" -artifact_prefix="$DIR/" "$corpus" >"$log" 2>&1; then
        execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
        echo "fuzz $t: $((SECONDS - t0)) s, ${execs:-?} executions, no crash"
    else
        tail -n 30 "$log"
        echo "fuzz $t: FAILED (the input is in $DIR/)"
        failed=1
    fi
done
exit $failed
