/* The objects of a JSON array an object at a time (core/jsonstream.h):
 * any layout, any read sizes, and every way it can go wrong ends with -1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonstream.h"

typedef struct src {
    const char *data;
    size_t len, at, step; /* step: at most this many bytes a read */
    bool fail_at_end;
} src_t;

static ssize_t src_read(void *arg, void *buf, size_t n)
{
    src_t *s = arg;
    if (s->at == s->len)
        return s->fail_at_end ? -1 : 0;
    size_t k = s->len - s->at;
    if (k > n)
        k = n;
    if (k > s->step)
        k = s->step;
    memcpy(buf, s->data + s->at, k);
    s->at += k;
    return (ssize_t)k;
}

/* The "n" member of each object, in order, into out; the last return. */
static int run(const char *text, size_t step, size_t max, long *out, int cap, int *n)
{
    src_t s = {text, strlen(text), 0, step, false};
    jstream_t js;
    jstream_init(&js, src_read, &s, max);
    *n = 0;
    int rc;
    json_t *o;
    while ((rc = jstream_next(&js, &o)) == 1) {
        assert_true(json_is_object(o));
        if (*n < cap)
            out[(*n)++] = (long)json_integer_value(json_object_get(o, "n"));
        json_decref(o);
    }
    jstream_free(&js);
    return rc;
}

static void test_any_layout_any_read_size(void **state)
{
    (void)state;
    const char *texts[] = {
        "[\n{\"n\":1},\n{\"n\":2},\n{\"n\":3}\n]\n",
        "[{\"n\":1},{\"n\":2},{\"n\":3}]",
        "  [ { \"n\" : 1 } ,\t{\"n\":2,\"s\":\"a ] , { [ \\\" }\"} ,\r\n{\"n\":3,\"deep\":{\"a\":[1,{\"b\":[]}]}} ]  \n",
    };
    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        for (size_t step = 1; step <= 64; step = step * 2 + 1) {
            long got[8];
            int n;
            assert_int_equal(run(texts[t], step, 0, got, 8, &n), 0);
            assert_int_equal(n, 3);
            assert_int_equal(got[0], 1);
            assert_int_equal(got[1], 2);
            assert_int_equal(got[2], 3);
        }
    }
    long got[1];
    int n;
    assert_int_equal(run("[]", 1, 0, got, 1, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(run(" [ ] \n", 1, 0, got, 1, &n), 0);
}

static void test_what_is_not_an_array_of_objects_ends_with_minus_one(void **state)
{
    (void)state;
    const char *bad[] = {
        "",                     /* nothing */
        "{\"n\":1}",            /* not an array */
        "[1,2]",                /* not objects */
        "[{\"n\":1},\"x\"]",    /* a string among them */
        "[{\"n\":1}{\"n\":2}]", /* no comma */
        "[{\"n\":1},]",         /* a comma and no item */
        "[{\"n\":1}",           /* cut short */
        "[{\"n\":1",            /* cut short in an item */
        "[{\"n\":1}] x",        /* after the end */
        "[{\"n\":1}][]",        /* a second array */
        "[{\"n\":}]",           /* not JSON */
        "[{\"n\":1}]\0",        /* (strlen: fine) */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) - 1; i++) {
        for (size_t step = 1; step <= 9; step += 8) {
            long got[4];
            int n;
            assert_int_equal(run(bad[i], step, 0, got, 4, &n), -1);
        }
    }
    /* the objects before the fault are given */
    long got[4];
    int n;
    assert_int_equal(run("[{\"n\":7},{\"n\":8},oops]", 3, 0, got, 4, &n), -1);
    assert_int_equal(n, 2);
    assert_int_equal(got[1], 8);
}

static void test_an_item_past_max_and_a_read_error(void **state)
{
    (void)state;
    char big[600];
    snprintf(big, sizeof(big), "[{\"n\":1},{\"n\":2,\"s\":\"%0500d\"},{\"n\":3}]", 0);
    long got[4];
    int n;
    assert_int_equal(run(big, 7, 256, got, 4, &n), -1);
    assert_int_equal(n, 1); /* the small one came; the large one ended it */
    assert_int_equal(run(big, 7, 1024, got, 4, &n), 0);
    assert_int_equal(n, 3);

    src_t s = {"[{\"n\":1},", 9, 0, 4, true};
    jstream_t js;
    jstream_init(&js, src_read, &s, 0);
    json_t *o;
    assert_int_equal(jstream_next(&js, &o), 1);
    json_decref(o);
    assert_int_equal(jstream_next(&js, &o), -1);
    assert_null(o);
    jstream_free(&js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_layout_any_read_size),
        cmocka_unit_test(test_what_is_not_an_array_of_objects_ends_with_minus_one),
        cmocka_unit_test(test_an_item_past_max_and_a_read_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
