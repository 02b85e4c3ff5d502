/* The Range headers the file paths let through to h2o (http/range.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/range.h"

static bool ok(const char *v)
{
    return range_single_ok(v, strlen(v));
}

static void test_single_ranges_pass(void **state)
{
    (void)state;
    assert_true(ok("bytes=0-99"));
    assert_true(ok("bytes=100-"));
    assert_true(ok("bytes=-500"));
    assert_true(ok("Bytes=5-5"));
    assert_true(ok("bytes= 0-99 "));
    assert_true(ok("bytes=0-999999999999999999")); /* 18 digits */
}

static void test_others_are_dropped(void **state)
{
    (void)state;
    /* many ranges, overlapping or not (served whole instead) */
    assert_false(ok("bytes=0-1,1-2"));
    assert_false(ok("bytes=0-99, 200-299"));
    assert_false(ok("bytes=0-,0-,0-"));
    /* numbers that do not fit (h2o wrapped 2^64 to 0) */
    assert_false(ok("bytes=0-18446744073709551616"));
    assert_false(ok("bytes=0-1000000000000000000")); /* 19 digits */
    assert_false(ok("bytes=18446744073709551616-"));
    assert_false(ok("bytes=-18446744073709551616"));
    /* malformed */
    assert_false(ok("bytes=5-4"));
    assert_false(ok("bytes=-0"));
    assert_false(ok("bytes=-"));
    assert_false(ok("bytes="));
    assert_false(ok("bytes"));
    assert_false(ok("items=0-9"));
    assert_false(ok("bytes=0-9x"));
    assert_false(ok("bytes=a-9"));
    assert_false(ok("bytes=0--9"));
    assert_false(ok(""));
    assert_false(range_single_ok("bytes=0-9", 7)); /* the length, not the NUL, ends it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_ranges_pass),
        cmocka_unit_test(test_others_are_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
