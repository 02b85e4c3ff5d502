#!/usr/bin/env bash
# The whole suite, as `make test` runs it:
#   1. build/       the normal build (-Werror), its C unit tests and the API suite,
#                   on one SQLite file and again on two (the logical shards split
#                   over two databases: the cheapest way to catch a cross-shard bug);
#   2. build-asan/  the same with AddressSanitizer + UndefinedBehaviorSanitizer
#                   (-fno-sanitize-recover), unit tests and API suite again;
#   3. build-fuzz/  libFuzzer targets for every parser, each run for a bounded
#                   time on the committed corpus.
# Between 1 and 2, the web client's end-to-end tests in headless Chromium
# (tests/web/, playwright-core), against the normal build.
# The last line is "N passed, N failed". Exit status is 0 only if nothing failed.
# After the normal build's suites, the cluster (scripts/cluster.sh, in a
# temporary directory, stopped after): the API suite once more with its own
# servers on the cluster's two PostgreSQL 15 servers (each behind
# pgbouncer) and Redis, then the whole black-box suite through the
# cluster's nginx, to its two servers and its worker (the tests that need a
# process of their own skip there).
# Env: FUZZ_SECONDS (default 6 per target), API_CONCURRENCY (test files at once, default 3),
# SKIP_ASAN=1, SKIP_FUZZ=1, SKIP_WEB=1, SKIP_PG=1, PICOGRAM_PASSWORD_HASH (default minimum).
set -u
cd "$(dirname "$0")/.."
# Every server the suite starts, the cluster's too, hashes new passwords at
# the lowest cost (the password_hash setting; tests/api/lib.mjs says why);
# the tests of that cost and of the hashing queue ask for the default.
export PICOGRAM_PASSWORD_HASH=${PICOGRAM_PASSWORD_HASH:-minimum}
ROOT=$PWD
PASSED=0
FAILED=0
FAILURES=()
OUT=$(mktemp -d /tmp/picogram-test.XXXXXX)
CLUSTER=""
cleanup() {
    [ -z "$CLUSTER" ] || { scripts/cluster.sh down "$CLUSTER" >/dev/null 2>&1; rm -rf "$CLUSTER"; }
    rm -rf "$OUT"
}
trap cleanup EXIT

note() { printf '\n=== %s\n' "$*"; }
count() { # count NAME PASS FAIL
    PASSED=$((PASSED + $2)); FAILED=$((FAILED + $3))
    [ "$3" -eq 0 ] || FAILURES+=("$1: $3 failed")
    printf -- '--- %s: %d passed, %d failed\n' "$1" "$2" "$3"
}

build() { # build DIR [meson options...]
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" --werror "$@" >"$OUT/setup-$(basename "$dir").log" 2>&1 ||
            { cat "$OUT/setup-$(basename "$dir").log"; return 1; }
    elif [ ! -d "$dir/tests/unit" ]; then # set up by `make run`, before cmocka was installed
        meson setup --reconfigure "$dir" >"$OUT/setup-$(basename "$dir").log" 2>&1 ||
            { cat "$OUT/setup-$(basename "$dir").log"; return 1; }
    fi
    local log="$OUT/build-$(basename "$dir").log"
    if ! ninja -C "$dir" "${TARGETS[@]+"${TARGETS[@]}"}" >"$log" 2>&1; then
        grep -v '^\[' "$log" | tail -n 60
        return 1
    fi
}

unit() { # unit DIR NAME
    local log="$OUT/unit-$2.log"
    meson test -C "$1" --print-errorlogs >"$log" 2>&1
    local ok fail
    ok=$(awk '/^Ok:/ {print $2}' "$log"); fail=$(awk '/^Fail:/ {print $2}' "$log")
    local to; to=$(awk '/^Timeout:/ {print $2}' "$log")
    fail=$(( ${fail:-0} + ${to:-0} ))
    if [ -z "$ok" ]; then cat "$log"; count "unit ($2)" 0 1; return; fi
    [ "$fail" -eq 0 ] || grep -E 'FAIL|not ok|ERROR' "$log" | head -40
    count "unit ($2)" "$ok" "$fail"
}

