#include "model/graph.h"
#include "core/ids.h"
#include "model/timeline.h"
#include "model/far.h"
#include "model/social.h"
#include "model/users.h"
#include "jobs/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int get_status(db_conn_t *c, int64_t a, int64_t b, int *status)
{
    db_stmt_t *s = db_q(c, Q_FOLLOWING_GET);
    db_bind_i64(s, 1, a);
    db_bind_i64(s, 2, b);
    int rc = db_step(s);
    *status = rc == DB_ROW ? (int)db_col_i64(s, 0) : REL_NONE;
    db_reset(s);
    return rc == DB_ERROR ? GRAPH_ERROR : GRAPH_OK;
}

static int is_blocked(db_conn_t *c, int64_t a, int64_t b, bool *out)
{
    db_stmt_t *s = db_q(c, Q_BLOCK_GET);
    db_bind_i64(s, 1, a);
    db_bind_i64(s, 2, b);
    int rc = db_step(s);
    *out = rc == DB_ROW;
    db_reset(s);
    return rc == DB_ERROR ? GRAPH_ERROR : GRAPH_OK;
}

int graph_blocks_conn(db_conn_t *c, int64_t a, int64_t b, bool *yes)
{
    return is_blocked(c, a, b, yes);
}

int graph_blocks(db_ctx_t *db, int64_t a, int64_t b, bool *yes)
{
    db_conn_t *c = db_shard(db, ids_shard(a));
    return c == NULL ? GRAPH_ERROR : is_blocked(c, a, b, yes);
}

int graph_get(db_ctx_t *db, int64_t a, int64_t b, graph_rel_t *out)
{
    db_conn_t *ca = db_shard(db, ids_shard(a)), *cb = db_shard(db, ids_shard(b));
    if (ca == NULL || cb == NULL)
        return GRAPH_ERROR;
    if (get_status(ca, a, b, &out->outgoing) || get_status(cb, b, a, &out->incoming) ||
        is_blocked(ca, a, b, &out->a_blocks_b) || is_blocked(cb, b, a, &out->b_blocks_a))
        return GRAPH_ERROR;
    return GRAPH_OK;
}

/* ---- writes ----
 * An edge a -> b (a follows or asked to follow b) is true in a's
 * "following" row, on a's shard, with a's follows_count; b's "followers"
 * row, b's followed_by_count and b's news mirror it (the far effect "edge",
 * model/far.h). A block lives on the blocker's shard; it severs both edges,
 * each on its own truth's shard ("sever"). */

static int exec2(db_conn_t *c, unsigned q, int64_t x, int64_t y)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, x);
    db_bind_i64(s, 2, y);
    return db_exec_stmt(s) == DB_DONE ? GRAPH_OK : GRAPH_ERROR;
}

static int put_row(db_conn_t *c, unsigned q, int64_t x, int64_t y, int status)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, x);
    db_bind_i64(s, 2, y);
    db_bind_i64(s, 3, status);
    db_bind_i64(s, 4, ids_now_ms()); /* the edge's time, for lists newest first (a change of status renews it) */
    return db_exec_stmt(s) == DB_DONE ? GRAPH_OK : GRAPH_ERROR;
}

static int count(db_conn_t *c, int64_t user, int follows, int followed_by)
{
    db_stmt_t *s = db_q(c, Q_USER_FOLLOW_COUNTS_ADD);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, follows);
    db_bind_i64(s, 3, followed_by);
    return db_exec_stmt(s) == DB_DONE ? GRAPH_OK : GRAPH_ERROR;
}

/* In f's transaction on a's shard, with the edge locked: sets the truth of
 * a -> b to `to` (REL_NONE removes it), with a's counter, a's timeline, the
 * "approved" news when a request becomes a follow, and the mirror. */
