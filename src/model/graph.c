#include "model/graph.h"
#include "core/ids.h"
#include "feeds/feeds.h"
#include "model/social.h"

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

/* ---- writes: both rows and the counters of one edge a -> b ---- */

static int exec2(db_conn_t *c, unsigned q, int64_t x, int64_t y)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, x);
    db_bind_i64(s, 2, y);
    return db_exec_stmt(s) == DB_DONE ? GRAPH_OK : GRAPH_ERROR;
}

static int put_edge(db_conn_t *c, int64_t a, int64_t b, int status)
{
    int64_t now = (int64_t)time(NULL);
    const unsigned qs[2] = {Q_FOLLOWING_PUT, Q_FOLLOWERS_PUT};
    const int64_t firsts[2] = {a, b}, seconds[2] = {b, a};
    for (int i = 0; i < 2; i++) {
        db_stmt_t *s = db_q(c, qs[i]);
        db_bind_i64(s, 1, firsts[i]);
        db_bind_i64(s, 2, seconds[i]);
        db_bind_i64(s, 3, status);
        db_bind_i64(s, 4, now);
        if (db_exec_stmt(s) != DB_DONE)
            return GRAPH_ERROR;
    }
    return GRAPH_OK;
}

static int count(db_conn_t *c, int64_t user, int follows, int followed_by)
{
    db_stmt_t *s = db_q(c, Q_USER_FOLLOW_COUNTS_ADD);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, follows);
    db_bind_i64(s, 3, followed_by);
    return db_exec_stmt(s) == DB_DONE ? GRAPH_OK : GRAPH_ERROR;
}

/* Sets edge a -> b to `to` (REL_NONE removes it), fixing the counters. */
static int set_edge(db_conn_t *c, int64_t a, int64_t b, int to)
{
    int from;
    if (get_status(c, a, b, &from) != GRAPH_OK)
        return GRAPH_ERROR;
    if (from == to)
        return GRAPH_OK;
    int rc = to == REL_NONE ? (exec2(c, Q_FOLLOWING_DEL, a, b) || exec2(c, Q_FOLLOWERS_DEL, b, a))
                            : put_edge(c, a, b, to);
    /* news: a new follower, a request, or a request approved */
    if (rc == GRAPH_OK && to != REL_NONE)
        rc = to == REL_REQUESTED                                ? social_notify(c, b, a, "request", 0, NULL, 0)
             : from == REL_REQUESTED                            ? social_notify(c, a, b, "approved", 0, NULL, 0)
                                                                : social_notify(c, b, a, "follow", 0, NULL, 0);
    int delta = (to == REL_FOLLOWS) - (from == REL_FOLLOWS);
    if (rc == GRAPH_OK && delta != 0)
        rc = count(c, a, delta, 0) || count(c, b, 0, delta) ||
             feeds_enqueue_follow(c, a, b, delta > 0) != DB_DONE; /* b's photos into or out of a's feed */
    return rc ? GRAPH_ERROR : GRAPH_OK;
}

typedef int (*graph_tx_fn)(db_conn_t *c, int64_t a, int64_t b, int arg);

/* Runs fn in one write transaction. Both users' shards must be on one
 * database: true in the embedded topology (the cluster topology moves the
 * far side into an outbox job). */
static int in_tx(db_ctx_t *db, int64_t a, int64_t b, graph_tx_fn fn, int arg)
{
    db_conn_t *c = db_shard(db, ids_shard(a));
    if (c == NULL || c != db_shard(db, ids_shard(b)) || db_begin(c) != DB_OK)
        return GRAPH_ERROR;
    int rc = fn(c, a, b, arg);
    if (rc != GRAPH_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        return rc == GRAPH_OK ? GRAPH_ERROR : rc;
    }
    jobs_kick();
    return GRAPH_OK;
}

