#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/validate.h"

#define S(x) x, strlen(x)

static void test_utf8(void **state)
{
    assert_true(utf8_valid(S("plain ascii")));
    assert_true(utf8_valid(S("caf\xc3\xa9 \xd1\x82\xd0\xb5\xd1\x81\xd1\x82 \xf0\x9f\x93\xb7")));
    assert_false(utf8_valid(S("\xff")));
    assert_false(utf8_valid(S("\xc0\xaf")));         /* overlong '/' */
    assert_false(utf8_valid(S("\xe0\x80\xaf")));     /* overlong */
    assert_false(utf8_valid(S("\xed\xa0\x80")));     /* surrogate */
    assert_false(utf8_valid(S("\xf4\x90\x80\x80"))); /* > U+10FFFF */
    assert_false(utf8_valid(S("\xc3")));             /* truncated */
    assert_false(utf8_valid(S("\xe2\x82")));
    assert_int_equal(utf8_len(S("caf\xc3\xa9")), 4);
}

static void test_username(void **state)
{
    assert_null(validate_username(S("alice")));
    assert_null(validate_username(S("A.b_9")));
    assert_null(validate_username(S("abcdefghijklmnopqrstuvwxyz1234"))); /* 30 */
    assert_non_null(validate_username(S("abcdefghijklmnopqrstuvwxyz12345")));
    assert_non_null(validate_username(S("")));
    assert_non_null(validate_username(S("with space")));
    assert_non_null(validate_username(S("dash-ed")));
    assert_non_null(validate_username(S("caf\xc3\xa9")));
    assert_non_null(validate_username(S("x'; DROP")));
    /* looked up as they are; not taken new */
    assert_null(validate_username(S("bob.")));
    assert_non_null(validate_new_username(S("bob.")));
    assert_non_null(validate_new_username(S(".")));
    assert_null(validate_new_username(S("b.ob")));
    assert_null(validate_new_username(S(".bob")));
    assert_non_null(validate_new_username(S("")));
    assert_non_null(validate_new_username(S("with space")));
}

static void test_password(void **state)
{
    assert_null(validate_password(S("12345678")));
    assert_non_null(validate_password(S("1234567")));
    /* 8 characters of 2 bytes each */
    assert_null(validate_password(S("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9")));
    /* 7 characters, 14 bytes */
    assert_non_null(validate_password(S("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9")));
    assert_non_null(validate_password(S("abcdefg\xff")));
    char big[PASSWORD_MAX_BYTES + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_non_null(validate_password(S(big)));
}

static void test_text_fields(void **state)
{
    assert_null(validate_full_name(S("")));
    assert_null(validate_full_name(S("Robert'); DROP TABLE users;--")));
    assert_non_null(validate_full_name(S("tab\there")));
    assert_non_null(validate_full_name(S("nl\nhere")));
    assert_null(validate_bio(S("two\nlines")));
    assert_null(validate_bio(S("crlf\r\nlines")));
    assert_non_null(validate_bio(S("lone\rcr")));
    char norm[] = "a\r\nb\r\n\rc";
    text_normalize_newlines(norm);
    assert_string_equal(norm, "a\nb\n\rc");
    assert_non_null(validate_bio(S("bell\a")));
    char name[102];
    memset(name, 'x', 101);
    name[101] = '\0';
    assert_non_null(validate_full_name(S(name)));
    name[100] = '\0';
    assert_null(validate_full_name(S(name)));
}

static void test_website_email(void **state)
{
    assert_null(validate_website(S("")));
    assert_null(validate_website(S("https://example.com/x")));
    assert_null(validate_website(S("HTTP://example.com")));
    assert_non_null(validate_website(S("javascript:alert(1)")));
    assert_non_null(validate_website(S("example.com")));
    assert_non_null(validate_website(S("http://")));
    assert_non_null(validate_website(S("http:///path")));
    assert_non_null(validate_website(S("http://a b")));
    assert_null(validate_email(S("")));
    assert_null(validate_email(S("a@b.co")));
    assert_non_null(validate_email(S("a@b")));
    assert_non_null(validate_email(S("@b.co")));
    assert_non_null(validate_email(S("a@@b.co")));
    assert_non_null(validate_email(S("a b@c.de")));
}

static void test_lower(void **state)
{
    char out[16];
    ascii_lower(out, S("AbC.9_Z"));
    assert_string_equal(out, "abc.9_z");
}

static void test_filter(void **state)
{
    (void)state;
    assert_null(validate_filter("Normal", 6));
    assert_null(validate_filter("Valencia \xc3\xa9", 11));
    assert_non_null(validate_filter("", 0));
    char long_[42];
    memset(long_, 'a', 41);
    long_[41] = '\0';
    assert_non_null(validate_filter(long_, 41));
    assert_null(validate_filter(long_, 40));
    assert_non_null(validate_filter("a\nb", 3));
    assert_non_null(validate_filter("a\x7f", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter),   cmocka_unit_test(test_utf8),        cmocka_unit_test(test_username),
        cmocka_unit_test(test_password), cmocka_unit_test(test_text_fields), cmocka_unit_test(test_website_email),
        cmocka_unit_test(test_lower),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
