/* The embedded job queue: jobs commit and roll back with the write that
 * enqueues them; runners run, continue and retry them; leases found at
 * start are released. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ids.h"
#include "db/db.h"
#include "jobs/jobs.h"

static char dir[64], url[128];
static atomic_int runs, steps_seen;

static int setup(void **state)
{
    strcpy(dir, "/tmp/picogram-jobtest-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(url, sizeof(url), "sqlite:%s/j.db", dir);
    atomic_store(&runs, 0);
    atomic_store(&steps_seen, 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static db_ctx_t *open_db(dbmap_t **map)
{
    char err[256];
    *map = dbmap_new(url, "normal", err, sizeof(err));
    db_ctx_t *db = db_ctx_new(*map);
    int from, to;
    assert_int_equal(db_migrate(db_physical(db, 0), &from, &to, err, sizeof(err)), 0);
    return db;
}

static int count_job(db_ctx_t *db, char *payload, void *ctx)
{
    atomic_fetch_add(&runs, 1);
    return JOB_DONE;
}

/* Counts down in its payload: "3" -> "2" -> "1" -> "0" -> done. */
static int step_job(db_ctx_t *db, char *payload, void *ctx)
{
    int left = atoi(payload);
    atomic_fetch_add(&steps_seen, 1);
    if (left == 0)
        return JOB_DONE;
    snprintf(payload, JOB_PAYLOAD_MAX + 1, "%d", left - 1);
    return JOB_CONTINUE;
}

static int fail_job(db_ctx_t *db, char *payload, void *ctx)
{
    atomic_fetch_add(&runs, 1);
    return JOB_RETRY;
}

/* Records the order jobs of a serial key start in, and whether two ever ran at once. */
static atomic_int in_flight, overlapped, order_at;
static char order[64];

static int serial_job(db_ctx_t *db, char *payload, void *ctx)
{
    if (atomic_fetch_add(&in_flight, 1) != 0)
        atomic_store(&overlapped, 1);
    int at = atomic_fetch_add(&order_at, 1);
    if (at < (int)sizeof(order) - 1)
        order[at] = payload[0];
    usleep(20000); /* long enough for a second runner to try the next one */
    atomic_fetch_sub(&in_flight, 1);
    return JOB_DONE;
}

static const job_handler_t handlers[] = {
    {"count", count_job, NULL}, {"step", step_job, NULL}, {"fail", fail_job, NULL}, {"serial", serial_job, NULL}};

static void wait_for(db_ctx_t *db, long pending)
{
    for (int i = 0; i < 500 && jobs_pending(db) != pending; i++)
        usleep(10000);
    assert_int_equal(jobs_pending(db), pending);
}