static int do_follow(db_conn_t *c, int64_t a, int64_t b, int is_private)
{
    bool blocked_by, blocking;
    int cur;
    if (is_blocked(c, b, a, &blocked_by) || is_blocked(c, a, b, &blocking) || get_status(c, a, b, &cur))
        return GRAPH_ERROR;
    if (blocked_by || blocking)
        return GRAPH_NOT_ALLOWED;
    if (cur != REL_NONE)
        return GRAPH_OK; /* already following, or already requested */
    return set_edge(c, a, b, is_private ? REL_REQUESTED : REL_FOLLOWS);
}

static int do_unfollow(db_conn_t *c, int64_t a, int64_t b, int unused)
{
    return set_edge(c, a, b, REL_NONE);
}

static int do_block(db_conn_t *c, int64_t a, int64_t b, int unused)
{
    db_stmt_t *s = db_q(c, Q_BLOCK_PUT);
    db_bind_i64(s, 1, a);
    db_bind_i64(s, 2, b);
    db_bind_i64(s, 3, (int64_t)time(NULL));
    if (db_exec_stmt(s) != DB_DONE)
        return GRAPH_ERROR;
    return set_edge(c, a, b, REL_NONE) || set_edge(c, b, a, REL_NONE) ? GRAPH_ERROR : GRAPH_OK;
}

static int do_unblock(db_conn_t *c, int64_t a, int64_t b, int unused)
{
    return exec2(c, Q_BLOCK_DEL, a, b);
}

/* a answers b's request: approve (REL_FOLLOWS) or ignore (REL_NONE). */
static int do_answer(db_conn_t *c, int64_t a, int64_t b, int to)
{
    int cur;
    if (get_status(c, b, a, &cur) != GRAPH_OK)
        return GRAPH_ERROR;
    if (cur != REL_REQUESTED)
        return GRAPH_OK; /* nothing pending: already answered, or never asked */
    return set_edge(c, b, a, to);
}

int graph_follow(db_ctx_t *db, int64_t a, int64_t b, bool b_private)
{
    return in_tx(db, a, b, do_follow, b_private);
}

int graph_unfollow(db_ctx_t *db, int64_t a, int64_t b)
{
    return in_tx(db, a, b, do_unfollow, 0);
}

int graph_block(db_ctx_t *db, int64_t a, int64_t b)
{
    return in_tx(db, a, b, do_block, 0);
}

int graph_unblock(db_ctx_t *db, int64_t a, int64_t b)
{
    return in_tx(db, a, b, do_unblock, 0);
}

int graph_approve(db_ctx_t *db, int64_t a, int64_t b)
{
    return in_tx(db, a, b, do_answer, REL_FOLLOWS);
}

int graph_ignore(db_ctx_t *db, int64_t a, int64_t b)
{
    return in_tx(db, a, b, do_answer, REL_NONE);
}

int graph_list(db_ctx_t *db, int which, int64_t user, int64_t before, int limit, int64_t *out, int *n)
{
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return GRAPH_ERROR;
    db_stmt_t *s = db_q(c, which == GRAPH_FOLLOWS ? Q_FOLLOWS_LIST : Q_FOLLOWERS_LIST);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, which == GRAPH_REQUESTED_BY ? REL_REQUESTED : REL_FOLLOWS);
    db_bind_i64(s, 3, before);
    db_bind_i64(s, 4, limit);
    return db_read_ids(s, limit, out, n) == DB_DONE ? GRAPH_OK : GRAPH_ERROR;
}

int graph_any_blocks(db_ctx_t *db, int64_t user, bool *any)
{
    *any = true;
    if (db_count(db) != 1) /* blocks of a user are spread over databases */
        return GRAPH_OK;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return GRAPH_ERROR;
    db_stmt_t *s = db_q(c, Q_BLOCKS_ANY);
    db_bind_i64(s, 1, user);
    int rc = db_step(s);
    if (rc == DB_ROW)
        *any = db_col_i64(s, 0) != 0;
    db_reset(s);
    return rc == DB_ROW ? GRAPH_OK : GRAPH_ERROR;
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