static int set_truth(far_t *f, int64_t a, int64_t b, int to)
{
    db_conn_t *c = f->tx;
    int from;
    if (get_status(c, a, b, &from) != GRAPH_OK)
        return GRAPH_ERROR;
    if (from == to)
        return GRAPH_OK;
    int rc = to == REL_NONE ? exec2(c, Q_FOLLOWING_DEL, a, b) : put_row(c, Q_FOLLOWING_PUT, a, b, to);
    if (rc == GRAPH_OK && from == REL_REQUESTED && to == REL_FOLLOWS)
        rc = social_notify(c, a, b, "approved", 0, NULL, 0) ? GRAPH_ERROR : GRAPH_OK;
    int delta = (to == REL_FOLLOWS) - (from == REL_FOLLOWS);
    /* a's counter here, b's in the mirror: when that runs in this
     * transaction too, the two counters are taken in the users' order, as
     * every edge writer takes them, or a -> b and b -> a at once deadlock */
    if (rc == GRAPH_OK && delta != 0 && db_shard(f->db, ids_shard(b)) == c)
        rc = db_lock(c, "counts", a < b ? a : b, 0) == DB_OK && db_lock(c, "counts", a < b ? b : a, 0) == DB_OK
                 ? GRAPH_OK
                 : GRAPH_ERROR;
    if (rc == GRAPH_OK && delta != 0)
        rc = count(c, a, delta, 0) || timeline_follow(f->db, c, a, b, delta > 0) != DB_DONE ? GRAPH_ERROR : GRAPH_OK;
    if (rc == GRAPH_OK && delta != 0)
        far_feed_changed(f, a);
    if (rc == GRAPH_OK && far_do(f, "edge", ids_shard(b), "%lld %lld", (long long)a, (long long)b) != DB_DONE)
        rc = GRAPH_ERROR;
    return rc;
}

/* The far effect "edge A B", on B's shard: B's "followers" row for A, B's
 * followed_by_count and B's news match the truth on A's shard. A follow
 * across a block (a race with the block) is severed instead. */
int far_edge(far_t *f, char *payload)
{
    long long a, b;
    if (sscanf(payload, "%lld %lld", &a, &b) != 2)
        return JOB_DONE;
    far_t own;
    far_t *h = far_enter(f, ids_shard(b), &own);
    if (h == NULL)
        return JOB_RETRY;
    db_conn_t *c = h->tx, *ca = db_shard(h->db, ids_shard(a));
    int truth = REL_NONE, mirror = REL_NONE, rc = ca ? GRAPH_OK : GRAPH_ERROR;
    bool blocked = false;
    if (rc == GRAPH_OK)
        rc = db_lock(c, "edge", a, b) == DB_OK && get_status(ca, a, b, &truth) == GRAPH_OK &&
                     is_blocked(c, b, a, &blocked) == GRAPH_OK
                 ? GRAPH_OK
                 : GRAPH_ERROR;
    if (rc == GRAPH_OK && truth != REL_NONE && blocked) {
        rc = far_do(h, "sever", ids_shard(a), "%lld %lld", a, b) == DB_DONE ? GRAPH_OK : GRAPH_ERROR;
        truth = REL_NONE;
    }
    db_stmt_t *s = db_q(c, Q_FOLLOWERS_GET);
    db_bind_i64(s, 1, b);
    db_bind_i64(s, 2, a);
    int st = db_step(s);
    mirror = st == DB_ROW ? (int)db_col_i64(s, 0) : REL_NONE;
    db_reset(s);
    if (st == DB_ERROR)
        rc = GRAPH_ERROR;
    if (rc == GRAPH_OK && mirror != truth) {
        rc = truth == REL_NONE ? exec2(c, Q_FOLLOWERS_DEL, b, a) : put_row(c, Q_FOLLOWERS_PUT, b, a, truth);
        int delta = (truth == REL_FOLLOWS) - (mirror == REL_FOLLOWS);
        if (rc == GRAPH_OK && delta != 0)
            rc = count(c, b, 0, delta);
        /* news: a new follower or a request; a request withdrawn or ignored takes its news back */
        if (rc == GRAPH_OK && mirror == REL_NONE)
            rc = social_notify(c, b, a, truth == REL_REQUESTED ? "request" : "follow", 0, NULL, 0) ? GRAPH_ERROR
                                                                                                   : GRAPH_OK;
        if (rc == GRAPH_OK && mirror == REL_REQUESTED && truth == REL_NONE)
            rc = exec2(c, Q_ACTIVITY_DELETE_REQUEST, b, a);
    }
    return far_leave(h, rc == GRAPH_OK ? JOB_DONE : JOB_RETRY);
}

