#include "model/timeline.h"
#include "core/buf.h"
#include "core/ids.h"
#include "model/graph.h"
#include "model/media.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOWED_PAGE 1000
#define CELEBS_MAX 1000
#define FANOUT_SLICE_MS 250 /* fan-out work between two saves of its progress */

/* Newest first, merging sorted lists without repeats. */
typedef struct idlist {
    int64_t *id, *author;
    int n, cap;
} idlist_t;

static void list_init(idlist_t *l, int cap)
{
    l->id = xcalloc((size_t)cap + 1, sizeof(int64_t));
    l->author = xcalloc((size_t)cap + 1, sizeof(int64_t));
    l->n = 0;
    l->cap = cap;
}

static void list_free(idlist_t *l)
{
    free(l->id);
    free(l->author);
}

/* Inserts (id, author) keeping the list newest first and at most cap long. */
static void list_offer(idlist_t *l, int64_t id, int64_t author)
{
    int pos = l->n;
    while (pos > 0 && l->id[pos - 1] < id)
        pos--;
    if (pos > 0 && l->id[pos - 1] == id)
        return;
    if (pos >= l->cap)
        return;
    int last = l->n < l->cap ? l->n : l->cap - 1;
    memmove(&l->id[pos + 1], &l->id[pos], (size_t)(last - pos) * sizeof(int64_t));
    memmove(&l->author[pos + 1], &l->author[pos], (size_t)(last - pos) * sizeof(int64_t));
    l->id[pos] = id;
    l->author[pos] = author;
    if (l->n < l->cap)
        l->n++;
}

/* Runs query q (users {IDS $1}, ...) once per database for the users on
 * it, offering each row (media ID, and author from column 1 if with_author)
 * to out. bind adds the query's other parameters. */
typedef void (*bind_fn)(db_stmt_t *s, const void *arg);
static int gather(db_ctx_t *db, unsigned q, const int64_t *users, int n, bind_fn bind, const void *arg,
                  bool with_author, idlist_t *out)
{
    int64_t *group = xcalloc((size_t)n + 1, sizeof(int64_t));
    bool *done = xcalloc((size_t)n + 1, sizeof(bool));
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (done[i])
            continue;
        db_conn_t *c = db_shard(db, ids_shard(users[i]));
        if (c == NULL) {
            rc = -1;
            break;
        }
        int g = 0;
        for (int j = i; j < n; j++)
            if (!done[j] && db_shard(db, ids_shard(users[j])) == c)
                group[g++] = users[j], done[j] = true;
        db_stmt_t *s = db_q(c, q);
        db_bind_ids(s, 1, group, (size_t)g);
        bind(s, arg);
        int st;
        while ((st = db_step(s)) == DB_ROW)
            list_offer(out, db_col_i64(s, 0), with_author ? db_col_i64(s, 1) : 0);
        db_reset(s);
        rc = st == DB_ERROR ? -1 : 0;
    }
    free(group);
    free(done);
    return rc;
}

typedef struct window {
    int64_t max_id, min_id;
    int limit;
} window_t;

static void bind_window(db_stmt_t *s, const void *arg)
{
    const window_t *w = arg;
    db_bind_i64(s, 2, w->max_id);
    db_bind_i64(s, 3, w->min_id);
    db_bind_i64(s, 4, w->limit);
}

static void bind_limit(db_stmt_t *s, const void *arg)
{
    db_bind_i64(s, 2, *(const int *)arg);
}

/* Whether there is any celebrity at all (usually none): asked of the
 * database at most every CELEB_CHECK_MS per process; a new celebrity's
 * posts reach the feeds of those who follow them within that. */
#define CELEB_CHECK_MS 2000
static atomic_llong celeb_checked_ms = -CELEB_CHECK_MS - 1;
static atomic_bool celeb_any = true;
static atomic_uint celeb_gen; /* advanced by every new celebrity's post */