nodesuite() { # nodesuite PATHS BIN NAME [node options]: a node:test suite (PATHS: space-separated) against BIN
    local log="$OUT/$3.log" t0=$SECONDS errs="$ROOT/build/test-output/server-errors"
    rm -rf "$errs"
    # shellcheck disable=SC2086 # PATHS splits on spaces
    PICOGRAM_BIN="$2" PICOGRAM_TEST_OUT="$ROOT/build/test-output" node --test --test-reporter=tap "${@:4}" $1 >"$log" 2>&1
    local pass fail
    pass=$(awk '/^# pass/ {print $3}' "$log"); fail=$(awk '/^# fail/ {print $3}' "$log")
    if [ -z "$pass" ]; then tail -n 60 "$log"; count "$3" 0 1; return; fi
    if [ "${fail:-0}" -ne 0 ]; then
        grep -E -B2 -A30 '^not ok|^    not ok|^  not ok' "$log" | head -150
        # what the servers of the failing files logged as errors (tests/api/lib.mjs keeps them)
        local f
        for f in $(grep -oE "location: '[^']*/tests/[a-z]+/[a-z0-9_]+\.test\.mjs" "$log" | sed 's|.*/||' | sort -u); do
            [ -s "$errs/$f.log" ] || continue
            echo "--- the servers' error lines in $f (last 30):"
            tail -n 30 "$errs/$f.log"
        done
    fi
    count "$3, $((SECONDS - t0)) s" "$pass" "${fail:-0}"
}
# The API suite's files run three at a time: each starts servers of its own
# on free ports in temporary directories, and most of their time is waiting
# (for processes, timers, restarts), so three overlap well on two cores.
# Files that assert a latency budget run afterwards, one at a time.
SOLO_API="tests/api/flood.test.mjs"
# Files about HTTP, the shared services (Redis, memcached, gearmand, S3),
# the CLI and the hashing pool, the apps' outgoing calls (callbacks, shares,
# pushes: PostgreSQL's pass spreads their rows over two servers), and the privacy matrix (its rules are the
# API's, checked on one database and on PostgreSQL's two), not about where
# rows live: the pass on two SQLite files (which is about rows placed over
# databases) leaves them to the other passes, which run them.
NOT_PLACEMENT=" tests/api/http.test.mjs tests/api/http2.test.mjs tests/api/badinput.test.mjs tests/api/cli.test.mjs
    tests/api/cache_bus.test.mjs tests/api/cache_memcached.test.mjs tests/api/cache_tiered.test.mjs
    tests/api/jobs_gearman.test.mjs tests/api/login_shared.test.mjs tests/api/ratelimit_shared.test.mjs
    tests/api/s3.test.mjs tests/api/web_session.test.mjs tests/api/flood.test.mjs tests/api/privacy_matrix.test.mjs
    tests/api/phone_photos.test.mjs tests/api/metrics.test.mjs tests/api/rolling.test.mjs
    tests/api/munin.test.mjs tests/api/logs.test.mjs tests/api/deploy_units.test.mjs tests/api/install.test.mjs
    tests/api/sentry.test.mjs tests/api/subscriptions.test.mjs tests/api/share.test.mjs tests/api/push.test.mjs
    tests/api/hooks_kill.test.mjs "
# The files that take longest (a cluster of their own, kill matrices,
# restarts), started first: the pass ends when its last file does, and one
# of these begun last ran alone for a minute and more.
FIRST_API="tests/api/cluster_restore.test.mjs tests/api/shard_move.test.mjs tests/api/export.test.mjs
    tests/api/rolling.test.mjs tests/api/s3.test.mjs tests/api/failover.test.mjs tests/api/cluster_kill.test.mjs
    tests/api/pg_down.test.mjs tests/api/subscriptions.test.mjs tests/api/oauth_apps.test.mjs"