/* The far effect "sever A B", on A's shard: A no longer follows nor asks
 * to follow B (B blocked A, or A blocked B). */
int far_sever(far_t *f, char *payload)
{
    long long a, b;
    if (sscanf(payload, "%lld %lld", &a, &b) != 2)
        return JOB_DONE;
    far_t own;
    far_t *h = far_enter(f, ids_shard(a), &own);
    if (h == NULL)
        return JOB_RETRY;
    int rc = db_lock(h->tx, "edge", a, b) == DB_OK ? set_truth(h, a, b, REL_NONE) : GRAPH_ERROR;
    /* the mirror too, even if the truth was gone already (a lost mirror run) */
    if (rc == GRAPH_OK && far_do(h, "edge", ids_shard(b), "%lld %lld", a, b) != DB_DONE)
        rc = GRAPH_ERROR;
    return far_leave(h, rc == GRAPH_OK ? JOB_DONE : JOB_RETRY);
}

typedef int (*graph_tx_fn)(far_t *f, int64_t a, int64_t b, int arg);

/* Runs fn in one write transaction on `on`'s shard, then the far effects;
 * again if it conflicted with another (far_again). */
static int in_tx(db_ctx_t *db, int64_t on, int64_t a, int64_t b, graph_tx_fn fn, int arg)
{
    far_t f;
    int rc, tries = 0;
    do {
        far_init(&f, db);
        if (far_begin(&f, ids_shard(on)) != DB_OK)
            return GRAPH_ERROR;
        rc = fn(&f, a, b, arg);
        if (far_end(&f, rc) != 0)
            rc = rc == GRAPH_OK ? GRAPH_ERROR : rc;
    } while (far_again(&f, &tries));
    return rc;
}

static int do_follow(far_t *f, int64_t a, int64_t b, int is_private)
{
    db_conn_t *c = f->tx, *cb = db_shard(f->db, ids_shard(b));
    bool blocked_by, blocking;
    int cur;
    /* b's blocks are on b's shard: read there (the mirror's run checks again) */
    if (cb == NULL || db_lock(c, "edge", a, b) != DB_OK || is_blocked(cb, b, a, &blocked_by) ||
        is_blocked(c, a, b, &blocking) || get_status(c, a, b, &cur))
        return GRAPH_ERROR;
    if (blocked_by || blocking)
        return GRAPH_NOT_ALLOWED;
    if (cur != REL_NONE)
        return GRAPH_OK; /* already following, or already requested */
    return set_truth(f, a, b, is_private ? REL_REQUESTED : REL_FOLLOWS);
}

static int do_unfollow(far_t *f, int64_t a, int64_t b, int unused)
{
    return db_lock(f->tx, "edge", a, b) == DB_OK ? set_truth(f, a, b, REL_NONE) : GRAPH_ERROR;
}

