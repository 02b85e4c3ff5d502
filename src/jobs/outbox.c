/* The embedded job queue: the outbox table is the queue. */
#include "jobs/jobs.h"
#include "core/buf.h"
#include "core/ids.h"
#include "jobs/gearman.h"
#include "obs/log.h"
#include "obs/reqid.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kick_cond = PTHREAD_COND_INITIALIZER;
static unsigned kicks;

/* With Gearman (jobs_use_gearman): the IDs this thread enqueued, which the
 * next jobs_kick (after the commit) relays. One that did not commit is
 * relayed all the same, and skipped by the runner that finds no row; one
 * past RELAY_MAX is left to the runners' sweep. */
#define RELAY_MAX 64
static jobs_gearman_t *gearman;
static _Thread_local int64_t relay_ids[RELAY_MAX];
static _Thread_local size_t relay_n;

void jobs_use_gearman(jobs_gearman_t *g)
{
    gearman = g;
}

static int enqueue(db_conn_t *c, const char *kind, const char *payload, int64_t run_at_ms, unsigned shard,
                   int64_t serial, int64_t *id)
{
    *id = ids_next(ids_global(), shard);
    db_stmt_t *s = db_q(c, Q_JOB_INSERT);
    db_bind_i64(s, 1, *id);
    db_bind_cstr(s, 2, kind);
    db_bind_cstr(s, 3, payload);
    db_bind_i64(s, 4, run_at_ms);
    db_bind_i64(s, 5, serial);
    if (log_request_id != NULL) /* the request (or the job) that makes it */
        db_bind_cstr(s, 6, log_request_id);
    else
        db_bind_null(s, 6);
    if (db_exec_stmt(s) != DB_DONE)
        return DB_ERROR;
    if (gearman != NULL && relay_n < RELAY_MAX && run_at_ms <= ids_now_ms())
        relay_ids[relay_n++] = *id;
    return DB_DONE;
}

int jobs_enqueue_ex(db_conn_t *c, const char *kind, const char *payload, int64_t run_at_ms, unsigned shard, int64_t *id)
{
    return enqueue(c, kind, payload, run_at_ms, shard, 0, id);
}

int jobs_enqueue_serial(db_conn_t *c, unsigned shard, const char *kind, const char *payload, int64_t serial)
{
    int64_t id;
    return enqueue(c, kind, payload, ids_now_ms(), shard, serial, &id);
}

int jobs_enqueue_at(db_conn_t *c, const char *kind, const char *payload, int64_t run_at_ms)
{
    int64_t id;
    return jobs_enqueue_ex(c, kind, payload, run_at_ms, 0, &id);
}

void jobs_finish(db_conn_t *c, int64_t id)
{
    db_stmt_t *s = db_q(c, Q_JOB_DONE);
    db_bind_i64(s, 1, id);
    if (db_exec_stmt(s) != DB_DONE)
        log_warn("job %lld ran, but its row stays: it will run again", (long long)id);
}

void jobs_resume(db_conn_t *c, int64_t id, const char *payload)
{
    db_stmt_t *s = db_q(c, Q_JOB_CONTINUE);
    db_bind_i64(s, 1, id);
    db_bind_cstr(s, 2, payload);
    db_bind_i64(s, 3, ids_now_ms());
    if (db_exec_stmt(s) == DB_DONE)
        jobs_kick();
}

int jobs_enqueue(db_conn_t *c, unsigned shard, const char *kind, const char *payload)
{
    int64_t id;
    return jobs_enqueue_ex(c, kind, payload, ids_now_ms(), shard, &id);
}

long jobs_live(db_conn_t *c, const char *kind)
{
    db_stmt_t *s = db_q(c, Q_JOB_KIND_LIVE);
    db_bind_cstr(s, 1, kind);
    long n = db_step(s) == DB_ROW ? (long)db_col_i64(s, 0) : -1;
    db_reset(s);
    return n;
}

