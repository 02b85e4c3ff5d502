/* Request IDs (obs/reqid.h): which a proxy's may be kept, and new ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "obs/reqid.h"

static bool ok(const char *s)
{
    return reqid_valid(s, strlen(s));
}

static void test_valid(void **state)
{
    (void)state;
    assert_true(ok("a"));
    assert_true(ok("0123456789abcdef0123456789abcdef"));
    assert_true(ok("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
    assert_true(ok("nginx.1:2_3-4"));
    char max[REQID_MAX + 2];
    memset(max, 'x', REQID_MAX);
    max[REQID_MAX] = '\0';
    assert_true(ok(max));
    max[REQID_MAX] = 'x';
    max[REQID_MAX + 1] = '\0';
    assert_false(ok(max)); /* one too long */
    assert_false(ok(""));
    assert_false(ok("a b"));
    assert_false(ok("a\"b"));
    assert_false(ok("a\nb"));
    assert_false(ok("a/b"));
    assert_false(ok("\xc3\xa9"));
    assert_false(reqid_valid("ab\0c", 4));
}

static void test_new_ids_differ_and_are_valid(void **state)
{
    (void)state;
    char a[REQID_MAX + 1], b[REQID_MAX + 1];
    reqid_new(a);
    reqid_new(b);
    assert_int_equal(strlen(a), 32);
    assert_true(ok(a));
    assert_string_not_equal(a, b);
    assert_memory_equal(a, b, 16); /* one thread, one prefix */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_new_ids_differ_and_are_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