static int do_block(far_t *f, int64_t a, int64_t b, int unused)
{
    db_stmt_t *s = db_q(f->tx, Q_BLOCK_PUT);
    db_bind_i64(s, 1, a);
    db_bind_i64(s, 2, b);
    db_bind_i64(s, 3, (int64_t)time(NULL));
    if (db_exec_stmt(s) != DB_DONE)
        return GRAPH_ERROR;
    /* a new block takes b's likes and comments off a's photos, in a job
     * (social.h): a's photos may be many */
    char purge[64];
    snprintf(purge, sizeof(purge), "%lld %lld", (long long)a, (long long)b);
    if (f->tx->drv->changes(f->tx) == 1 && jobs_enqueue(f->tx, ids_shard(a), "block_purge", purge) != DB_DONE)
        return GRAPH_ERROR;
    if (db_lock(f->tx, "edge", a, b) != DB_OK || set_truth(f, a, b, REL_NONE))
        return GRAPH_ERROR;
    /* b -> a is true on b's shard */
    return far_do(f, "sever", ids_shard(b), "%lld %lld", (long long)b, (long long)a) == DB_DONE ? GRAPH_OK
                                                                                                : GRAPH_ERROR;
}

static int do_unblock(far_t *f, int64_t a, int64_t b, int unused)
{
    return exec2(f->tx, Q_BLOCK_DEL, a, b);
}

/* In a transaction on b's shard (the truth of b -> a): a answers b's
 * request, approve (REL_FOLLOWS) or ignore (REL_NONE). */
static int do_answer(far_t *f, int64_t b, int64_t a, int to)
{
    int cur;
    if (db_lock(f->tx, "edge", b, a) != DB_OK || get_status(f->tx, b, a, &cur) != GRAPH_OK)
        return GRAPH_ERROR;
    if (cur != REL_REQUESTED)
        return GRAPH_OK; /* nothing pending: already answered, or never asked */
    return set_truth(f, b, a, to);
}

int graph_follow(db_ctx_t *db, int64_t a, int64_t b, bool b_private)
{
    return in_tx(db, a, a, b, do_follow, b_private);
}

int graph_unfollow(db_ctx_t *db, int64_t a, int64_t b)
{
    return in_tx(db, a, a, b, do_unfollow, 0);
}

int graph_block(db_ctx_t *db, int64_t a, int64_t b)
{
    return in_tx(db, a, a, b, do_block, 0);
}

int graph_unblock(db_ctx_t *db, int64_t a, int64_t b)
{
    return in_tx(db, a, a, b, do_unblock, 0);
}

int graph_approve(db_ctx_t *db, int64_t a, int64_t b)
{
    return in_tx(db, b, b, a, do_answer, REL_FOLLOWS);
}

int graph_ignore(db_ctx_t *db, int64_t a, int64_t b)
{
    return in_tx(db, b, b, a, do_answer, REL_NONE);
}

int graph_go_public_job(db_ctx_t *db, char *payload, void *ctx)
{
    (void)ctx;
    long long user = 0, before = INT64_MAX;
    if (sscanf(payload, "%lld %lld", &user, &before) < 1 || user <= 0)
        return JOB_DONE; /* not ours to repair */
    user_t *u = xmalloc(sizeof(*u));
    int urc = users_get_any(db, user, u);
    bool still_public = urc == USERS_OK && !u->is_private;
    free(u);
    if (urc != USERS_OK && urc != USERS_NOT_FOUND)
        return JOB_RETRY;
    if (!still_public)
        return JOB_DONE; /* gone, or private again: the requests wait for an answer */
    int64_t ids[GRAPH_GO_PUBLIC_BATCH];
    int n = 0;
    if (graph_list(db, GRAPH_REQUESTED_BY, user, before, GRAPH_GO_PUBLIC_BATCH, ids, &n) != GRAPH_OK)
        return JOB_RETRY;
    for (int i = 0; i < n; i++)
        if (graph_approve(db, user, ids[i]) != GRAPH_OK)
            return JOB_RETRY; /* from the top of this batch again: approving twice changes nothing */
    if (n < GRAPH_GO_PUBLIC_BATCH)
        return JOB_DONE;
    snprintf(payload, JOB_PAYLOAD_MAX + 1, "%lld %lld", user, (long long)ids[n - 1]);
    return JOB_CONTINUE;
}

