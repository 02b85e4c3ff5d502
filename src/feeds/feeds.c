#include "feeds/feeds.h"
#include "core/buf.h"
#include "core/ids.h"
#include "model/graph.h"
#include "model/media.h"
#include "model/users.h"
#include "obs/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int feeds_init(feeds_t *f, const char *backend, int cap, long long celebrity, int batch)
{
    if (strcmp(backend, "sqlite") != 0)
        return -1;
    f->be = &feeds_backend_sqlite;
    f->cap = cap;
    f->celebrity = celebrity;
    f->batch = batch;
    return 0;
}

/* ---- the embedded backend: feed_items on the user's shard ---- */

static int exec_ids(db_conn_t *c, unsigned q, int64_t a, int64_t b, int64_t c3, int nargs)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, a);
    if (nargs > 1)
        db_bind_i64(s, 2, b);
    if (nargs > 2)
        db_bind_i64(s, 3, c3);
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

static int sq_push(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media)
{
    /* One transaction per database touched; users of one batch are usually
     * spread over all shards, which the embedded topology keeps in one file. */
    db_conn_t *c = n ? db_shard(db, ids_shard(users[0])) : NULL;
    if (n == 0)
        return 0;
    if (c == NULL || db_begin(c) != DB_OK)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        db_conn_t *uc = db_shard(db, ids_shard(users[i]));
        if (uc != c) { /* another database: its own statement, autocommit */
            rc = exec_ids(uc, Q_FEED_PUT, users[i], media, 0, 2);
            continue;
        }
        rc = exec_ids(c, Q_FEED_PUT, users[i], media, 0, 2);
        /* Trim now and then (1 push in 16 per user), so a timeline stays within
         * cap + a few without a delete on every push. */
        if (rc == 0 && ((uint64_t)(users[i] ^ media) & 15) == 0)
            rc = exec_ids(c, Q_FEED_TRIM, users[i], f->cap - 1, 0, 2);
    }
    if (rc != 0 || db_commit(c) != DB_OK) {
        db_rollback(c);
        return -1;
    }
    return 0;
}

/* IDs from a (user, max_id, min_id, limit) query, newest first. */
static int read_window(db_ctx_t *db, unsigned q, int64_t user, int64_t max_id, int64_t min_id, int limit, int64_t *out,
                       int *n)
{
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return -1;
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, max_id);
    db_bind_i64(s, 3, min_id);
    db_bind_i64(s, 4, limit);
    return db_read_ids(s, limit, out, n) == DB_DONE ? 0 : -1;
}

static int sq_read(feeds_t *f, db_ctx_t *db, int64_t user, int64_t max_id, int64_t min_id, int limit, int64_t *out,
                   int *n)
{
    return read_window(db, Q_FEED_READ, user, max_id, min_id, limit, out, n);
}

static int sq_is_built(feeds_t *f, db_ctx_t *db, int64_t user, bool *built)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return -1;
    db_stmt_t *s = db_q(c, Q_FEED_STATE_GET);
    db_bind_i64(s, 1, user);
    int rc = db_step(s);
    *built = rc == DB_ROW;
    db_reset(s);
    return rc == DB_ERROR ? -1 : 0;
}

static int sq_rebuild(feeds_t *f, db_ctx_t *db, int64_t user)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL || db_begin(c) != DB_OK)
        return -1;
    db_stmt_t *s = db_q(c, Q_FEED_REBUILD);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, f->cap);
    int rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    if (rc == 0)
        rc = exec_ids(c, Q_FEED_STATE_PUT, user, (int64_t)time(NULL), 0, 2);
    if (rc != 0 || db_commit(c) != DB_OK) {
        db_rollback(c);
        return -1;
    }
    return 0;
}

static int sq_add_author(feeds_t *f, db_ctx_t *db, int64_t user, int64_t author)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    return c ? exec_ids(c, Q_FEED_BACKFILL, user, author, f->cap, 3) : -1;
}

static int sq_remove_author(feeds_t *f, db_ctx_t *db, int64_t user, int64_t author)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    return c ? exec_ids(c, Q_FEED_REMOVE_AUTHOR, user, author, 0, 2) : -1;
}

static int sq_remove_media(feeds_t *f, db_ctx_t *db, int64_t media)
{
    for (size_t i = 0; i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL || exec_ids(c, Q_FEED_REMOVE_MEDIA, media, 0, 0, 1) != 0)
            return -1;
    }
    return 0;
}

const feeds_backend_t feeds_backend_sqlite = {
    .name = "sqlite",
    .push = sq_push,
    .read = sq_read,
    .is_built = sq_is_built,
    .rebuild = sq_rebuild,
    .add_author = sq_add_author,
    .remove_author = sq_remove_author,
    .remove_media = sq_remove_media,
};

/* ---- the home feed read ----
 * Posts made while their author had more than `celebrity` followers are
 * unfanned (media.fanned = 0, decided when the post is written) and read
 * from the followed authors at read time, whatever the author's count is
 * now; all others are in the timeline. */

/* The query for followed celebrities' posts: from the list of celebrities
 * while it is short (none, usually: then it costs one probe), else from
 * the accounts the reader follows. */
