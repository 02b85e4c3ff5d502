/* The embedded object cache: hits and misses, CLOCK eviction within the
 * byte bound, tables that grow, batched reads, invalidation, and fills
 * refused after an invalidation; and the shared services' URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache/cache.h"
#include "cache/url.h"

/* A ticket taken now, for the calls that fill. */
static const cache_ticket_t *tk(cache_t *c)
{
    static _Thread_local cache_ticket_t t;
    t = cache_ticket(c);
    return &t;
}

static void test_get_set_del(void **state)
{
    cache_t *c = cache_new(1 << 20);
    buf_t b;
    buf_init(&b, 1024);
    assert_false(cache_get(c, CACHE_USER, 1, &b));
    cache_set(c, CACHE_USER, 1, "alice", 5, tk(c));
    cache_set(c, CACHE_MEDIA, 1, "photo", 5, tk(c)); /* same id, other kind */
    assert_true(cache_get(c, CACHE_USER, 1, &b));
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "alice", 5);
    buf_reset(&b);
    assert_true(cache_get(c, CACHE_MEDIA, 1, &b));
    assert_memory_equal(b.data, "photo", 5);
    cache_set(c, CACHE_USER, 1, "alicia", 6, tk(c)); /* replace */
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
    cache_ticket_t t = cache_ticket(c);        /* a reader starts its snapshot */
    cache_del(c, CACHE_USER, 7);               /* a writer commits and invalidates */
    cache_set(c, CACHE_USER, 7, "old", 3, &t); /* the reader's old value */
    buf_t b;
    buf_init(&b, 64);
    assert_false(cache_get(c, CACHE_USER, 7, &b));
    cache_set(c, CACHE_USER, 7, "new", 3, tk(c));
    assert_true(cache_get(c, CACHE_USER, 7, &b));
    buf_free(&b);
    cache_free(c);
}

/* Deletes of other keys (a fan-out's, say) do not refuse a fill: only a
 * delete in the key's own hash bucket does. */