void jobs_kick(void)
{
    if (gearman != NULL && relay_n > 0) {
        jobs_gearman_relay(gearman, relay_ids, relay_n);
        relay_n = 0;
    }
    pthread_mutex_lock(&kick_lock);
    kicks++;
    pthread_cond_broadcast(&kick_cond);
    pthread_mutex_unlock(&kick_lock);
}

struct jobq {
    const dbmap_t *map;
    jobq_owner_t owner;
    const job_handler_t *handlers;
    size_t nhandlers;
    void *ctx;
    int nthreads;
    pthread_t *tids;
    atomic_int stopping;
    _Atomic uint64_t (*counts)[JOBQ_NOUTCOMES]; /* per handler */
};

static void count_outcome(jobq_t *q, const job_handler_t *h, int outcome)
{
    if (h != NULL)
        atomic_fetch_add_explicit(&q->counts[h - q->handlers][outcome], 1, memory_order_relaxed);
}

void jobq_counts(jobq_t *q, size_t i, uint64_t out[JOBQ_NOUTCOMES])
{
    for (int k = 0; k < JOBQ_NOUTCOMES; k++)
        out[k] = q != NULL && i < q->nhandlers ? atomic_load_explicit(&q->counts[i][k], memory_order_relaxed) : 0;
}

int jobs_stats(db_conn_t *c, int64_t now_ms, void (*fn)(const char *kind, const jobs_kind_stats_t *st, void *arg),
               void *arg)
{
    db_stmt_t *s = db_q(c, Q_JOB_STATS);
    db_bind_i64(s, 1, now_ms);
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        char kind[32];
        db_col_copy(s, 0, kind, sizeof(kind));
        jobs_kind_stats_t st = {.live = (long)db_col_i64(s, 1),
                                .due = (long)db_col_i64(s, 2),
                                .running = (long)db_col_i64(s, 3),
                                .oldest_due_ms = db_col_null(s, 4) ? 0 : db_col_i64(s, 4),
                                .dead = (long)db_col_i64(s, 5)};
        fn(kind, &st, arg);
    }
    db_reset(s);
    return rc == DB_DONE ? 0 : -1;
}

static const job_handler_t *handler_for(jobq_t *q, const char *kind)
{
    for (size_t i = 0; i < q->nhandlers; i++)
        if (strcmp(q->handlers[i].kind, kind) == 0)
            return &q->handlers[i];
    return NULL;
}

/* Takes one due job from c (the job `want`, or any if 0) and runs it.
 * Returns its outcome (JOB_DONE, JOB_CONTINUE or JOB_RETRY), NOT_RUN if
 * none was due, or TAKEN if another runner leased it first. */
