#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cursor.h"

static cursor_key_t key_of(unsigned char fill)
{
    unsigned char secret[SECRET_BYTES];
    memset(secret, fill, sizeof(secret));
    cursor_key_t k;
    cursor_key_derive(&k, secret);
    return k;
}

static void test_round_trip(void **state)
{
    cursor_key_t k = key_of(7);
    const int64_t cases[] = {1, 2, 4213761752770554880LL, INT64_MAX};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char c[CURSOR_SEALED_LEN + 1];
        cursor_seal(&k, cases[i], c);
        assert_int_equal(strlen(c), CURSOR_SEALED_LEN);
        assert_true(cursor_is_sealed(c, strlen(c)));
        int64_t back = 0;
        assert_true(cursor_open(&k, c, strlen(c), &back));
        assert_int_equal(back, cases[i]);
        /* the decimal position appears nowhere in it */
        char dec[24];
        snprintf(dec, sizeof(dec), "%lld", (long long)cases[i]);
        if (strlen(dec) > 3)
            assert_null(strstr(c, dec));
    }
}

static void test_deterministic_and_keyed(void **state)
{
    cursor_key_t k = key_of(7), other = key_of(8);
    char a[CURSOR_SEALED_LEN + 1], b[CURSOR_SEALED_LEN + 1], c[CURSOR_SEALED_LEN + 1];
    cursor_seal(&k, 12345, a);
    cursor_seal(&k, 12345, b);
    cursor_seal(&k, 12346, c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    int64_t pos;
    assert_false(cursor_open(&other, a, strlen(a), &pos)); /* another server secret */
}

static void test_tampering(void **state)
{
    cursor_key_t k = key_of(1);
    char c[CURSOR_SEALED_LEN + 1];
    cursor_seal(&k, 987654321, c);
    int64_t pos;
    for (size_t i = 1; i < CURSOR_SEALED_LEN; i++) {
        char t[CURSOR_SEALED_LEN + 1];
        memcpy(t, c, sizeof(t));
        t[i] = t[i] == 'A' ? 'B' : 'A';
        /* 24 bytes are exactly 32 characters: every one counts */
        assert_false(cursor_open(&k, t, CURSOR_SEALED_LEN, &pos));
    }
    const char *bad[] = {"", "s", "12345", "sAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x0123456789abcdef0123456789abcdef",
                         "s0123456789abcdef0123456789abcde!"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(cursor_open(&k, bad[i], strlen(bad[i]), &pos));
}

static void test_secret_file(void **state)
{
    char dir[] = "/tmp/pg-secret-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/secret", dir);
    unsigned char a[SECRET_BYTES], b[SECRET_BYTES];
    assert_int_equal(secret_load(path, a, err, sizeof(err)), 0); /* made */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(secret_load(path, b, err, sizeof(err)), 0); /* read back */
    assert_memory_equal(a, b, SECRET_BYTES);
    FILE *f = fopen(path, "w"); /* too short */
    fputs("short", f);
    fclose(f);
    assert_int_equal(secret_load(path, b, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at least 32 bytes"));
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_deterministic_and_keyed),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_secret_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