static void test_other_deletes_do_not_refuse(void **state)
{
    cache_t *c = cache_new(1 << 20);
    cache_ticket_t t = cache_ticket(c);
    for (int64_t id = 1000; id < 1100; id++)
        cache_del(c, CACHE_TIMELINE, id);
    cache_del(c, CACHE_USER, 8);
    cache_set(c, CACHE_USER, 7, "fresh", 5, &t);
    buf_t b;
    buf_init(&b, 64);
    assert_true(cache_get(c, CACHE_USER, 7, &b));
    /* and a fill racing a delete of its own key is still refused */
    t = cache_ticket(c);
    cache_del(c, CACHE_USER, 7);
    cache_set(c, CACHE_USER, 7, "stale", 5, &t);
    assert_false(cache_get(c, CACHE_USER, 7, &b));
    buf_free(&b);
    cache_free(c);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A stale short-TTL entry: one caller refills, the others get the old value
 * meanwhile (no stampede), and past the grace it is gone for all. */
static void test_stale_entry_has_one_refiller(void **state)
{
    cache_t *c = cache_new(1 << 20);
    buf_t b;
    buf_init(&b, 64);
    cache_set_ttl(c, CACHE_TIMELINE, 5, "old", 3, tk(c), 50);
    assert_true(cache_get_by(c, CACHE_TIMELINE, 5, &b, 1)); /* fresh: a hit for all */
    sleep_ms(80);
    assert_false(cache_get_by(c, CACHE_TIMELINE, 5, &b, 1)); /* stale: the first refills */
    b.len = 0;
    assert_true(cache_get_by(c, CACHE_TIMELINE, 5, &b, 2)); /* the others still get it */
    assert_memory_equal(b.data, "old", 3);
    assert_false(cache_get_by(c, CACHE_TIMELINE, 5, &b, 1)); /* the refiller, again (now on a worker) */
    assert_false(cache_get(c, CACHE_TIMELINE, 5, &b));       /* a caller outside leases: a miss */
    b.len = 0;
    assert_true(cache_get_by(c, CACHE_TIMELINE, 5, &b, 3));   /* and that took nobody's place */
    cache_set_ttl(c, CACHE_TIMELINE, 5, "new", 3, tk(c), 50); /* the refill */
    b.len = 0;
    assert_true(cache_get_by(c, CACHE_TIMELINE, 5, &b, 2));
    assert_memory_equal(b.data, "new", 3);
    sleep_ms(50 + CACHE_STALE_MS + 30); /* past the grace: a miss for all */
    assert_false(cache_get_by(c, CACHE_TIMELINE, 5, &b, 2));
    assert_false(cache_get_by(c, CACHE_TIMELINE, 5, &b, 1));
    buf_free(&b);
    cache_free(c);
}

typedef struct heard {
    int n, kind;
    int64_t id;
} heard_t;

static void hear(void *arg, int kind, int64_t id)
{
    heard_t *h = arg;
    h->n++, h->kind = kind, h->id = id;
}

/* What the invalidation bus (cache/bus.h) relies on: cache_del tells the
 * publisher and cache_del_local does not; a clear drops everything and
 * refuses fills from before it; off, nothing is served or stored. */
static void test_bus_hooks(void **state)
{
    cache_t *c = cache_new(1 << 20);
    heard_t h = {0};
    buf_t b;
    buf_init(&b, 64);
    cache_set_publisher(c, hear, &h);
    cache_set(c, CACHE_USER, 7, "x", 1, tk(c));
    cache_del(c, CACHE_USER, 7);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.kind, CACHE_USER);
    assert_int_equal(h.id, 7);
    cache_set(c, CACHE_USER, 7, "x", 1, tk(c));
    cache_del_local(c, CACHE_USER, 7);
    assert_int_equal(h.n, 1);
    assert_false(cache_get(c, CACHE_USER, 7, &b));

    cache_set(c, CACHE_USER, 1, "a", 1, tk(c));
    cache_set(c, CACHE_MEDIA, 2, "b", 1, tk(c));
    cache_ticket_t before = cache_ticket(c);
    cache_clear(c);
    assert_false(cache_get(c, CACHE_USER, 1, &b));
    assert_false(cache_get(c, CACHE_MEDIA, 2, &b));
    assert_int_equal(cache_stats(c).entries, 0);
    cache_set(c, CACHE_USER, 3, "c", 1, &before); /* a snapshot from before the clear */
    assert_false(cache_get(c, CACHE_USER, 3, &b));
    cache_set(c, CACHE_USER, 3, "c", 1, tk(c));
    assert_true(cache_get(c, CACHE_USER, 3, &b));

    cache_enable(c, false);
    assert_false(cache_enabled(c));
    assert_false(cache_get(c, CACHE_USER, 3, &b));
    cache_set(c, CACHE_USER, 4, "d", 1, tk(c));
    cache_enable(c, true);
    assert_false(cache_get(c, CACHE_USER, 4, &b));
    assert_true(cache_get(c, CACHE_USER, 3, &b)); /* off is not cleared: the bus clears when it comes back */
    buf_free(&b);
    cache_free(c);
}