static bool any_celebrity(db_conn_t *c)
{
    int64_t now = ids_now_ms();
    if (now - atomic_load(&celeb_checked_ms) < CELEB_CHECK_MS)
        return atomic_load(&celeb_any);
    unsigned gen = atomic_load(&celeb_gen);
    db_stmt_t *s = db_q(c, Q_CELEB_ANY);
    int rc = db_step(s);
    bool any = rc != DB_ROW || db_col_i64(s, 0) > 0; /* when in doubt, look */
    db_reset(s);
    if (rc == DB_ROW && gen == atomic_load(&celeb_gen)) { /* not if a post came while we looked */
        atomic_store(&celeb_any, any);
        atomic_store(&celeb_checked_ms, now);
    }
    return any;
}

/* The celebrities user follows, from the list on user's database. */
static int followed_celebs(db_ctx_t *db, int64_t user, int64_t *out, int *n)
{
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return -1;
    if (!any_celebrity(c))
        return 0;
    db_stmt_t *s = db_q(c, Q_CELEB_FOLLOWED);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, CELEBS_MAX);
    return db_read_ids(s, CELEBS_MAX, out, n) == DB_DONE ? 0 : -1;
}

int64_t timeline_celebrity_gen(void)
{
    return atomic_load(&celeb_gen);
}

void timeline_celebrity_posted(void)
{
    atomic_fetch_add(&celeb_gen, 1);
    atomic_store(&celeb_any, true);
    atomic_store(&celeb_checked_ms, -CELEB_CHECK_MS - 1);
}

/* What user's timeline holds, from the database: their own photos, fanned
 * or not, and the recent fanned photos of everyone they follow, newest
 * first, at most f->cap (into all, made with that cap). */
static int pull(feeds_t *f, db_ctx_t *db, int64_t user, idlist_t *all)
{
    int64_t *ids = xcalloc(FOLLOWED_PAGE + 1, sizeof(int64_t));
    int n = 0, rc = media_ids_by_user(db, user, INT64_MAX, 0, f->cap, ids, &n) == MEDIA_OK ? 0 : -1;
    for (int i = 0; rc == 0 && i < n; i++)
        list_offer(all, ids[i], user);
    /* everyone they follow, a page of followees at a time */
    int64_t before = INT64_MAX;
    while (rc == 0) {
        n = 0;
        if (graph_list(db, GRAPH_FOLLOWS, user, before, FOLLOWED_PAGE, ids, &n) != GRAPH_OK) {
            rc = -1;
            break;
        }
        if (n > 0)
            rc = gather(db, Q_MEDIA_RECENT_OF, ids, n, bind_limit, &f->cap, true, all);
        if (n < FOLLOWED_PAGE)
            break;
        before = ids[n - 1];
    }
    free(ids);
    return rc;
}

/* The store's page of user's timeline. A timeline the store lost is
 * rebuilt first; with the store down, the page is pulled from the
 * database instead (slower, never an error of its own). */
static int read_timeline(feeds_t *f, db_ctx_t *db, int64_t user, int64_t max_id, int64_t min_id, int limit,
                         int64_t *out, int *n)
{
    int rc = f->be->read(f, db, user, max_id, min_id, limit, out, n);
    if (rc == FEEDS_NOT_BUILT) {
        rc = timeline_rebuild(f, db, user);
        if (rc == FEEDS_OK)
            rc = f->be->read(f, db, user, max_id, min_id, limit, out, n);
        if (rc == FEEDS_NOT_BUILT) /* lost again at once: serve what it holds */
            rc = FEEDS_OK;
    }
    if (rc != FEEDS_DOWN)
        return rc == FEEDS_OK ? 0 : -1;
    idlist_t all;
    list_init(&all, f->cap);
    rc = pull(f, db, user, &all);
    *n = 0;
    for (int i = 0; rc == 0 && i < all.n && *n < limit; i++)
        if (all.id[i] < max_id && all.id[i] > min_id)
            out[(*n)++] = all.id[i];
    list_free(&all);
    return rc;
}

