#include "model/nodes.h"
#include "core/buf.h"
#include "core/ids.h"
#include "obs/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct nodes {
    const dbmap_t *map;
    int want;
    unsigned node;
    int64_t owner;
    char holder[300];
    atomic_llong ok_until; /* monotonic ms up to which the lease holds */
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether holder names a process of this host that is gone (or this very
 * process's pid, left by a dead one before it). */
static bool holder_dead(const char *holder)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    size_t hl = strlen(host);
    if (strncmp(holder, host, hl) != 0 || holder[hl] != ':')
        return false;
    long pid = strtol(holder + hl + 1, NULL, 10);
    if (pid <= 0)
        return false;
    return pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

/* Frees the job leases owner held, on every database. */
static void free_job_leases(db_ctx_t *db, int64_t owner)
{
    for (size_t i = 0; i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL)
            continue;
        db_stmt_t *s = db_q(c, Q_JOB_UNLEASE_OWNER);
        db_bind_i64(s, 1, owner);
        db_exec_stmt(s);
    }
}

/* Tries to take node k. 1 taken, 0 held by another, -1 on error (with err). */
static int try_take(nodes_t *n, db_ctx_t *db, unsigned k, char *err, size_t errlen)
{
    db_conn_t *c = db_physical(db, 0);
    if (c == NULL) {
        snprintf(err, errlen, "cannot open the first database to lease an ID node");
        return -1;
    }
    int64_t now = ids_now_ms(), until = now + NODES_LEASE_MS;
    db_stmt_t *s = db_q(c, Q_NODE_CLAIM);
    db_bind_i64(s, 1, k);
    db_bind_cstr(s, 2, n->holder);
    db_bind_i64(s, 3, n->owner);
    db_bind_i64(s, 4, until);
    if (db_exec_stmt(s) != DB_DONE)
        goto fail;
    if (c->drv->changes(c) == 1)
        return 1;
    s = db_q(c, Q_NODE_GET);
    db_bind_i64(s, 1, k);
    int st = db_step(s);
    char holder[300] = "";
    int64_t old_owner = 0, old_until = 0;
    if (st == DB_ROW) {
        db_col_copy(s, 0, holder, sizeof(holder));
        old_owner = db_col_i64(s, 1);
        old_until = db_col_i64(s, 2);
    }
    db_reset(s);
    if (st != DB_ROW)
        goto fail;
    bool dead = holder_dead(holder);
    if (old_until >= now && !dead) {
        snprintf(err, errlen, "ID node %u is held by %s for %lld ms more", k, holder, (long long)(old_until - now));
        return 0;
    }
    s = db_q(c, Q_NODE_TAKE);
    db_bind_i64(s, 1, k);
    db_bind_cstr(s, 2, n->holder);
    db_bind_i64(s, 3, n->owner);
    db_bind_i64(s, 4, until);
    db_bind_i64(s, 5, old_owner);
    if (db_exec_stmt(s) != DB_DONE)
        goto fail;
    if (c->drv->changes(c) != 1)
        return 0; /* another process took it first */
    if (dead)
        free_job_leases(db, old_owner); /* its work is nobody's now */
    return 1;
fail:
    snprintf(err, errlen, "cannot lease an ID node on %s: %s", dbmap_url(n->map, 0), c->drv->errmsg(c));
    return -1;
}

static int take_any(nodes_t *n, db_ctx_t *db, char *err, size_t errlen)
{
    unsigned lo = n->want >= 0 ? (unsigned)n->want : 0, hi = n->want >= 0 ? (unsigned)n->want : IDS_NODES - 1;
    for (unsigned k = lo; k <= hi; k++) {
        int64_t t0 = mono_ms();
        int rc = try_take(n, db, k, err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            n->node = k;
            atomic_store(&n->ok_until, t0 + NODES_LEASE_MS - NODES_RENEW_MS);
            ids_gen_set_node(ids_global(), k);
            return 0;
        }
    }
    if (n->want < 0)
        snprintf(err, errlen, "every ID node (0-%u) is held by a live process", IDS_NODES - 1);
    return -1;
}

