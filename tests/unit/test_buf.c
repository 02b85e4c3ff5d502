#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void test_basic(void **state)
{
    buf_t b;
    buf_init(&b, 1024);
    buf_puts(&b, "n=");
    buf_i64(&b, -9223372036854775807LL - 1);
    buf_putc(&b, ' ');
    buf_u64(&b, 18446744073709551615ULL);
    buf_printf(&b, " %s", "x");
    size_t n;
    char *s = buf_steal(&b, &n);
    assert_string_equal(s, "n=-9223372036854775808 18446744073709551615 x");
    assert_int_equal(n, strlen(s));
    free(s);
    buf_free(&b);
}

static void test_limit(void **state)
{
    buf_t b;
    buf_init(&b, 8);
    buf_puts(&b, "12345678");
    assert_false(b.overflow);
    buf_putc(&b, '9');
    assert_true(b.overflow);
    assert_int_equal(b.len, 8);
    buf_puts(&b, "more"); /* dropped */
    assert_int_equal(b.len, 8);
    buf_free(&b);
    buf_init(&b, 100);
    char big[300];
    memset(big, 'a', sizeof(big) - 1);
    big[299] = '\0';
    buf_printf(&b, "%s", big);
    assert_true(b.overflow);
    buf_free(&b);
}

static void test_json_escape(void **state)
{
    buf_t b;
    buf_init(&b, 1024);
    const char in[] = "a\"b\\c\n\t\x01<script>&\xc3\xa9";
    buf_json_str(&b, in, sizeof(in) - 1);
    buf_putc(&b, '\0');
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\\u003cscript\\u003e\\u0026\xc3\xa9\"");
    buf_reset(&b);
    buf_json_id(&b, 42);
    buf_json_cstr(&b, NULL);
    buf_putc(&b, '\0');
    assert_string_equal(b.data, "\"42\"null");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_json_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