#define NOT_RUN (-2)
#define TAKEN (-3)
static int run_one(jobq_t *q, db_ctx_t *db, db_conn_t *c, int64_t want)
{
    int64_t now = ids_now_ms();
    db_stmt_t *s = db_q(c, want ? Q_JOB_DUE : Q_JOB_NEXT);
    db_bind_i64(s, 1, now);
    if (want)
        db_bind_i64(s, 2, want);
    if (db_step(s) != DB_ROW) {
        db_reset(s);
        return NOT_RUN;
    }
    int64_t id = db_col_i64(s, 0);
    char kind[32], payload[JOB_PAYLOAD_MAX + 1];
    db_col_copy(s, 1, kind, sizeof(kind));
    db_col_copy(s, 2, payload, sizeof(payload));
    int attempts = (int)db_col_i64(s, 3);
    char rid[REQID_MAX + 1] = "";
    db_col_copy(s, 4, rid, sizeof(rid));
    db_reset(s);
    s = db_q(c, Q_JOB_LEASE);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, now + JOBS_LEASE_MS);
    db_bind_i64(s, 3, q->owner.id);
    db_bind_i64(s, 4, now);
    if (db_exec_stmt(s) != DB_DONE || c->drv->changes(c) == 0)
        return TAKEN;

    const job_handler_t *h = handler_for(q, kind);
    /* its log lines, and the jobs it makes, name the request that made it */
    log_request_id = rid[0] ? rid : NULL;
    db_unavailable_clear();
    int rc = h ? h->run(db, payload, h->ctx ? h->ctx : q->ctx) : JOB_RETRY;
    db_ctx_release(db);
    if (rc == JOB_RETRY && h && db_unavailable()) {
        /* a database it needs is down: not the job's fault, so no attempt
         * is counted (an outage of any length loses none); again soon */
        log_debug("job %lld (%s): a database is unavailable; it waits", (long long)id, kind);
        count_outcome(q, h, JOBQ_WAITED);
        s = db_q(c, Q_JOB_WAIT);
        db_bind_i64(s, 1, id);
        db_bind_i64(s, 2, ids_now_ms() + JOBS_WAIT_MS);
        db_bind_cstr(s, 3, "a database is unavailable");
    } else if (rc == JOB_DONE) {
        count_outcome(q, h, JOBQ_DONE);
        s = db_q(c, Q_JOB_DONE);
        db_bind_i64(s, 1, id);
    } else if (rc == JOB_CONTINUE) {
        count_outcome(q, h, JOBQ_CONTINUED);
        s = db_q(c, Q_JOB_CONTINUE);
        db_bind_i64(s, 1, id);
        db_bind_cstr(s, 2, payload);
        db_bind_i64(s, 3, ids_now_ms());
    } else {
        int64_t backoff = 1000LL << (attempts < 8 ? attempts : 8);
        if (backoff > 300000)
            backoff = 300000;
        bool dead = attempts + 1 >= JOBS_MAX_ATTEMPTS;
        count_outcome(q, h, dead ? JOBQ_DIED : JOBQ_RETRIED);
        log_warn("job %lld (%s %s) failed, attempt %d%s", (long long)id, kind, payload, attempts + 1,
                 dead ? ": giving up" : "");
        s = db_q(c, Q_JOB_RETRY);
        db_bind_i64(s, 1, id);
        db_bind_i64(s, 2, ids_now_ms() + backoff);
        db_bind_cstr(s, 3, h ? "handler failed" : "no handler for this kind");
        db_bind_i64(s, 4, dead);
    }
    if (db_exec_stmt(s) != DB_DONE) {
        /* release the lease so the job runs again (its handler is idempotent) */
        log_error("job %lld: cannot record its outcome; it will run again", (long long)id);
        s = db_q(c, Q_JOB_UNLEASE);
        db_bind_i64(s, 1, id);
        if (db_exec_stmt(s) != DB_DONE)
            log_error("job %lld: cannot release its lease until restart", (long long)id);
    }
    log_debug("job %lld (%s) ran: %s", (long long)id, kind,
              rc == JOB_DONE       ? "done"
              : rc == JOB_CONTINUE ? "continues"
                                   : "to run again");
    log_request_id = NULL; /* (rid is this frame's) */
    return rc;
}

/* The kicks so far: taken before a sweep, so that a kick that comes while
 * the sweep runs (a job committed after its query looked) ends the nap
 * that follows, rather than waiting out its 200 ms. */
static unsigned kicks_now(void)
{
    pthread_mutex_lock(&kick_lock);
    unsigned k = kicks;
    pthread_mutex_unlock(&kick_lock);
    return k;
}

