#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

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

static int dirtied, fresh_ones;
static void note_dirty(void *arg, bool fresh)
{
    (void)arg;
    dirtied++;
    fresh_ones += fresh;
}

/* Shared windows: aligned on the window length; pending hits are taken
 * once, totals from elsewhere become the count, and what could not be
 * shared is taken again. */
static void test_shared(void **state)
{
    ratelimit_t *rl = ratelimit_new(10, 1000, 1024);
    ratelimit_share(rl, note_dirty, NULL);
    ratelimit_result_t r = ratelimit_hit(rl, 5, 12345);
    assert_int_equal(r.reset_at_ms, 13000); /* the window is [12000, 13000) on every server */
    ratelimit_hit(rl, 5, 12346);
    ratelimit_hit(rl, 9, 12347);
    assert_int_equal(dirtied, 2); /* once per key that had nothing pending */
    assert_int_equal(fresh_ones, 2);
    rl_delta_t *d = NULL;
    size_t cap = 0;
    size_t n = ratelimit_take(rl, &d, &cap);
    assert_int_equal(n, 2);
    rl_delta_t five = d[0].key == 5 ? d[0] : d[1];
    assert_int_equal(five.n, 2);
    assert_int_equal(five.start_ms, 12000);
    assert_int_equal(ratelimit_take(rl, &d, &cap), 0); /* taken once */
    ratelimit_hit(rl, 5, 12400); /* pending 1 after the take */
    assert_int_equal(fresh_ones, 2); /* known here: no hurry */
    ratelimit_total(rl, &five, 8); /* the others counted 6 */
    r = ratelimit_hit(rl, 5, 12401);
    assert_int_equal(r.remaining, 0); /* 8 + 1 pending + this one */
    assert_false(ratelimit_hit(rl, 5, 12402).allowed);
    /* a delta that failed is pending again */
    n = ratelimit_take(rl, &d, &cap);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].n, 2);
    ratelimit_untake(rl, &d[0]);
    n = ratelimit_take(rl, &d, &cap);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].n, 2);
    /* the next window starts clean */
    assert_int_equal(ratelimit_hit(rl, 5, 13000).remaining, 9);
    free(d);
    ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_countdown_and_window),
        cmocka_unit_test(test_bounded_table),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
