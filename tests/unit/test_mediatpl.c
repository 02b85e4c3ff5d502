/* The object cache's media templates (api/mediatpl.h): written, read back
 * and filled; the elements a viewer may not see left out with their commas;
 * values that are not this layout's refused or copied as they are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "api/mediatpl.h"

typedef struct viewer {
    int64_t hide; /* the user whose elements are left out (0: none) */
    bool liked;
    int asked_liked;
} viewer_t;

static void user(void *ctx, int64_t id, buf_t *out)
{
    (void)ctx;
    buf_printf(out, "{\"id\":\"%lld\"}", (long long)id);
}

static bool hidden(void *ctx, int64_t id)
{
    return ((viewer_t *)ctx)->hide == id;
}

static bool liked(void *ctx)
{
    viewer_t *v = ctx;
    v->asked_liked++;
    return v->liked;
}

static const mediatpl_ops_t ops = {user, hidden, liked};

/* A media by user 5, liked by 6 and 9, commented on by 6. */
static void media_body(buf_t *b)
{
    buf_puts(b, "{\"user\":");
    mediatpl_hole_id(b, 'U', 5);
    buf_append(b, ",\"user_has_liked\":\0L", 20);
    buf_puts(b, ",\"likes\":[");
    int64_t likers[] = {6, 9};
    for (int i = 0; i < 2; i++) {
        mediatpl_hole_id(b, 'S', likers[i]);
        mediatpl_hole_id(b, 'U', likers[i]);
        mediatpl_element_end(b);
    }
    buf_puts(b, "],\"comments\":[");
    mediatpl_hole_id(b, 'S', 6);
    buf_puts(b, "{\"text\":\"hi\",\"from\":");
    mediatpl_hole_id(b, 'U', 6);
    buf_puts(b, "}");
    mediatpl_element_end(b);
    buf_puts(b, "]}");
}

static void written(buf_t *t)
{
    buf_t body;
    buf_init(&body, 1 << 20);
    media_body(&body);
    int64_t users[] = {5, 6, 9, 6};
    buf_init(t, 1 << 20);
    mediatpl_write(t, 5, 2, users, 4, body.data, body.len);
    buf_free(&body);
}

/* written, then read back into tp */
static void read_written(buf_t *t, media_tpl_t *tp)
{
    written(t);
    assert_true(mediatpl_read(t->data, t->len, tp));
}

static void filled(const media_tpl_t *tp, viewer_t *v, char *out, size_t cap)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    mediatpl_fill(tp, &ops, v, &b);
    assert_false(b.overflow);
    assert_true(b.len < cap);
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    buf_free(&b);
}

static void test_written_reads_back(void **state)
{
    (void)state;
    buf_t t;
    media_tpl_t tp;
    read_written(&t, &tp);
    assert_int_equal(tp.head.owner, 5);
    assert_int_equal(tp.head.like_count, 2);
    assert_int_equal(tp.head.users, 4);
    assert_int_equal(tp.head.holes, 11); /* U, L, then three elements of S U E */
    int64_t second;
    memcpy(&second, tp.users + 8, 8);
    assert_int_equal(second, 6);
    buf_free(&t);
}

static void test_filled_for_a_viewer(void **state)
{
    (void)state;
    buf_t t;
    media_tpl_t tp;
    read_written(&t, &tp);
    char out[1024];
    viewer_t v = {.liked = true};
    filled(&tp, &v, out, sizeof(out));
    assert_string_equal(out,
                        "{\"user\":{\"id\":\"5\"},\"user_has_liked\":true,\"likes\":[{\"id\":\"6\"},{\"id\":\"9\"}],"
                        "\"comments\":[{\"text\":\"hi\",\"from\":{\"id\":\"6\"}}]}");
    assert_int_equal(v.asked_liked, 1);
    buf_free(&t);
}

static void test_hidden_elements_left_out_with_their_commas(void **state)
{
    (void)state;
    buf_t t;
    media_tpl_t tp;
    read_written(&t, &tp);
    char out[1024];
    viewer_t v = {.hide = 6};
    filled(&tp, &v, out, sizeof(out));
    assert_string_equal(
        out, "{\"user\":{\"id\":\"5\"},\"user_has_liked\":false,\"likes\":[{\"id\":\"9\"}],\"comments\":[]}");
    v = (viewer_t){.hide = 9};
    filled(&tp, &v, out, sizeof(out));
    assert_string_equal(out, "{\"user\":{\"id\":\"5\"},\"user_has_liked\":false,\"likes\":[{\"id\":\"6\"}],"
                             "\"comments\":[{\"text\":\"hi\",\"from\":{\"id\":\"6\"}}]}");
    buf_free(&t);
}

static void test_counts_past_the_value_refused(void **state)
{
    (void)state;
    buf_t t;
    written(&t);
    media_tpl_t tp;
    assert_false(mediatpl_read(t.data, sizeof(media_head_t) - 1, &tp));
    media_head_t h;
    memcpy(&h, t.data, sizeof(h));
    h.holes = (int64_t)t.len; /* more offsets than bytes */
    memcpy(t.data, &h, sizeof(h));
    assert_false(mediatpl_read(t.data, t.len, &tp));
    h.holes = 11, h.users = -1;
    memcpy(t.data, &h, sizeof(h));
    assert_false(mediatpl_read(t.data, t.len, &tp));
    h.users = INT64_MAX / 4; /* 8 * users wraps */
    memcpy(t.data, &h, sizeof(h));
    assert_false(mediatpl_read(t.data, t.len, &tp));
    buf_free(&t);
}

static void test_an_offset_not_a_hole_copies_the_rest(void **state)
{
    (void)state;
    buf_t t;
    media_tpl_t tp;
    read_written(&t, &tp);
    uint32_t bad = (uint32_t)tp.len;                            /* past the template */
    memcpy(t.data + sizeof(media_head_t) + 4 * 8 + 4, &bad, 4); /* the second hole's offset ('L') */
    viewer_t v = {0};
    buf_t b;
    buf_init(&b, 1 << 20);
    mediatpl_fill(&tp, &ops, &v, &b);
    /* the owner filled, then the template after the owner's hole as it is */
    const char *u = memchr(tp.body, '\0', tp.len);
    size_t rest = tp.len - (size_t)(u + 10 - tp.body), filled_len = strlen("{\"user\":{\"id\":\"5\"}");
    assert_int_equal(b.len, filled_len + rest);
    assert_memory_equal(b.data, "{\"user\":{\"id\":\"5\"}", filled_len);
    assert_memory_equal(b.data + filled_len, u + 10, rest);
    assert_int_equal(v.asked_liked, 0);
    buf_free(&b);
    buf_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_written_reads_back),
        cmocka_unit_test(test_filled_for_a_viewer),
        cmocka_unit_test(test_hidden_elements_left_out_with_their_commas),
        cmocka_unit_test(test_counts_past_the_value_refused),
        cmocka_unit_test(test_an_offset_not_a_hole_copies_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
