#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/ids.h"
#include "core/text.h"

#define S(x) x, strlen(x)

static void test_hashtags(void **state)
{
    text_tag_t t[TEXT_MAX_TAGS];
    size_t n = text_hashtags(
        S("Sunset #SF #caf\xc3\xa9 #\xd0\xa2\xd0\x95\xd0\xa1\xd0\xa2 #sf a#b #1 #_x #e\xcc\x81t\xc3\xa9, #end."), t,
        TEXT_MAX_TAGS);
    assert_int_equal(n, 6); /* "a#b" and "#1" are not tags; "#sf" again is a duplicate */
    assert_string_equal(t[0], "sf");
    assert_string_equal(t[1], "caf\xc3\xa9");
    assert_string_equal(t[2], "\xd1\x82\xd0\xb5\xd1\x81\xd1\x82"); /* тест, lower-cased */
    assert_string_equal(t[3], "_x");
    assert_string_equal(t[4], "e\xcc\x81t\xc3\xa9"); /* combining accent kept */
    assert_string_equal(t[5], "end");
    n = text_hashtags(S("#end."), t, TEXT_MAX_TAGS);
    assert_int_equal(n, 1);
    assert_string_equal(t[0], "end");
    assert_int_equal(text_hashtags(S("# #! ##"), t, TEXT_MAX_TAGS), 0);
    n = text_hashtags(S("#\xe6\x9d\xb1\xe4\xba\xac"), t, TEXT_MAX_TAGS); /* 東京 */
    assert_int_equal(n, 1);
}

static void test_limit(void **state)
{
    char in[2000] = "";
    for (int i = 0; i < 40; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "#t%d ", i);
        strcat(in, tag);
    }
    text_tag_t t[TEXT_MAX_TAGS];
    assert_int_equal(text_hashtags(S(in), t, TEXT_MAX_TAGS), TEXT_MAX_TAGS);
}

static void test_mentions(void **state)
{
    text_mention_t m[TEXT_MAX_MENTIONS];
    size_t n = text_mentions(S("hi @Alice and @bob.smith, mail me@example.com @ALICE @"), m, TEXT_MAX_MENTIONS);
    assert_int_equal(n, 2);
    assert_string_equal(m[0], "alice");
    assert_string_equal(m[1], "bob.smith");
    /* a 30-character name is kept whole, not cut to a shorter user's name */
    n = text_mentions(S("@abcdefghijklmnopqrstuvwxyz1234 and @abcdefghijklmnopqrstuvwxyz12345"), m, TEXT_MAX_MENTIONS);
    assert_int_equal(n, 1);
    assert_string_equal(m[0], "abcdefghijklmnopqrstuvwxyz1234");
    /* a trailing dot (or several) ends the mention, not the name */
    n = text_mentions(S("thanks @alice. and @bob.smith... and @carol.d"), m, TEXT_MAX_MENTIONS);
    assert_int_equal(n, 3);
    assert_string_equal(m[0], "alice");
    assert_string_equal(m[1], "bob.smith");
    assert_string_equal(m[2], "carol.d");
    n = text_mentions(S("@abcdefghijklmnopqrstuvwxyz1234. @. @.."), m, TEXT_MAX_MENTIONS);
    assert_int_equal(n, 1); /* 30 characters and a dot; a lone dot is no name */
    assert_string_equal(m[0], "abcdefghijklmnopqrstuvwxyz1234");
}

static void test_shortcode(void **state)
{
    char code[IDS_SHORTCODE_MAX + 1];
    int64_t ids[] = {1, 63, 64, 4207244034539136000LL, INT64_MAX};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        ids_shortcode(ids[i], code);
        assert_true(strlen(code) <= IDS_SHORTCODE_MAX);
        assert_int_equal(ids_from_shortcode(code, strlen(code)), ids[i]);
    }
    ids_shortcode(64, code);
    assert_string_equal(code, "BA");
    assert_int_equal(ids_from_shortcode(S("")), 0);
    assert_int_equal(ids_from_shortcode(S("A")), 0); /* zero */
    assert_int_equal(ids_from_shortcode(S("a/b")), 0);
    assert_int_equal(ids_from_shortcode(S("____________")), 0); /* too long */
    assert_int_equal(ids_from_shortcode(S("___________")), 0);  /* > INT64_MAX */
}

static void test_tag_name(void **state)
{
    (void)state;
    text_tag_t t;
    assert_true(text_tag_name(S("sun"), t));
    assert_string_equal(t, "sun");
    assert_true(text_tag_name(S("#SunSet_2"), t));
    assert_string_equal(t, "sunset_2");
    assert_true(text_tag_name(S("CAF\xc3\x89"), t)); /* CAFÉ */
    assert_string_equal(t, "caf\xc3\xa9");
    assert_true(text_tag_name(S("\xd0\xa2\xd0\x95\xd0\xa1\xd0\xa2"), t)); /* ТЕСТ */
    assert_string_equal(t, "\xd1\x82\xd0\xb5\xd1\x81\xd1\x82");
    const char *bad[] = {"", "#", "##a", "a b", "a-b", "a!", "123", "a#b", "\xff", "caf\xc3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(text_tag_name(bad[i], strlen(bad[i]), t));
    char longname[TAG_MAX_CHARS + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[TAG_MAX_CHARS] = '\0';
    assert_true(text_tag_name(longname, TAG_MAX_CHARS, t));
    longname[TAG_MAX_CHARS] = 'a';
    longname[TAG_MAX_CHARS + 1] = '\0';
    assert_false(text_tag_name(longname, TAG_MAX_CHARS + 1, t));

    char out[8];
    assert_int_equal(text_lower(S("AbC"), out, sizeof(out)), 3);
    assert_string_equal(out, "abc");
    assert_int_equal(text_lower(S("\xc3\x89\xc3\x89\xc3\x89\xc3\x89"), out, sizeof(out)),
                     6); /* never half a code point */
    assert_string_equal(out, "\xc3\xa9\xc3\xa9\xc3\xa9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashtags),  cmocka_unit_test(test_limit),    cmocka_unit_test(test_mentions),
        cmocka_unit_test(test_shortcode), cmocka_unit_test(test_tag_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
