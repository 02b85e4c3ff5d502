#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "core/token.h"

static void test_shape(void **state)
{
    char a[TOKEN_MAX_LEN + 1], b[TOKEN_MAX_LEN + 1];
    token_generate(4207232920473826304LL, a);
    token_generate(4207232920473826304LL, b);
    assert_string_not_equal(a, b);
    assert_int_equal(strncmp(a, "4207232920473826304.", 20), 0);
    assert_int_equal(strlen(a), 20 + 43); /* 256 random bits in base64url */
    assert_int_equal(token_user_id(a, strlen(a)), 4207232920473826304LL);
}

static void test_malformed(void **state)
{
    const char *bad[] = {"", ".", "123", "123.", ".abc", "abc.def", "12.ab+c", "12.ab/c", "-5.abc", "1 2.abc"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(token_user_id(bad[i], strlen(bad[i])), 0);
    char longtok[TOKEN_MAX_LEN + 10];
    memset(longtok, 'a', sizeof(longtok));
    memcpy(longtok, "1.", 2);
    assert_int_equal(token_user_id(longtok, sizeof(longtok)), 0);
}

static void test_hash(void **state)
{
    unsigned char h1[TOKEN_HASH_BYTES], h2[TOKEN_HASH_BYTES];
    token_hash("1.abc", 5, h1);
    token_hash("1.abd", 5, h2);
    assert_memory_not_equal(h1, h2, TOKEN_HASH_BYTES);
    token_hash("1.abc", 5, h2);
    assert_memory_equal(h1, h2, TOKEN_HASH_BYTES);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