/* Waits for a kick (jobs_kick) after the seen-th, or ms. */
static void poll_nap(jobq_t *q, unsigned seen, int ms)
{
    pthread_mutex_lock(&kick_lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    while (seen == kicks && !atomic_load(&q->stopping))
        if (pthread_cond_timedwait(&kick_cond, &kick_lock, &until) != 0)
            break;
    pthread_mutex_unlock(&kick_lock);
}

static bool may_run(jobq_t *q)
{
    return q->owner.ok == NULL || q->owner.ok(q->owner.arg);
}

/* One due job from each database. How many ran (or were taken by
 * another runner first: more may be due, so no nap). */
static int sweep(jobq_t *q, db_ctx_t *db)
{
    int ran = 0;
    for (size_t i = 0; may_run(q) && i < dbmap_count(q->map); i++) {
        db_conn_t *c = db_physical(db, i);
        if (c != NULL && run_one(q, db, c, 0) != NOT_RUN)
            ran++;
    }
    db_ctx_release(db);
    return ran;
}

typedef struct runner {
    jobq_t *q;
    db_ctx_t *db;
} runner_t;

/* A job handed over by Gearman: run on its database (its ID's shard's;
 * failing that, a periodic job's, any), and run on while it continues. */
static void run_handed(void *arg, int64_t id)
{
    runner_t *r = arg;
    if (!may_run(r->q))
        return; /* the sweep of a process that may runs it */
    db_conn_t *home = db_shard(r->db, ids_shard(id)), *at = home;
    int rc = home != NULL ? run_one(r->q, r->db, home, id) : NOT_RUN;
    /* not there: elsewhere? (TAKEN: there, and another runner's) */
    for (size_t i = 0; rc == NOT_RUN && i < dbmap_count(r->q->map); i++) {
        at = db_physical(r->db, i);
        if (at != NULL && at != home)
            rc = run_one(r->q, r->db, at, id);
    }
    while (rc == JOB_CONTINUE && !atomic_load(&r->q->stopping) && may_run(r->q))
        rc = run_one(r->q, r->db, at, id);
    db_ctx_release(r->db);
}

/* With Gearman: handed jobs as they come, and a sweep of every database
 * at least every JOBS_SWEEP_MS (and on until it finds nothing). */
static void runner_gearman(jobq_t *q, db_ctx_t *db)
{
    runner_t r = {q, db};
    jobs_gearman_worker_t *w = jobs_gearman_worker_new(gearman, run_handed, &r);
    int64_t swept = 0;
    while (!atomic_load(&q->stopping)) {
        int64_t now = ids_now_ms();
        unsigned seen = kicks_now();
        if (w == NULL || now - swept >= JOBS_SWEEP_MS) {
            if (sweep(q, db) > 0)
                continue;
            swept = now;
        }
        if (w != NULL)
            jobs_gearman_work(w, 200);
        else /* no worker could be made: the sweep alone, as embedded */
            poll_nap(q, seen, 200);
    }
    jobs_gearman_worker_free(w);
}

static void *runner_main(void *arg)
{
    jobq_t *q = arg;
    db_ctx_t *db = db_ctx_new(q->map);
    if (gearman != NULL) {
        runner_gearman(q, db);
        db_ctx_free(db);
        return NULL;
    }
    while (!atomic_load(&q->stopping)) {
        unsigned seen = kicks_now();
        if (sweep(q, db) > 0)
            continue;
        poll_nap(q, seen, 200); /* idle: until a kick, or 200 ms (retries come due) */
    }
    db_ctx_free(db);
    return NULL;
}

jobq_t *jobq_start(const dbmap_t *map, int nthreads, const job_handler_t *handlers, size_t n, void *ctx,
                   jobq_owner_t owner)
{
    jobq_t *q = xcalloc(1, sizeof(*q));
    q->map = map;
    q->owner = owner;
    q->handlers = handlers;
    q->nhandlers = n;
    q->ctx = ctx;
    q->nthreads = nthreads;
    q->counts = xcalloc(n ? n : 1, sizeof(*q->counts));
    q->tids = xcalloc((size_t)nthreads, sizeof(pthread_t));
    for (int i = 0; i < nthreads; i++)
        pthread_create(&q->tids[i], NULL, runner_main, q);
    return q;
}

void jobq_stop(jobq_t *q)
{
    if (q == NULL)
        return;
    atomic_store(&q->stopping, 1);
    jobs_kick();
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->tids[i], NULL);
    free(q->tids);
    free(q->counts);
    free(q);
}

long jobs_pending(db_ctx_t *db)
{
    long total = 0;
    for (size_t i = 0; i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL)
            return -1;
        db_stmt_t *s = db_q(c, Q_JOB_PENDING);
        int rc = db_step(s);
        total += rc == DB_ROW ? (long)db_col_i64(s, 0) : 0;
        db_reset(s);
        if (rc != DB_ROW)
            return -1;
    }
    return total;
}