int timeline_home(feeds_t *f, db_ctx_t *db, int64_t user, int64_t max_id, int64_t min_id, int limit, int64_t *out,
                  int *n, bool *merged)
{
    idlist_t all;
    list_init(&all, limit);
    int64_t *ids = xcalloc((size_t)(limit > CELEBS_MAX ? limit : CELEBS_MAX), sizeof(int64_t));
    int k = 0, rc = read_timeline(f, db, user, max_id, min_id, limit, ids, &k);
    for (int i = 0; rc == 0 && i < k; i++)
        list_offer(&all, ids[i], 0);
    if (rc == 0)
        rc = followed_celebs(db, user, ids, &k);
    if (merged)
        *merged = rc == 0 && k > 0;
    if (rc == 0 && k > 0) {
        window_t w = {max_id, min_id, limit};
        rc = gather(db, Q_MEDIA_UNFANNED_OF, ids, k, bind_window, &w, false, &all);
    }
    if (rc == 0) {
        memcpy(out, all.id, (size_t)all.n * sizeof(int64_t));
        *n = all.n;
    }
    free(ids);
    list_free(&all);
    return rc;
}

int timeline_rebuild(feeds_t *f, db_ctx_t *db, int64_t user)
{
    idlist_t all;
    list_init(&all, f->cap);
    int rc = pull(f, db, user, &all);
    if (rc == 0)
        rc = f->be->add(f, db, user, all.id, all.author, (size_t)all.n);
    if (rc == 0)
        rc = f->be->set_built(f, db, user);
    list_free(&all);
    return rc;
}

/* ---- jobs ---- */

/* A push in two halves where the store has them (feeds.h), else whole. */
static int push_send(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media, int64_t author,
                     size_t *pending)
{
    *pending = 0;
    if (f->be->push_send != NULL)
        return f->be->push_send(f, db, users, n, media, author, pending);
    return f->be->push(f, db, users, n, media, author);
}

static _Atomic uint64_t fanned_total; /* timelines fan-out wrote */

uint64_t timeline_fanned_total(void)
{
    return atomic_load_explicit(&fanned_total, memory_order_relaxed);
}

static int push_wait(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media, int64_t author,
                     size_t pending)
{
    return f->be->push_wait != NULL ? f->be->push_wait(f, db, users, n, media, author, pending) : FEEDS_OK;
}

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
        if (mrc != MEDIA_OK || f->be->push(f, db, &self, 1, media, author) != 0)
            return JOB_RETRY;
        if (!fanned)
            return JOB_DONE;
        cursor = INT64_MAX;
    }
    /* batch after batch for up to FANOUT_SLICE_MS, then the progress is
     * saved (JOB_CONTINUE): a crash repeats at most one slice, and a
     * million followers cost a few hundred saves, not a thousand. Two
     * batches are in flight: the next one is read and sent (push_send)
     * while the store works on this one, so neither waits for the other. */
    int64_t *ids[2] = {xcalloc((size_t)f->batch, sizeof(int64_t)), xcalloc((size_t)f->batch, sizeof(int64_t))};
    int n[2] = {0, 0};
    size_t pending[2] = {0, 0};
    int64_t until = ids_now_ms() + FANOUT_SLICE_MS;
    int rc = JOB_RETRY, cur = 0;
    bool progressed = false;
    if (graph_list(db, GRAPH_FOLLOWED_BY, author, cursor, f->batch, ids[0], &n[0]) != GRAPH_OK ||
        push_send(f, db, ids[0], (size_t)n[0], media, author, &pending[0]) != 0)
        goto out; /* fails, counted (or waiting out an outage) */
    for (;;) {
        int nx = cur ^ 1, sent = FEEDS_ERROR;
        bool last = n[cur] < f->batch;
        if (!last && ids_now_ms() < until &&
            graph_list(db, GRAPH_FOLLOWED_BY, author, ids[cur][n[cur] - 1], f->batch, ids[nx], &n[nx]) == GRAPH_OK)
            sent = push_send(f, db, ids[nx], (size_t)n[nx], media, author, &pending[nx]);
        /* a send that found the store gone took the batch in flight with it */
        int waited =
            sent == FEEDS_DOWN ? FEEDS_DOWN : push_wait(f, db, ids[cur], (size_t)n[cur], media, author, pending[cur]);
        if (waited != FEEDS_OK) {
            /* the next batch's answers read too, in step; it is redone next run */
            if (sent == FEEDS_OK && waited != FEEDS_DOWN)
                (void)push_wait(f, db, ids[nx], (size_t)n[nx], media, author, pending[nx]);
            /* what this run did is kept: it goes on from there, and fails
             * if it fails again at once */
            rc = progressed ? JOB_CONTINUE : JOB_RETRY;
            break;
        }
        progressed = true;
        atomic_fetch_add_explicit(&fanned_total, (uint64_t)n[cur], memory_order_relaxed);
        if (last) {
            rc = JOB_DONE;
            break;
        }
        cursor = ids[cur][n[cur] - 1];
        if (sent != FEEDS_OK) { /* the slice is over, or the next batch failed: saved here */
            rc = JOB_CONTINUE;
            break;
        }
        cur = nx;
    }