static void test_outbox_is_transactional(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = open_db(&map);
    db_conn_t *c = db_physical(db, 0);
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(jobs_enqueue(c, 3, "count", "x"), DB_DONE);
    assert_int_equal(db_rollback(c), DB_OK);
    assert_int_equal(jobs_pending(db), 0); /* rolled back with its write */
    assert_int_equal(db_begin(c), DB_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(jobs_enqueue(c, 3, "count", "x"), DB_DONE);
    assert_int_equal(db_commit(c), DB_OK);
    assert_int_equal(jobs_pending(db), 5);
    jobq_t *q = jobq_start(map, 2, handlers, 4, NULL, (jobq_owner_t){.id = 1});
    jobs_kick();
    wait_for(db, 0);
    jobq_stop(q);
    assert_int_equal(atomic_load(&runs), 5); /* each exactly once */
    db_ctx_free(db);
    dbmap_free(map);
}

static void collect_fail(const char *kind, const jobs_kind_stats_t *st, void *arg)
{
    if (strcmp(kind, "fail") == 0)
        *(jobs_kind_stats_t *)arg = *st;
}

static void test_continue_and_retry(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = open_db(&map);
    db_conn_t *c = db_physical(db, 0);
    assert_int_equal(jobs_enqueue(c, 3, "step", "3"), DB_DONE);
    assert_int_equal(jobs_enqueue(c, 3, "fail", "x"), DB_DONE);
    jobq_t *q = jobq_start(map, 1, handlers, 4, NULL, (jobq_owner_t){.id = 1});
    wait_for(db, 1); /* the step job finishes; the failing one stays */
    uint64_t n[JOBQ_NOUTCOMES];
    jobq_counts(q, 1, n); /* step: three steps, then done */
    assert_int_equal(n[JOBQ_CONTINUED], 3);
    assert_int_equal(n[JOBQ_DONE], 1);
    assert_int_equal(n[JOBQ_RETRIED] + n[JOBQ_DIED] + n[JOBQ_WAITED], 0);
    jobq_counts(q, 2, n); /* fail: tried, to be retried */
    assert_true(n[JOBQ_RETRIED] >= 1);
    assert_int_equal(n[JOBQ_DONE], 0);
    jobq_stop(q);
    assert_int_equal(atomic_load(&steps_seen), 4);
    assert_true(atomic_load(&runs) >= 1 && atomic_load(&runs) <= 2); /* backed off after the first try */
    /* the outbox's numbers: the failed job waits out its backoff, not dead */
    jobs_kind_stats_t st = {0};
    assert_int_equal(jobs_stats(c, 0, collect_fail, &st), 0); /* at time 0, nothing is due yet */
    assert_int_equal(st.live, 1);
    assert_int_equal(st.due, 0);
    assert_int_equal(st.oldest_due_ms, 0);
    memset(&st, 0, sizeof(st));
    assert_int_equal(jobs_stats(c, INT64_MAX / 2, collect_fail, &st), 0); /* much later, it is */
    assert_int_equal(st.live, 1);
    assert_int_equal(st.due, 1);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.dead, 0);
    assert_true(st.oldest_due_ms > ids_now_ms() - 60000);
    db_ctx_free(db);
    dbmap_free(map);
}

static void test_stale_lease_released(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = open_db(&map);
    db_conn_t *c = db_physical(db, 0);
    assert_int_equal(jobs_enqueue(c, 3, "count", "x"), DB_DONE);
    /* a process died holding the lease */
    assert_int_equal(c->drv->exec(c, "UPDATE jobs SET leased = 1", NULL, 0), 0);
    jobq_t *q = jobq_start(map, 1, handlers, 4, NULL, (jobq_owner_t){.id = 1});
    wait_for(db, 0);
    jobq_stop(q);
    assert_int_equal(atomic_load(&runs), 1);
    db_ctx_free(db);
    dbmap_free(map);
}

/* Jobs of one serial key run one at a time and in the order they were
 * made, on four runners; other keys' jobs run beside them. */
static void test_serial_jobs_in_order(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = open_db(&map);
    db_conn_t *c = db_physical(db, 0);
    memset(order, 0, sizeof(order));
    atomic_store(&order_at, 0);
    atomic_store(&overlapped, 0);
    const char *seq = "abcdefgh";
    for (const char *p = seq; *p; p++) {
        char payload[2] = {*p, 0};
        assert_int_equal(jobs_enqueue_serial(c, 3, "serial", payload, 42), DB_DONE);
        usleep(1000); /* IDs, and so the order, by the millisecond */
    }
    assert_int_equal(jobs_enqueue(c, 3, "count", "x"), DB_DONE); /* no key: runs whenever */
    jobq_t *q = jobq_start(map, 4, handlers, 4, NULL, (jobq_owner_t){.id = 1});
    jobs_kick();
    wait_for(db, 0);
    jobq_stop(q);
    assert_int_equal(atomic_load(&overlapped), 0);
    assert_string_equal(order, seq);
    assert_int_equal(atomic_load(&runs), 1);
    db_ctx_free(db);
    dbmap_free(map);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outbox_is_transactional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_continue_and_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_lease_released, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serial_jobs_in_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