static void test_bounded(void **state)
{
    cache_t *c = cache_new(1 << 20); /* 64 KiB per stripe */
    char val[1000];
    memset(val, 'x', sizeof(val));
    for (int64_t i = 1; i <= 20000; i++)
        cache_set(c, CACHE_MEDIA, i, val, sizeof(val), tk(c));
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

/* An entry read since it came in gets a second chance: when the bound is
 * reached, the entries nobody read go first (CLOCK), so a page's photos
 * read again and again stay while the ones read once go. */
static void test_read_entries_stay(void **state)
{
    (void)state;
    cache_t *c = cache_new(1 << 20); /* 64 KiB per stripe */
    char val[1000];
    memset(val, 'x', sizeof(val));
    buf_t b;
    buf_init(&b, 4096);
    for (int64_t i = 1; i <= 200; i++)
        cache_set(c, CACHE_MEDIA, i, val, sizeof(val), tk(c));
    for (int64_t i = 1; i <= 200; i += 2) { /* the odd ones are read */
        buf_reset(&b);
        assert_true(cache_get(c, CACHE_MEDIA, i, &b));
    }
    for (int64_t i = 1001; i <= 2000; i++) /* past the bound: some must go */
        cache_set(c, CACHE_MEDIA, i, val, sizeof(val), tk(c));
    int odd = 0, even = 0;
    for (int64_t i = 1; i <= 200; i++) {
        buf_reset(&b);
        if (cache_get(c, CACHE_MEDIA, i, &b))
            *(i % 2 ? &odd : &even) += 1;
    }
    /* every read one stayed; of the unread, fewer than half (a stripe
     * that came under less pressure keeps some); FIFO would lose alike */
    assert_int_equal(odd, 100);
    assert_true(even < 50);
    buf_free(&b);
    cache_free(c);
}

/* A big cache: its tables grow with it, and every entry is found. */
static void test_tables_grow(void **state)
{
    (void)state;
    cache_t *c = cache_new(256u << 20);
    for (int64_t i = 1; i <= 200000; i++)
        cache_set(c, CACHE_USER, i * 7919, &i, sizeof(i), tk(c));
    assert_int_equal(cache_stats(c).entries, 200000);
    buf_t b;
    buf_init(&b, 64);
    for (int64_t i = 1; i <= 200000; i += 997) {
        buf_reset(&b);
        assert_true(cache_get(c, CACHE_USER, i * 7919, &b));
        assert_int_equal(b.len, sizeof(i));
        assert_memory_equal(b.data, &i, sizeof(i));
    }
    cache_del(c, CACHE_USER, 7919);
    assert_false(cache_get(c, CACHE_USER, 7919, &b));
    buf_free(&b);
    cache_free(c);
}

typedef struct got {
    int64_t ids[16];
    char vals[16][8];
    int n;
} got_t;

static void got_one(void *arg, int64_t id, const void *val, size_t len)
{
    got_t *g = arg;
    assert_true(g->n < 16 && len <= 8);
    g->ids[g->n] = id;
    memcpy(g->vals[g->n++], val, len);
}

/* A batched read gives the fresh entries asked for, each with its value,
 * and nothing for the missing, deleted or stale ones. */
static void test_get_many(void **state)
{
    (void)state;
    cache_t *c = cache_new(1 << 20);
    for (int64_t i = 1; i <= 10; i++) {
        char v[24];
        snprintf(v, sizeof(v), "v%lld", (long long)i);
        cache_set(c, CACHE_USER, i, v, strlen(v) + 1, tk(c));
    }
    cache_del(c, CACHE_USER, 3);
    cache_set_ttl(c, CACHE_USER, 11, "old", 4, tk(c), 1);
    sleep_ms(5);
    int64_t ask[] = {1, 3, 5, 10, 11, 99};
    got_t g = {.n = 0};
    cache_get_many(c, CACHE_USER, ask, 6, got_one, &g);
    assert_int_equal(g.n, 3);
    for (int i = 0; i < g.n; i++) {
        char want[8];
        snprintf(want, sizeof(want), "v%lld", (long long)g.ids[i]);
        assert_string_equal(g.vals[i], want);
        assert_true(g.ids[i] == 1 || g.ids[i] == 5 || g.ids[i] == 10);
    }
    g.n = 0; /* another kind, same IDs: nothing */
    cache_get_many(c, CACHE_MEDIA, ask, 6, got_one, &g);
    assert_int_equal(g.n, 0);
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
            cache_set(c, CACHE_USER, id, "value", 5, tk(c));
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

/* Batched reads while other threads fill the tables (so they grow, and
 * the reads' first pass, which takes no lock, meets arrays being
 * replaced): every value found is the one set for its ID. */
static void found_right(void *arg, int64_t id, const void *val, size_t len)
{
    int64_t v;
    if (len != sizeof(v) || (memcpy(&v, val, sizeof(v)), v != id * 7))
        *(int *)arg = 1;
}

/* found_right, and counted: arg is {wrong, found} */
static void count_right(void *arg, int64_t id, const void *val, size_t len)
{
    int *counted = arg;
    found_right(&counted[0], id, val, len);
    counted[1]++;
}

static _Atomic bool filled; /* fill_many is done: the reads go on until then */

static void *fill_many(void *arg)
{
    cache_t *c = arg;
    for (int64_t id = 1; id <= 60000; id++) {
        int64_t v = id * 7;
        cache_set(c, CACHE_USER, id, &v, sizeof(v), tk(c));
    }
    atomic_store(&filled, true);
    return NULL;
}

/* (ASan catches a read of a replaced table freed too soon) */
static void *read_many(void *arg)
{
    cache_t *c = arg;
    int bad = 0;
    int64_t ask[600]; /* a page's hundred, and more than a batch holds on the stack */
    for (int round = 0; (round < 3000 || !atomic_load(&filled)) && !bad; round++) {
        int n = round % 4 == 3 ? 600 : 100;
        for (int i = 0; i < n; i++)
            ask[i] = 1 + (round * 131 + i * 617) % 60000;
        cache_get_many(c, CACHE_USER, ask, (size_t)n, found_right, &bad);
    }
    return bad ? (void *)1 : NULL;
}

static void test_get_many_while_growing(void **state)
{
    (void)state;
    cache_t *c = cache_new(64u << 20);
    pthread_t t[3];
    atomic_store(&filled, false);
    pthread_create(&t[1], NULL, read_many, c); /* the reads first: under way when the tables grow */
    pthread_create(&t[2], NULL, read_many, c);
    pthread_create(&t[0], NULL, fill_many, c);
    for (int i = 0; i < 3; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    int got = 0; /* all there at the end: the tables grew to hold them */
    int64_t ask[] = {1, 30000, 60000};
    cache_get_many(c, CACHE_USER, ask, 3, found_right, &got);
    assert_int_equal(got, 0);
    cache_stats_t st = cache_stats(c);
    assert_int_equal(st.entries, 60000);
    int64_t many[1000]; /* a batch larger than its stack arrays: every one found */
    for (int i = 0; i < 1000; i++)
        many[i] = 60000 - 59 * i;
    int counted[2] = {0, 0};
    cache_get_many(c, CACHE_USER, many, 1000, count_right, counted);
    assert_int_equal(counted[0], 0);
    assert_int_equal(counted[1], 1000);
    cache_free(c);
}

typedef struct seen {
    char hosts[4][256];
    int ports[4];
    int n;
} seen_t;

static int note_server(void *arg, const char *host, int port)
{
    seen_t *s = arg;
    if (s->n == 4)
        return -1;
    strcpy(s->hosts[s->n], host);
    s->ports[s->n++] = port;
    return 0;
}

static void test_urls(void **state)
{
    (void)state;
    seen_t s = {0};
    assert_int_equal(cache_memcached_url_parse("memcached://127.0.0.1:11211,cache-b:11212", note_server, &s), 2);
    assert_string_equal(s.hosts[0], "127.0.0.1");
    assert_int_equal(s.ports[0], 11211);
    assert_string_equal(s.hosts[1], "cache-b");
    assert_int_equal(s.ports[1], 11212);
    assert_int_equal(cache_memcached_url_parse("memcached://h:65535", NULL, NULL), 1);
    const char *bad[] = {"memcached://",         "memcached://h",
                         "memcached://:1",       "memcached://h:",
                         "memcached://h:0",      "memcached://h:65536",
                         "memcached://h:1x",     "memcached://h:1,",
                         "memcached://h:1,,h:2", "memcached://a/b:1",
                         "memcached://u@h:1",    "memcache://h:1",
                         "redis://h:1",          "local",
                         "memcached://h:1234567"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cache_memcached_url_parse(bad[i], NULL, NULL), -1);
    /* a callback's refusal is the parse's */
    seen_t full = {.n = 4};
    assert_int_equal(cache_memcached_url_parse("memcached://h:1", note_server, &full), -1);

    char host[16];
    int port = 0;
    assert_int_equal(redis_url_parse("redis://127.0.0.1:6379/", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6379);
    assert_int_equal(redis_url_parse("redis://a-very-long-host-name:1", host, sizeof(host), &port), -1);
    assert_int_equal(redis_url_parse("redis://h:0", host, sizeof(host), &port), -1);
    assert_int_equal(redis_url_parse("memcached://h:1", host, sizeof(host), &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_set_del),
        cmocka_unit_test(test_ticket_refuses_stale_fill),
        cmocka_unit_test(test_other_deletes_do_not_refuse),
        cmocka_unit_test(test_stale_entry_has_one_refiller),
        cmocka_unit_test(test_bus_hooks),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_read_entries_stay),
        cmocka_unit_test(test_tables_grow),
        cmocka_unit_test(test_get_many),
        cmocka_unit_test(test_get_many_while_growing),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
