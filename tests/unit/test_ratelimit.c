#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/ratelimit.h"

static void test_countdown_and_window(void **state)
{
    ratelimit_t *rl = ratelimit_new(3, 1000, 1024);
    int64_t t = 1000000;
    ratelimit_result_t r = ratelimit_hit(rl, 77, t);
    assert_true(r.allowed);
    assert_int_equal(r.limit, 3);
    assert_int_equal(r.remaining, 2);
    assert_int_equal(ratelimit_hit(rl, 77, t + 1).remaining, 1);
    assert_int_equal(ratelimit_hit(rl, 77, t + 2).remaining, 0);
    r = ratelimit_hit(rl, 77, t + 3);
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.reset_at_ms, t + 1000);
    /* Another key has its own budget. */
    assert_true(ratelimit_hit(rl, 78, t + 3).allowed);
    /* A new window restores the budget. */
    r = ratelimit_hit(rl, 77, t + 1000);
    assert_true(r.allowed);
    assert_int_equal(r.remaining, 2);
    ratelimit_free(rl);
}

static void test_bounded_table(void **state)
{
    /* Far more live keys than slots: no crash, every call answers, and a
     * recently seen key keeps its count while the table churns a little. */
    ratelimit_t *rl = ratelimit_new(10, 60000, 1024);
    for (uint64_t k = 1; k <= 100000; k++)
        assert_true(ratelimit_hit(rl, k * 0x9e3779b97f4a7c15ULL, 5000).allowed);
    uint64_t key = 0x123456789ULL;
    ratelimit_hit(rl, key, 6000);
    assert_int_equal(ratelimit_hit(rl, key, 6001).remaining, 8);
    ratelimit_free(rl);
}

static void test_key(void **state)
{
    assert_int_equal(ratelimit_key("abc", 3), ratelimit_key("abc", 3));
    assert_true(ratelimit_key("abc", 3) != ratelimit_key("abd", 3));
    assert_true(ratelimit_key("", 0) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_countdown_and_window),
        cmocka_unit_test(test_bounded_table),
        cmocka_unit_test(test_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
