#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/throttle.h"

static void test_inflight(void **state)
{
    throttle_t *t = throttle_new(0);
    for (int i = 0; i < 3; i++)
        assert_true(throttle_acquire(t, 42, 3, 1000));
    assert_false(throttle_acquire(t, 42, 3, 1000)); /* the fourth waits for one to end */
    assert_true(throttle_acquire(t, 43, 3, 1000));  /* another client is not affected */
    throttle_release(t, 42);
    assert_true(throttle_acquire(t, 42, 3, 1000));
    throttle_release(t, 999); /* never taken: nothing happens */
    throttle_free(t);
}

static void test_backoff(void **state)
{
    throttle_t *t = throttle_new(0);
    int64_t now = 1000000;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(throttle_wait_ms(t, 7, now), 0);
        throttle_failure(t, 7, 5, now);
    }
    assert_int_equal(throttle_wait_ms(t, 7, now), 0); /* five are free */
    throttle_failure(t, 7, 5, now);                    /* the sixth: 1 s */
    assert_int_equal(throttle_wait_ms(t, 7, now), 1000);
    assert_int_equal(throttle_wait_ms(t, 7, now + 400), 600);
    assert_int_equal(throttle_wait_ms(t, 7, now + 1000), 0);
    throttle_failure(t, 7, 5, now + 1000); /* then 2 s, 4 s ... */
    assert_int_equal(throttle_wait_ms(t, 7, now + 1000), 2000);
    for (int i = 0; i < 30; i++)
        throttle_failure(t, 7, 5, now + 2000);
    assert_int_equal(throttle_wait_ms(t, 7, now + 2000), THROTTLE_MAX_BACKOFF_MS); /* capped */
    throttle_success(t, 7);
    assert_int_equal(throttle_wait_ms(t, 7, now + 2000), 0);
    throttle_free(t);
}

static void test_forgets(void **state)
{
    throttle_t *t = throttle_new(0);
    int64_t now = 5000000;
    for (int i = 0; i < 6; i++)
        throttle_failure(t, 9, 5, now);
    assert_true(throttle_wait_ms(t, 9, now) > 0);
    /* long after the last failure, the count starts again */
    int64_t later = now + THROTTLE_FORGET_MS + 1;
    assert_int_equal(throttle_wait_ms(t, 9, later), 0);
    throttle_failure(t, 9, 5, later);
    assert_int_equal(throttle_wait_ms(t, 9, later), 0);
    throttle_free(t);
}

static void test_bounded(void **state)
{
    /* many keys: memory stays fixed, and slots with work in flight are never recycled */
    throttle_t *t = throttle_new(1024);
    assert_true(throttle_acquire(t, 1, 1, 0));
    for (uint64_t k = 2; k < 200000; k++)
        throttle_failure(t, k, 5, 10);
    assert_false(throttle_acquire(t, 1, 1, 20)); /* still holds its one slot */
    throttle_release(t, 1);
    assert_true(throttle_acquire(t, 1, 1, 30));
    throttle_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inflight),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_forgets),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
