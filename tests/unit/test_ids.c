#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"

static void test_layout(void **state)
{
    int64_t t = PICOGRAM_EPOCH_MS + 123456789;
    int64_t id = ids_make(t, 4321, 77);
    assert_true(id > 0);
    assert_int_equal(ids_shard(id), 4321);
    assert_int_equal(ids_seq(id), 77);
    assert_int_equal(ids_unix_ms(id), t);
}

static void test_ordering_over_time(void **state)
{
    ids_gen_t *g = ids_gen_new();
    int64_t prev = 0;
    for (int64_t ms = 0; ms < 5000; ms += 7) {
        int64_t id = ids_next_at(g, 9, PICOGRAM_EPOCH_MS + 1000000 + ms);
        assert_true(id > prev);
        assert_int_equal(ids_shard(id), 9);
        prev = id;
    }
    /* IDs of a later ms sort after any ID of an earlier ms, whatever the shard. */
    int64_t a = ids_next_at(g, 8191, PICOGRAM_EPOCH_MS + 2000000);
    int64_t b = ids_next_at(g, 0, PICOGRAM_EPOCH_MS + 2000001);
    assert_true(b > a);
    ids_gen_free(g);
}

static void test_nodes_never_collide(void **state)
{
    /* two generators (two processes) on different nodes, same shard, same ms */
    ids_gen_t *a = ids_gen_new(), *b = ids_gen_new();
    ids_gen_set_node(a, 1);
    ids_gen_set_node(b, 2);
    int64_t t = PICOGRAM_EPOCH_MS + 4242;
    int64_t seen[64];
    for (int i = 0; i < 32; i++) {
        seen[2 * i] = ids_next_at(a, 7, t);
        seen[2 * i + 1] = ids_next_at(b, 7, t);
        assert_int_equal(ids_node(seen[2 * i]), 1);
        assert_int_equal(ids_node(seen[2 * i + 1]), 2);
        assert_int_equal(ids_shard(seen[2 * i]), 7);
    }
    for (int i = 0; i < 64; i++)
        for (int j = i + 1; j < 64; j++)
            assert_true(seen[i] != seen[j]);
    ids_gen_free(a);
    ids_gen_free(b);
}

static void test_clock_backwards(void **state)
{
    ids_gen_t *g = ids_gen_new();
    int64_t t = PICOGRAM_EPOCH_MS + 50000000;
    int64_t a = ids_next_at(g, 3, t);
    int64_t b = ids_next_at(g, 3, t - 10000); /* clock stepped back 10 s */
    int64_t c = ids_next_at(g, 3, t - 9000);
    assert_true(b > a);
    assert_true(c > b);
    assert_int_equal(ids_unix_ms(b), t); /* stays on the last ms issued */
    int64_t d = ids_next_at(g, 3, t + 1);
    assert_true(d > c);
    ids_gen_free(g);
}

static void test_sequence_exhaustion(void **state)
{
    ids_gen_t *g = ids_gen_new();
    int64_t t = PICOGRAM_EPOCH_MS + 777777;
    int64_t prev = 0;
    /* 40 IDs in one ms: 16 fit, the rest borrow following ms. */
    for (int i = 0; i < 40; i++) {
        int64_t id = ids_next_at(g, 5, t);
        assert_true(id > prev);
        prev = id;
    }
    assert_int_equal(ids_unix_ms(prev), t + 2);
    assert_int_equal(ids_seq(prev), 40 - 2 * 16 - 1);
    /* When the clock catches up, IDs continue from the borrowed ms. */
    int64_t next = ids_next_at(g, 5, t + 1);
    assert_true(next > prev);
    ids_gen_free(g);
}

typedef struct {
    ids_gen_t *g;
    int64_t *out;
    int n;
    unsigned shard;
} job_t;

static void *gen_many(void *arg)
{
    job_t *j = arg;
    for (int i = 0; i < j->n; i++)
        j->out[i] = ids_next(j->g, j->shard);
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_concurrent_unique(void **state)
{
    enum { T = 4, N = 50000 };
    ids_gen_t *g = ids_gen_new();
    int64_t *all = calloc(T * N, sizeof(int64_t));
    pthread_t th[T];
    job_t jobs[T];
    for (int i = 0; i < T; i++) {
        jobs[i] = (job_t){g, all + i * N, N, 42};
        pthread_create(&th[i], NULL, gen_many, &jobs[i]);
    }
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    /* Each thread's IDs increase; across threads all are unique and on shard 42. */
    for (int i = 0; i < T; i++)
        for (int k = 1; k < N; k++)
            assert_true(jobs[i].out[k] > jobs[i].out[k - 1]);
    qsort(all, T * N, sizeof(int64_t), cmp64);
    for (int k = 0; k < T * N; k++) {
        assert_int_equal(ids_shard(all[k]), 42);
        if (k)
            assert_true(all[k] != all[k - 1]);
    }
    free(all);
    ids_gen_free(g);
}

static void test_parse(void **state)
{
    assert_int_equal(ids_parse("123", 3), 123);
    assert_int_equal(ids_parse("9223372036854775807", 19), INT64_MAX);
    assert_int_equal(ids_parse("9223372036854775808", 19), 0);
    assert_int_equal(ids_parse("", 0), 0);
    assert_int_equal(ids_parse("12a", 3), 0);
    assert_int_equal(ids_parse("-1", 2), 0);
    assert_int_equal(ids_parse("12345678901234567890", 20), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),           cmocka_unit_test(test_ordering_over_time),
        cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_nodes_never_collide),  cmocka_unit_test(test_sequence_exhaustion),
        cmocka_unit_test(test_concurrent_unique), cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