out:
    if (rc != JOB_DONE)
        snprintf(payload, JOB_PAYLOAD_MAX + 1, "%lld %lld %lld", media, author, (long long)cursor);
    free(ids[0]);
    free(ids[1]);
    return rc;
}

static int follow_job(db_ctx_t *db, char *payload, void *ctx, bool add)
{
    feeds_t *f = ctx;
    long long user, author;
    if (sscanf(payload, "%lld %lld", &user, &author) != 2)
        return JOB_RETRY;
    if (!add)
        return f->be->remove_author(f, db, user, author) == 0 ? JOB_DONE : JOB_RETRY;
    /* the author's recent fanned posts (posts made as a celebrity are merged at read time) */
    idlist_t recent;
    list_init(&recent, f->cap);
    int64_t one = author;
    int rc = gather(db, Q_MEDIA_RECENT_OF, &one, 1, bind_limit, &f->cap, true, &recent);
    if (rc == 0)
        rc = f->be->add(f, db, user, recent.id, recent.author, (size_t)recent.n);
    list_free(&recent);
    return rc == 0 ? JOB_DONE : JOB_RETRY;
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

const job_handler_t timeline_job_handlers[4] = {
    {"fanout", fanout_job, NULL},
    {"backfill", backfill_job, NULL},
    {"unfeed", unfeed_job, NULL},
    {"unfeed_media", unfeed_media_job, NULL},
};

int timeline_enqueue_fanout(db_conn_t *c, int64_t media, int64_t author)
{
    char p[JOB_PAYLOAD_MAX + 1];
    snprintf(p, sizeof(p), "%lld %lld 0", (long long)media, (long long)author);
    return jobs_enqueue(c, ids_shard(media), "fanout", p);
}

static _Atomic(feeds_t *) inline_feeds;

void timeline_set_inline(feeds_t *f)
{
    atomic_store(&inline_feeds, f);
}

int timeline_follow(db_ctx_t *db, db_conn_t *c, int64_t user, int64_t author, bool now_following)
{
    feeds_t *f = atomic_load(&inline_feeds);
    if (f != NULL) {
        if (!now_following)
            return feeds_remove_author_on(c, user, author) == 0 ? DB_DONE : DB_ERROR;
        /* as the job does (follow_job); the author's shard may be c's database */
        idlist_t recent;
        list_init(&recent, f->cap);
        int rc = gather(db, Q_MEDIA_RECENT_OF, &author, 1, bind_limit, &f->cap, true, &recent);
        if (rc == 0)
            rc = feeds_add_on(f, c, user, recent.id, recent.author, (size_t)recent.n);
        list_free(&recent);
        return rc == 0 ? DB_DONE : DB_ERROR;
    }
    char p[JOB_PAYLOAD_MAX + 1];
    snprintf(p, sizeof(p), "%lld %lld", (long long)user, (long long)author);
    /* in order per user: a backfill that ran after the unfollow's removal
     * would leave the unfollowed author's photos in the timeline */
    return jobs_enqueue_serial(c, ids_shard(user), now_following ? "backfill" : "unfeed", p, user);
}

void timeline_follow_done(int64_t user)
{
    feeds_t *f = atomic_load(&inline_feeds);
    if (f != NULL)
        feeds_changed(f, user);
}

int timeline_enqueue_media_gone(db_conn_t *c, int64_t media)
{
    char p[JOB_PAYLOAD_MAX + 1];
    snprintf(p, sizeof(p), "%lld", (long long)media);
    return jobs_enqueue(c, ids_shard(media), "unfeed_media", p);
}