#define CELEB_FEW 64
static unsigned celeb_query(db_ctx_t *db, int64_t user)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return Q_FEED_CELEB_MEDIA;
    db_stmt_t *s = db_q(c, Q_CELEB_FEW);
    db_bind_i64(s, 1, CELEB_FEW);
    long n = db_step(s) == DB_ROW ? (long)db_col_i64(s, 0) : CELEB_FEW;
    db_reset(s);
    return n < CELEB_FEW ? Q_FEED_CELEB_MEDIA_FEW : Q_FEED_CELEB_MEDIA;
}

int feeds_home(feeds_t *f, db_ctx_t *db, int64_t user, int64_t max_id, int64_t min_id, int limit, int64_t *out,
               int *n)
{
    int64_t *a = xcalloc((size_t)limit, sizeof(int64_t)), *b = xcalloc((size_t)limit, sizeof(int64_t));
    int na = 0, nb = 0, rc = -1;
    if (f->be->read(f, db, user, max_id, min_id, limit, a, &na) == 0 &&
        read_window(db, celeb_query(db, user), user, max_id, min_id, limit, b, &nb) == 0) {
        int i = 0, j = 0;
        *n = 0;
        while (*n < limit && (i < na || j < nb)) {
            int64_t next = j >= nb || (i < na && a[i] >= b[j]) ? a[i] : b[j];
            if (i < na && a[i] == next)
                i++;
            if (j < nb && b[j] == next)
                j++;
            out[(*n)++] = next;
        }
        rc = 0;
    }
    free(a);
    free(b);
    return rc;
}

/* ---- jobs ---- */

static int fanout_job(db_ctx_t *db, char *payload, void *ctx)
{
    feeds_t *f = ctx;
    long long media, author, cursor;
    if (sscanf(payload, "%lld %lld %lld", &media, &author, &cursor) != 3)
        return JOB_RETRY;
    if (cursor == 0) {
        /* the author's own timeline first; then followers, unless the post
         * was made as a celebrity (then it is merged at read time) */
        media_t *m = xmalloc(sizeof(*m));
        int mrc = media_get(db, media, m);
        bool fanned = mrc == MEDIA_OK && m->fanned;
        free(m);
        if (mrc == MEDIA_NOT_FOUND)
            return JOB_DONE; /* deleted before its fan-out */
        int64_t self = author;
        if (mrc != MEDIA_OK || f->be->push(f, db, &self, 1, media) != 0)
            return JOB_RETRY;
        if (!fanned)
            return JOB_DONE;
        cursor = INT64_MAX;
    }
    int64_t *batch = xcalloc((size_t)f->batch, sizeof(int64_t));
    int n = 0, rc = JOB_RETRY;
    if (graph_list(db, GRAPH_FOLLOWED_BY, author, cursor, f->batch, batch, &n) == GRAPH_OK &&
        f->be->push(f, db, batch, (size_t)n, media) == 0) {
        rc = n < f->batch ? JOB_DONE : JOB_CONTINUE;
        if (rc == JOB_CONTINUE)
            snprintf(payload, JOB_PAYLOAD_MAX + 1, "%lld %lld %lld", media, author, (long long)batch[n - 1]);
    }
    free(batch);
    return rc;
}

static int follow_job(db_ctx_t *db, char *payload, void *ctx, bool add)
{
    feeds_t *f = ctx;
    long long user, author;
    if (sscanf(payload, "%lld %lld", &user, &author) != 2)
        return JOB_RETRY;
    if (add) /* posts made as a celebrity are left out: they are merged at read time */
        return f->be->add_author(f, db, user, author) == 0 ? JOB_DONE : JOB_RETRY;
    return f->be->remove_author(f, db, user, author) == 0 ? JOB_DONE : JOB_RETRY;
}

static int backfill_job(db_ctx_t *db, char *payload, void *ctx)
{
    return follow_job(db, payload, ctx, true);
}

static int unfeed_job(db_ctx_t *db, char *payload, void *ctx)
{
    return follow_job(db, payload, ctx, false);
}

static int unfeed_media_job(db_ctx_t *db, char *payload, void *ctx)
{
    feeds_t *f = ctx;
    long long media;
    if (sscanf(payload, "%lld", &media) != 1)
        return JOB_RETRY;
    return f->be->remove_media(f, db, media) == 0 ? JOB_DONE : JOB_RETRY;
}

const job_handler_t feeds_job_handlers[4] = {
    {"fanout", fanout_job, NULL},
    {"backfill", backfill_job, NULL},
    {"unfeed", unfeed_job, NULL},
    {"unfeed_media", unfeed_media_job, NULL},
};

int feeds_enqueue_fanout(db_conn_t *c, int64_t media, int64_t author)
{
    char p[JOB_PAYLOAD_MAX + 1];
    snprintf(p, sizeof(p), "%lld %lld 0", (long long)media, (long long)author);
    return jobs_enqueue(c, "fanout", p);
}

int feeds_enqueue_follow(db_conn_t *c, int64_t user, int64_t author, bool now_following)
{
    char p[JOB_PAYLOAD_MAX + 1];
    snprintf(p, sizeof(p), "%lld %lld", (long long)user, (long long)author);
    return jobs_enqueue(c, now_following ? "backfill" : "unfeed", p);
}

int feeds_enqueue_media_gone(db_conn_t *c, int64_t media)
{
    char p[JOB_PAYLOAD_MAX + 1];
    snprintf(p, sizeof(p), "%lld", (long long)media);
    return jobs_enqueue(c, "unfeed_media", p);
}
