#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/params.h"

static void test_urlencoded(void **state)
{
    params_t p;
    params_init(&p);
    const char *err = NULL;
    const char *in = "a=1&b=hello+world&c=%C3%A9t%C3%A9&empty=&flag&a=2&=skip";
    assert_int_equal(params_parse_urlencoded(&p, in, strlen(in), &err), 0);
    assert_string_equal(params_str(&p, "a"), "1"); /* first wins */
    assert_string_equal(params_str(&p, "b"), "hello world");
    assert_string_equal(params_str(&p, "c"), "\xc3\xa9t\xc3\xa9");
    assert_string_equal(params_str(&p, "empty"), "");
    assert_string_equal(params_str(&p, "flag"), "");
    assert_null(params_str(&p, "missing"));
    params_free(&p);
}

static void test_urlencoded_bad(void **state)
{
    const char *bad[] = {"a=%", "a=%4", "a=%G1", "a=%FF", "a=%00", "a=%C3", "%ZZ=1", "a=%ED%A0%80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        params_t p;
        params_init(&p);
        const char *err = NULL;
        assert_int_equal(params_parse_urlencoded(&p, bad[i], strlen(bad[i]), &err), -1);
        assert_non_null(err);
        assert_int_equal(p.n, 0);
        params_free(&p);
    }
}

static void test_too_many(void **state)
{
    char in[4096] = "";
    for (int i = 0; i < PARAMS_MAX + 1; i++)
        strcat(in, "k=v&");
    params_t p;
    params_init(&p);
    const char *err = NULL;
    assert_int_equal(params_parse_urlencoded(&p, in, strlen(in), &err), -1);
    params_free(&p);
}

static void test_json(void **state)
{
    params_t p;
    params_init(&p);
    const char *err = NULL;
    const char *in = "{\"s\":\"x\\u00e9\",\"i\":42,\"r\":1.5,\"t\":true,\"f\":false,\"n\":null}";
    assert_int_equal(params_parse_json(&p, in, strlen(in), &err), 0);
    assert_string_equal(params_str(&p, "s"), "x\xc3\xa9");
    assert_string_equal(params_str(&p, "i"), "42");
    assert_string_equal(params_str(&p, "r"), "1.5");
    assert_string_equal(params_str(&p, "t"), "true");
    assert_string_equal(params_str(&p, "f"), "false");
    assert_null(params_str(&p, "n"));
    params_free(&p);
}

static void test_json_bad(void **state)
{
    const char *bad[] = {"", "{", "[1]", "\"s\"", "{\"a\":[1]}", "{\"a\":{}}", "{\"a\":\"\\u0000\"}",
                         "{\"a\":1,\"a\":2}", "{\"a\":\"\xff\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        params_t p;
        params_init(&p);
        const char *err = NULL;
        assert_int_equal(params_parse_json(&p, bad[i], strlen(bad[i]), &err), -1);
        assert_non_null(err);
        params_free(&p);
    }
}

static void test_sources_precedence(void **state)
{
    params_t p;
    params_init(&p);
    const char *err;
    assert_int_equal(params_parse_urlencoded(&p, "x=body", 6, &err), 0);
    assert_int_equal(params_parse_urlencoded(&p, "x=query&y=q", 11, &err), 0);
    assert_string_equal(params_str(&p, "x"), "body");
    assert_string_equal(params_str(&p, "y"), "q");
    params_free(&p);
}

static void test_int_bool(void **state)
{
    long long v;
    assert_true(params_int("20", 1, 100, &v) && v == 20);
    assert_false(params_int("0", 1, 100, &v));
    assert_false(params_int("101", 1, 100, &v));
    assert_false(params_int("1x", 1, 100, &v));
    assert_false(params_int("", 1, 100, &v));
    assert_false(params_int(" 5", 1, 100, &v));
    assert_false(params_int("99999999999999999999", 1, 100, &v));
    bool b;
    assert_true(params_bool("TRUE", &b) && b);
    assert_true(params_bool("0", &b) && !b);
    assert_true(params_bool("off", &b) && !b);
    assert_false(params_bool("maybe", &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urlencoded), cmocka_unit_test(test_urlencoded_bad),
        cmocka_unit_test(test_too_many),   cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_bad),   cmocka_unit_test(test_sources_precedence),
        cmocka_unit_test(test_int_bool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