int graph_list(db_ctx_t *db, int which, int64_t user, int64_t before, int limit, int64_t *out, int *n)
{
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return GRAPH_ERROR;
    bool outgoing = which == GRAPH_FOLLOWS || which == GRAPH_REQUESTS;
    db_stmt_t *s = db_q(c, outgoing ? Q_FOLLOWS_LIST : Q_FOLLOWERS_LIST);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, which == GRAPH_REQUESTED_BY || which == GRAPH_REQUESTS ? REL_REQUESTED : REL_FOLLOWS);
    db_bind_i64(s, 3, before);
    db_bind_i64(s, 4, limit);
    return db_read_ids(s, limit, out, n) == DB_DONE ? GRAPH_OK : GRAPH_ERROR;
}

int graph_list_recent(db_ctx_t *db, int which, int64_t user, int64_t before_at, int64_t before_id, int limit,
                      int64_t *ids, int64_t *at, int *n)
{
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return GRAPH_ERROR;
    db_stmt_t *s = db_q(c, which == GRAPH_FOLLOWS ? Q_FOLLOWS_RECENT : Q_FOLLOWERS_RECENT);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, which == GRAPH_REQUESTED_BY ? REL_REQUESTED : REL_FOLLOWS);
    db_bind_i64(s, 3, before_at);
    db_bind_i64(s, 4, before_id);
    db_bind_i64(s, 5, limit);
    return db_read_id_pairs(s, limit, ids, at, n) == DB_DONE ? GRAPH_OK : GRAPH_ERROR;
}

int graph_block_list(db_ctx_t *db, int64_t user, graph_block_t *out, int cap, int *n, bool *complete)
{
    /* the user's own blocks are on the user's database; blocks of the user
     * on their blockers': one query on each database */
    *n = 0;
    *complete = true;
    for (size_t i = 0; i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL)
            return GRAPH_ERROR;
        db_stmt_t *s = db_q(c, Q_BLOCKS_OF);
        db_bind_i64(s, 1, user);
        int limit = cap + 1 - *n, rows = 0;
        db_bind_i64(s, 2, limit);
        int rc;
        while ((rc = db_step(s)) == DB_ROW) {
            if (++rows == limit)
                *complete = false; /* maybe more beyond the limit (a user both ways takes two rows) */
            int64_t other = db_col_i64(s, 0);
            int dir = (int)db_col_i64(s, 1);
            int j = 0;
            while (j < *n && out[j].user != other)
                j++;
            if (j == *n) {
                if (*n == cap) {
                    *complete = false;
                    continue;
                }
                out[(*n)++] = (graph_block_t){other, 0};
            }
            out[j].dir |= dir;
        }
        db_reset(s);
        if (rc != DB_DONE)
            return GRAPH_ERROR;
    }
    return GRAPH_OK;
}

int graph_can_view(db_ctx_t *db, int64_t viewer, int64_t owner, bool owner_private, bool *ok)
{
    if (viewer == owner) {
        *ok = true;
        return GRAPH_OK;
    }
    db_conn_t *cv = db_shard(db, ids_shard(viewer));
    if (cv != NULL && cv == db_shard(db, ids_shard(owner))) {
        /* both users on one database (always, embedded): one query */
        db_stmt_t *s = db_q(cv, Q_CAN_VIEW);
        db_bind_i64(s, 1, viewer);
        db_bind_i64(s, 2, owner);
        int rc = db_step(s);
        if (rc == DB_ROW) {
            bool blocked = db_col_i64(s, 0) > 0;
            bool follows = !db_col_null(s, 1) && db_col_i64(s, 1) == REL_FOLLOWS;
            *ok = !blocked && (!owner_private || follows);
        }
        db_reset(s);
        return rc == DB_ROW ? GRAPH_OK : GRAPH_ERROR;
    }
    graph_rel_t r;
    if (graph_get(db, viewer, owner, &r) != GRAPH_OK)
        return GRAPH_ERROR;
    *ok = !r.a_blocks_b && !r.b_blocks_a && (!owner_private || r.outgoing == REL_FOLLOWS);
    return GRAPH_OK;
}
