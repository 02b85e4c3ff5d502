/* The embedded object cache: hits and misses, LRU eviction within the byte
 * bound, invalidation, and fills refused after an invalidation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "cache/cache.h"

static void test_get_set_del(void **state)
{
    cache_t *c = cache_new(1 << 20);
    buf_t b;
    buf_init(&b, 1024);
    assert_false(cache_get(c, CACHE_USER, 1, &b));
    cache_set(c, CACHE_USER, 1, "alice", 5, cache_ticket(c));
    cache_set(c, CACHE_MEDIA, 1, "photo", 5, cache_ticket(c)); /* same id, other kind */
    assert_true(cache_get(c, CACHE_USER, 1, &b));
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "alice", 5);
    buf_reset(&b);
    assert_true(cache_get(c, CACHE_MEDIA, 1, &b));
    assert_memory_equal(b.data, "photo", 5);
    cache_set(c, CACHE_USER, 1, "alicia", 6, cache_ticket(c)); /* replace */
    buf_reset(&b);
    assert_true(cache_get(c, CACHE_USER, 1, &b));
    assert_memory_equal(b.data, "alicia", 6);
    cache_del(c, CACHE_USER, 1);
    assert_false(cache_get(c, CACHE_USER, 1, &b));
    cache_stats_t st = cache_stats(c);
    assert_int_equal(st.entries, 1);
    buf_free(&b);
    cache_free(c);
}

static void test_ticket_refuses_stale_fill(void **state)
{
    cache_t *c = cache_new(1 << 20);
    uint64_t t = cache_ticket(c);   /* a reader starts its snapshot */
    cache_del(c, CACHE_USER, 7);    /* a writer commits and invalidates */
    cache_set(c, CACHE_USER, 7, "old", 3, t); /* the reader's old value */
    buf_t b;
    buf_init(&b, 64);
    assert_false(cache_get(c, CACHE_USER, 7, &b));
    cache_set(c, CACHE_USER, 7, "new", 3, cache_ticket(c));
    assert_true(cache_get(c, CACHE_USER, 7, &b));
    buf_free(&b);
    cache_free(c);
}

static void test_bounded(void **state)
{
    cache_t *c = cache_new(1 << 20); /* 64 KiB per stripe */
    char val[1000];
    memset(val, 'x', sizeof(val));
    for (int64_t i = 1; i <= 20000; i++)
        cache_set(c, CACHE_MEDIA, i, val, sizeof(val), cache_ticket(c));
    cache_stats_t st = cache_stats(c);
    assert_true(st.bytes <= (1 << 20));
    assert_true(st.entries > 500);
    buf_t b;
    buf_init(&b, 4096);
    assert_true(cache_get(c, CACHE_MEDIA, 20000, &b)); /* the newest stays */
    assert_false(cache_get(c, CACHE_MEDIA, 1, &b));    /* the oldest went */
    buf_free(&b);
    cache_free(c);
}

static void *hammer(void *arg)
{
    cache_t *c = arg;
    buf_t b;
    buf_init(&b, 4096);
    for (int64_t i = 0; i < 50000; i++) {
        int64_t id = i % 997;
        buf_reset(&b);
        if (!cache_get(c, CACHE_USER, id, &b))
            cache_set(c, CACHE_USER, id, "value", 5, cache_ticket(c));
        else if (b.len != 5 || memcmp(b.data, "value", 5) != 0)
            return (void *)1;
        if (i % 101 == 0)
            cache_del(c, CACHE_USER, id);
    }
    buf_free(&b);
    return NULL;
}

static void test_threads(void **state)
{
    cache_t *c = cache_new(1 << 20);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, c);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_set_del),
        cmocka_unit_test(test_ticket_refuses_stale_fill),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