static void *renew_main(void *arg)
{
    nodes_t *n = arg;
    db_ctx_t *db = db_ctx_new(n->map);
    int64_t last = mono_ms(), told = 0; /* the last renewal, and the map epoch it reported */
    pthread_mutex_lock(&n->lock);
    while (!n->stopping) {
        /* every NODES_RENEW_MS, and within a second of this process taking
         * a new shard map (a move waits for every process to report it) */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&n->cond, &n->lock, &until);
        if (n->stopping)
            break;
        int64_t epoch = dbmap_epoch(n->map);
        if (mono_ms() - last < NODES_RENEW_MS && epoch == told)
            continue;
        pthread_mutex_unlock(&n->lock);
        int64_t t0 = last = mono_ms();
        db_conn_t *c = db_physical(db, 0);
        int rc = -1;
        if (c != NULL) {
            db_stmt_t *s = db_q(c, Q_NODE_RENEW);
            db_bind_i64(s, 1, n->node);
            db_bind_i64(s, 2, n->owner);
            db_bind_i64(s, 3, ids_now_ms() + NODES_LEASE_MS);
            db_bind_i64(s, 4, epoch);
            rc = db_exec_stmt(s) == DB_DONE ? (int)c->drv->changes(c) : -1;
        }
        if (rc == 1)
            told = epoch;
        char err[300];
        if (rc == 1) {
            atomic_store(&n->ok_until, t0 + NODES_LEASE_MS - NODES_RENEW_MS);
        } else if (rc == 0) { /* another process took the node: this one was thought dead */
            atomic_store(&n->ok_until, 0);
            log_error("ID node %u was taken over by another process; taking another", n->node);
            if (take_any(n, db, err, sizeof(err)) != 0)
                log_error("%s", err);
        } else {
            log_warn("cannot renew the lease of ID node %u; writes stop if it runs out", n->node);
        }
        db_ctx_release(db);
        pthread_mutex_lock(&n->lock);
    }
    pthread_mutex_unlock(&n->lock);
    db_ctx_free(db);
    return NULL;
}

nodes_t *nodes_claim(const dbmap_t *map, int want, char *err, size_t errlen)
{
    nodes_t *n = xcalloc(1, sizeof(*n));
    n->map = map;
    n->want = want;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(n->holder, sizeof(n->holder), "%s:%ld", host, (long)getpid());
    randombytes_buf(&n->owner, sizeof(n->owner));
    n->owner = (n->owner & INT64_MAX) | 1;
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->cond, NULL);
    db_ctx_t *db = db_ctx_new(map);
    int rc = take_any(n, db, err, errlen);
    db_ctx_free(db);
    if (rc != 0) {
        pthread_mutex_destroy(&n->lock);
        pthread_cond_destroy(&n->cond);
        free(n);
        return NULL;
    }
    pthread_create(&n->tid, NULL, renew_main, n);
    return n;
}

void nodes_release(nodes_t *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->lock);
    n->stopping = true;
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
    pthread_join(n->tid, NULL);
    db_ctx_t *db = db_ctx_new(n->map);
    db_conn_t *c = db_physical(db, 0);
    if (c != NULL) {
        db_stmt_t *s = db_q(c, Q_NODE_RELEASE);
        db_bind_i64(s, 1, n->node);
        db_bind_i64(s, 2, n->owner);
        db_exec_stmt(s);
    }
    db_ctx_free(db);
    pthread_mutex_destroy(&n->lock);
    pthread_cond_destroy(&n->cond);
    free(n);
}

unsigned nodes_node(const nodes_t *n)
{
    return n->node;
}

int64_t nodes_owner(const nodes_t *n)
{
    return n->owner;
}

bool nodes_ok(nodes_t *n)
{
    return n == NULL || mono_ms() < atomic_load(&n->ok_until);
}

bool nodes_shared(nodes_t *n)
{
    db_ctx_t *db = db_ctx_new(n->map);
    db_conn_t *c = db_physical(db, 0);
    bool shared = true; /* when in doubt */
    if (c != NULL) {
        db_stmt_t *s = db_q(c, Q_NODES_LIVE);
        db_bind_i64(s, 1, ids_now_ms());
        db_bind_i64(s, 2, n->owner);
        if (db_step(s) == DB_ROW)
            shared = db_col_i64(s, 0) > 0;
        db_reset(s);
    }
    db_ctx_free(db);
    return shared;
}
