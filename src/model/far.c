#include "model/far.h"
#include "core/buf.h"
#include "core/ids.h"
#include "model/discovery.h"
#include "model/graph.h"
#include "model/media.h"
#include "model/social.h"
#include "model/timeline.h"
#include "obs/log.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define FLUSH_STEPS 16 /* JOB_CONTINUE steps run inline after a commit; the runner does the rest */

void far_init(far_t *f, db_ctx_t *db)
{
    f->db = db;
    f->tx = NULL;
    f->owned = false;
    f->conflict = false;
    f->up = NULL;
    f->npending = 0;
    f->overflow = false;
    f->shard = 0;
    f->nfeeds = 0;
}

void far_feed_changed(far_t *f, int64_t user)
{
    if (f->nfeeds < FAR_FEEDS_MAX)
        f->feeds[f->nfeeds++] = user;
    else
        timeline_follow_done(user); /* not seen yet: a read before the commit may cache the old head */
}

int far_begin(far_t *f, unsigned shard)
{
    db_conn_t *c = db_shard(f->db, shard);
    if (c == NULL || db_begin(c) != DB_OK)
        return DB_ERROR;
    f->tx = c;
    f->shard = shard;
    return DB_OK;
}

static void kick(int64_t unused)
{
    (void)unused;
    jobs_kick();
}

int far_end(far_t *f, int rc)
{
    db_conn_t *c = f->tx;
    f->tx = NULL;
    if (c == NULL)
        return rc == 0 ? -1 : rc;
    if (rc != 0 || db_commit(c) != DB_OK) {
        f->conflict = c->conflict;
        db_rollback(c);
        f->npending = 0;
        f->nfeeds = 0;
        if (f->conflict && f->up)
            f->up->conflict = true;
        return rc != 0 ? rc : -1;
    }
    /* after the commit: in a write group, after the group's (db.h) */
    for (int i = 0; i < f->nfeeds; i++)
        db_after_commit(timeline_follow_done, f->feeds[i]);
    f->nfeeds = 0;
    db_after_commit(kick, 0);
    far_flush(f);
    return 0;
}

bool far_again(far_t *f, int *tries)
{
    if (!f->conflict || ++*tries >= FAR_TRIES)
        return false;
    /* a moment, different for each, so the two do not meet again */
    struct timespec ts = {0, (long)(randombytes_uniform(1000) + 200) * 1000L * *tries};
    nanosleep(&ts, NULL);
    return true;
}

static far_kind_t *kind_of(const char *kind)
{
    for (size_t i = 0; i < far_kind_count; i++)
        if (strcmp(far_kinds[i].kind, kind) == 0)
            return &far_kinds[i];
    return NULL;
}

/* Runs a handler to the end inside the caller's transaction. */
static int run_in_tx(far_t *f, far_kind_t *k, char *payload)
{
    for (int steps = 0; steps < 1000000; steps++) {
        int rc = k->fn(f, payload);
        if (rc != JOB_CONTINUE)
            return rc == JOB_DONE ? DB_DONE : DB_ERROR;
    }
    return DB_ERROR;
}

int far_do(far_t *f, const char *kind, unsigned shard, const char *fmt, ...)
{
    far_kind_t *k = kind_of(kind);
    if (k == NULL || f->tx == NULL) {
        log_error("far effect %s: %s", kind, k ? "no transaction open" : "unknown kind");
        return DB_ERROR;
    }
    char payload[JOB_PAYLOAD_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(payload, sizeof(payload), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(payload))
        return DB_ERROR;
    if (shard != FAR_ALL_SHARDS && db_shard(f->db, shard) == f->tx)
        return run_in_tx(f, k, payload); /* the same database: now, in this transaction */
    /* another database: an outbox job in this transaction, run after the commit */
    int64_t id;
    if (jobs_enqueue_ex(f->tx, kind, payload, ids_now_ms() + FAR_GRACE_MS, f->shard, &id) != DB_DONE)
        return DB_ERROR;
    if (f->npending == FAR_PENDING_MAX) {
        f->overflow = true; /* the runner will run it when it comes due */
        return DB_DONE;
    }
    far_pending_t *p = &f->pending[f->npending++];
    p->c = f->tx;
    p->job_id = id;
    snprintf(p->kind, sizeof(p->kind), "%s", kind);
    memcpy(p->payload, payload, (size_t)n + 1);
    return DB_DONE;
}

static atomic_bool no_inline;

void far_set_inline(bool on)
{
    atomic_store(&no_inline, !on);
}

void far_flush(far_t *f)
{
    int n = f->npending;
    f->npending = 0;
    if (atomic_load(&no_inline))
        n = 0; /* the runner runs them when they come due */
    if (f->overflow)
        jobs_kick();
    f->overflow = false;
    for (int i = 0; i < n; i++) {
        far_pending_t *p = &f->pending[i];
        far_kind_t *k = kind_of(p->kind);
        far_t run;
        int rc = JOB_CONTINUE, tries = 0;
        for (int step = 0; rc == JOB_CONTINUE && step < FLUSH_STEPS; step++) {
            do { /* a handler is a reconcile: a conflicted run is run again */
                far_init(&run, f->db);
                rc = k->fn(&run, p->payload);
            } while (rc == JOB_RETRY && far_again(&run, &tries));
        }
        db_ctx_release(f->db);
        if (rc == JOB_DONE)
            jobs_finish(p->c, p->job_id);
        else if (rc == JOB_CONTINUE)
            jobs_resume(p->c, p->job_id, p->payload); /* progress saved: the runner goes on now */
        /* JOB_RETRY: the runner runs it when it comes due */
    }
}

far_t *far_enter(far_t *f, unsigned shard, far_t *own)
{
    if (f->tx != NULL && db_shard(f->db, shard) == f->tx)
        return f;
    far_init(own, f->db);
    own->owned = true;
    own->up = f;
    return far_begin(own, shard) == DB_OK ? own : NULL;
}

int far_leave(far_t *h, int rc)
{
    if (!h->owned)
        return rc;
    bool keep = rc == JOB_DONE || rc == JOB_CONTINUE;
    return far_end(h, keep ? 0 : -1) == 0 ? rc : JOB_RETRY;
}

static int far_job(db_ctx_t *db, char *payload, void *ctx)
{
    const far_kind_t *k = ctx;
    far_t f;
    far_init(&f, db);
    return k->fn(&f, payload);
}

void far_job_handlers(job_handler_t *out, size_t *n)
{
    for (size_t i = 0; i < far_kind_count; i++)
        out[(*n)++] = (job_handler_t){far_kinds[i].kind, far_job, &far_kinds[i]};
}

far_kind_t far_kinds[] = {
    {"edge", far_edge},   {"sever", far_sever}, {"liked", far_liked},   {"mention", far_mention},
    {"tag", far_tag},     {"place", far_place}, {"celeb", far_celeb},   {"media_gone", far_media_gone},
};
const size_t far_kind_count = sizeof(far_kinds) / sizeof(far_kinds[0]);
