#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http/multipart.h"

#define S(x) x, strlen(x)

static int parse(const char *body, const char *boundary, mp_part_t *parts, const char **err)
{
    mp_span_t b = {boundary, strlen(boundary)};
    return multipart_parse(body, strlen(body), b, parts, MULTIPART_MAX_PARTS, err);
}

static void test_boundary(void **state)
{
    mp_span_t b;
    assert_int_equal(multipart_boundary(S("multipart/form-data; boundary=abc123"), &b), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.base, "abc123", 6);
    assert_int_equal(multipart_boundary(S("Multipart/Form-Data; charset=utf-8; boundary=\"a b;c\""), &b), 0);
    assert_int_equal(b.len, 5);
    assert_int_equal(multipart_boundary(S("multipart/form-data"), &b), -1);
    assert_int_equal(multipart_boundary(S("multipart/form-data; boundary="), &b), -1);
    assert_int_equal(multipart_boundary(S("text/plain; boundary=x"), &b), -1);
}

static void test_parts(void **state)
{
    const char *body = "preamble\r\n--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"caption\"\r\n\r\n"
                       "hello\r\nworld\r\n"
                       "--XyZ\r\n"
                       "content-disposition: form-data; name=photo; filename=\"a.jpg\"\r\n"
                       "Content-Type: image/jpeg\r\n\r\n"
                       "\xff\xd8\xff\r\n--X not the boundary\r\n"
                       "--XyZ--\r\nepilogue";
    mp_part_t parts[MULTIPART_MAX_PARTS];
    const char *err = NULL;
    assert_int_equal(parse(body, "XyZ", parts, &err), 2);
    assert_int_equal(parts[0].name.len, 7);
    assert_memory_equal(parts[0].name.base, "caption", 7);
    assert_int_equal(parts[0].data.len, 12);
    assert_memory_equal(parts[0].data.base, "hello\r\nworld", 12);
    assert_false(parts[0].has_filename);
    assert_memory_equal(parts[1].name.base, "photo", 5);
    assert_true(parts[1].has_filename);
    assert_memory_equal(parts[1].filename.base, "a.jpg", 5);
    assert_memory_equal(parts[1].content_type.base, "image/jpeg", 10);
    assert_int_equal(parts[1].data.len, 3 + 2 + 20);
}

static void test_bad(void **state)
{
    mp_part_t parts[MULTIPART_MAX_PARTS];
    const char *err = NULL;
    const char *bad[] = {
        "",                                                                   /* no boundary */
        "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nxx",            /* truncated */
        "--b\r\nX-Other: 1\r\n\r\nxx\r\n--b--",                               /* no disposition */
        "--b\r\nContent-Disposition: attachment; name=a\r\n\r\nxx\r\n--b--",  /* not form-data */
        "--b\r\nContent-Disposition: form-data\r\n\r\nxx\r\n--b--",           /* no name */
        "--b\r\n\r\nxx\r\n--b--",                                             /* no headers */
        "--bX",                                                               /* garbage after */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        assert_int_equal(parse(bad[i], "b", parts, &err), -1);
        assert_non_null(err);
    }
    char many[4096] = "";
    for (int i = 0; i < MULTIPART_MAX_PARTS + 1; i++)
        strcat(many, "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n");
    strcat(many, "--b--");
    assert_int_equal(parse(many, "b", parts, &err), -1);
}

static void test_empty_form(void **state)
{
    mp_part_t parts[MULTIPART_MAX_PARTS];
    const char *err = NULL;
    assert_int_equal(parse("--b--\r\n", "b", parts, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_empty_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