api() { # api BIN NAME [FILES TO LEAVE OUT]
    local f shared="" solo=""
    local out; out=" $(echo ${3:-}) "
    for f in $FIRST_API $(ls tests/api/*.test.mjs | grep -vxF -f <(printf '%s\n' $FIRST_API)); do
        case "$out" in *" $f "*) continue ;; esac
        case " $SOLO_API " in *" $f "*) solo="$solo $f" ;; *) shared="$shared $f" ;; esac
    done
    nodesuite "$shared" "$1" "api ($2)" --test-concurrency="${API_CONCURRENCY:-3}"
    [ -z "$solo" ] || nodesuite "$solo" "$1" "api ($2, latency budgets, alone)" --test-concurrency=1
}

fuzz() { # fuzz DIR: every target for FUZZ_SECONDS, one per core at a time (each fuzzer runs on one core)
    local secs=${FUZZ_SECONDS:-6} jobs; jobs=$(nproc 2>/dev/null || echo 2)
    local names=() src t
    for src in tests/fuzz/fuzz_*.c; do
        t=$(basename "$src" .c); t=${t#fuzz_}; names+=("$t")
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        (
            local corpus="$OUT/corpus-$t" dict=()
            mkdir -p "$corpus"; cp tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null
            [ -f tests/fuzz/dict/"$t".dict ] && dict=(-dict=tests/fuzz/dict/"$t".dict)
            "$1/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 "${dict[@]}" \
                -artifact_prefix="$OUT/$t-" "$corpus" >"$OUT/fuzz-$t.log" 2>&1
            echo $? >"$OUT/fuzz-$t.rc"
        ) &
    done
    wait
    for t in "${names[@]}"; do
        if [ "$(cat "$OUT/fuzz-$t.rc" 2>/dev/null)" = 0 ]; then
            count "fuzz $t (${secs}s)" 1 0
        else
            tail -n 30 "$OUT/fuzz-$t.log"; count "fuzz $t" 0 1
        fi
    done
}

TARGETS=()
note "normal build (-Werror)"
if build build --buildtype=debugoptimized; then
    unit build normal
    api "$ROOT/build/picogram" normal
    PICOGRAM_TEST_TOPOLOGY=sqlite2 api "$ROOT/build/picogram" "normal, 2 SQLite files" "$NOT_PLACEMENT"
    if [ "${SKIP_PG:-0}" != 1 ]; then
        note "the cluster: two PostgreSQL servers behind pgbouncer, Redis, S3, two servers and a worker behind nginx"
        CLUSTER=$(mktemp -d /tmp/picogram-cluster.XXXXXX)
        # (the servers' budgets as the suite's own servers have them; three
        # test files at once share these two servers and one client address,
        # so their concurrent sign-ups get the room each file's own server gives)
        # (and their real-time callbacks may reach the suite's receivers on loopback)
        # (pools idle past 10 s let their connections go: see BOUNCER_IDLE_TIMEOUT in scripts/cluster.sh)
        if PG_FSYNC=off BOUNCER_IDLE_TIMEOUT=10 PICOGRAM_RATE_LIMIT=1000000 PICOGRAM_MAX_CONCURRENT_UPLOADS=16 PICOGRAM_HASH_PER_CLIENT=32 \
            PICOGRAM_WEBHOOK_ALLOW_PRIVATE=on PICOGRAM_WEBHOOK_BATCH_MS=700 \
            scripts/cluster.sh up "$CLUSTER" >"$OUT/cluster.log" 2>&1; then
            # the suite's servers on the cluster's databases and Redis
            PICOGRAM_TEST_TOPOLOGY=pg PICOGRAM_TEST_CLUSTER=$CLUSTER api "$ROOT/build/picogram" "normal, 2 PostgreSQL servers"
            # the whole black-box suite through nginx, against the cluster's own servers
            PICOGRAM_URL=$(tail -n 1 "$OUT/cluster.log") PICOGRAM_TEST_PROXIED=1 PICOGRAM_TEST_WEBHOOKS=1 \
                api "$ROOT/build/picogram" "normal, through nginx to 2 servers and a worker"
        else
            tail -n 30 "$OUT/cluster.log"
            count "cluster up" 0 1
        fi
        scripts/cluster.sh down "$CLUSTER" >/dev/null 2>&1
        rm -rf "$CLUSTER"
        CLUSTER=""
    fi
    if [ "${SKIP_WEB:-0}" != 1 ]; then
        note "web client in headless Chromium (screenshots in build/test-output/web/)"
        nodesuite tests/web/ "$ROOT/build/picogram" "web (chromium)"
    fi
else
    count "build (normal)" 0 1
fi

if [ "${SKIP_ASAN:-0}" != 1 ]; then
    note "ASan + UBSan build"
    export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:strict_string_checks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    export LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0
    if build build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fno-sanitize-recover=all -Dc_link_args=-fno-sanitize-recover=all; then
        unit build-asan asan
        api "$ROOT/build-asan/picogram" asan
    else
        count "build (asan)" 0 1
    fi
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
    note "fuzzers (clang, libFuzzer + ASan + UBSan)"
    TARGETS=()
    for src in tests/fuzz/fuzz_*.c; do t=$(basename "$src" .c); TARGETS+=("tests/fuzz/$t"); done
    if CC=clang build build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false; then
        fuzz build-fuzz
    else
        count "build (fuzz)" 0 1
    fi
fi

note "summary"
for f in "${FAILURES[@]+"${FAILURES[@]}"}"; do echo "FAILED: $f"; done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
