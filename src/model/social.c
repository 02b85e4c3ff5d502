#include "model/social.h"
#include "model/discovery.h"
#include "core/ids.h"
#include "model/users.h"

#include <string.h>
#include <time.h>

static int exec2(db_conn_t *c, unsigned q, int64_t a, int64_t b)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, a);
    db_bind_i64(s, 2, b);
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

static int exec3(db_conn_t *c, unsigned q, int64_t a, int64_t b, int64_t x)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, a);
    db_bind_i64(s, 2, b);
    db_bind_i64(s, 3, x);
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

/* One transaction on the media's database (which holds every shard here). */
static db_conn_t *begin_on(db_ctx_t *db, int64_t media)
{
    db_conn_t *c = db_shard(db, ids_shard(media));
    return c && db_begin(c) == DB_OK ? c : NULL;
}

static int finish(db_conn_t *c, int rc)
{
    if (rc != 0 || db_commit(c) != DB_OK) {
        db_rollback(c);
        return rc > 0 ? rc : SOCIAL_ERROR;
    }
    return SOCIAL_OK;
}

int social_notify(db_conn_t *c, int64_t recipient, int64_t actor, const char *kind, int64_t media, const char *text,
                  int64_t ref)
{
    if (recipient == actor)
        return 0; /* no news about yourself */
    db_stmt_t *s = db_q(c, Q_ACTIVITY_INSERT);
    db_bind_i64(s, 1, ids_next(ids_global(), ids_shard(recipient)));
    db_bind_i64(s, 2, recipient);
    db_bind_i64(s, 3, actor);
    db_bind_cstr(s, 4, kind);
    if (media)
        db_bind_i64(s, 5, media);
    else
        db_bind_null(s, 5);
    if (text)
        db_bind_cstr(s, 6, text);
    else
        db_bind_null(s, 6);
    if (ref)
        db_bind_i64(s, 7, ref);
    else
        db_bind_null(s, 7);
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

int social_unnotify(db_conn_t *c, int64_t ref)
{
    db_stmt_t *s = db_q(c, Q_ACTIVITY_DELETE_REF);
    db_bind_i64(s, 1, ref);
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

int social_notify_mentions(db_ctx_t *db, db_conn_t *c, int64_t actor, int64_t media, const char *text, int64_t ref,
                           const text_mention_t *mentions, size_t nm)
{
    for (size_t i = 0; i < nm; i++) {
        int64_t who;
        int rc = users_id_by_username(db, mentions[i], &who);
        if (rc == USERS_ERROR)
            return -1;
        if (rc == USERS_OK && social_notify(c, who, actor, "mention", media, text, ref) != 0)
            return -1;
    }
    return 0;
}

/* Inside the transaction: the photo may have been deleted since the request
 * checked it. 0 if it exists, SOCIAL_NOT_FOUND if not, -1 on error. */
static int media_alive(db_conn_t *c, int64_t media)
{
    db_stmt_t *s = db_q(c, Q_MEDIA_EXISTS);
    db_bind_i64(s, 1, media);
    int rc = db_step(s);
    db_reset(s);
    return rc == DB_ROW ? 0 : rc == DB_DONE ? SOCIAL_NOT_FOUND : -1;
}

int social_like(db_ctx_t *db, int64_t media, int64_t owner, int64_t user)
{
    db_conn_t *c = begin_on(db, media);
    if (c == NULL)
        return SOCIAL_ERROR;
    int64_t like_id = ids_next(ids_global(), ids_shard(user));
    int rc = media_alive(c, media);
    if (rc == 0)
        rc = exec3(c, Q_LIKE_INSERT, media, user, like_id);
    if (rc == 0 && c->drv->changes(c) == 1) /* a new like, not a repeat */
        rc = exec3(c, Q_LIKED_INSERT, user, like_id, media) || exec2(c, Q_MEDIA_LIKE_COUNT_ADD, media, 1) ||
                     social_notify(c, owner, user, "like", media, NULL, like_id)
                 ? -1
                 : 0;
    return finish(c, rc);
}

int social_unlike(db_ctx_t *db, int64_t media, int64_t user)
{
    db_conn_t *c = begin_on(db, media);
    if (c == NULL)
        return SOCIAL_ERROR;
    /* the like's ID, to take its news back with it */
    db_stmt_t *s = db_q(c, Q_LIKE_ID);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, user);
    int st = db_step(s);
    int64_t like_id = st == DB_ROW ? db_col_i64(s, 0) : 0;
    db_reset(s);
    if (st == DB_ERROR)
        return finish(c, -1);
    int rc = exec2(c, Q_LIKE_DELETE, media, user);
    if (rc == 0 && c->drv->changes(c) == 1)
        rc = exec2(c, Q_LIKED_DELETE, user, media) || exec2(c, Q_MEDIA_LIKE_COUNT_ADD, media, -1) ||
                     social_unnotify(c, like_id)
                 ? -1
                 : 0;
    return finish(c, rc);
}

int social_has_liked(db_ctx_t *db, int64_t media, int64_t user, bool *yes)
{
    db_conn_t *c = db_shard(db, ids_shard(media));
    if (c == NULL)
        return SOCIAL_ERROR;
    db_stmt_t *s = db_q(c, Q_LIKE_EXISTS);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, user);
    int rc = db_step(s);
    *yes = rc == DB_ROW;
    db_reset(s);
    return rc == DB_ERROR ? SOCIAL_ERROR : SOCIAL_OK;
}

/* Reads up to limit rows of 1 or 2 ID columns. */
static int read_ids(db_stmt_t *s, int limit, int64_t *a, int64_t *b, int *n)
{
    return db_read_id_pairs(s, limit, a, b, n) == DB_DONE ? SOCIAL_OK : SOCIAL_ERROR;
}

int social_likers(db_ctx_t *db, int64_t media, int limit, int64_t *out, int *n)
{
    db_conn_t *c = db_shard(db, ids_shard(media));
    if (c == NULL)
        return SOCIAL_ERROR;
    db_stmt_t *s = db_q(c, Q_LIKERS);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, limit);
    return read_ids(s, limit, out, NULL, n);
}

int social_liked_between(db_ctx_t *db, int64_t user, int64_t lo, int64_t hi, int limit, int64_t *out, int *n)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return SOCIAL_ERROR;
    db_stmt_t *s = db_q(c, Q_LIKED_RANGE);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, lo);
    db_bind_i64(s, 3, hi);
    db_bind_i64(s, 4, limit);
    return db_read_ids(s, limit, out, n) == DB_DONE ? SOCIAL_OK : SOCIAL_ERROR;
}

int social_liked(db_ctx_t *db, int64_t user, int64_t before, int limit, int64_t *like_ids, int64_t *media_ids, int *n)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return SOCIAL_ERROR;
    db_stmt_t *s = db_q(c, Q_LIKED_LIST);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, before);
    db_bind_i64(s, 3, limit);
    return read_ids(s, limit, like_ids, media_ids, n);
}

static void row_to_comment(db_stmt_t *s, comment_t *c)
{
    c->id = db_col_i64(s, 0);
    c->media_id = db_col_i64(s, 1);
    c->user_id = db_col_i64(s, 2);
    db_col_copy(s, 3, c->text, sizeof(c->text));
    c->created_at = db_col_i64(s, 4);
}

int social_comment_add(db_ctx_t *db, comment_t *cm, int64_t media_owner, const text_mention_t *mentions, size_t nm)
{
    db_conn_t *c = begin_on(db, cm->media_id);
    if (c == NULL)
        return SOCIAL_ERROR;
    cm->created_at = ids_unix_ms(cm->id) / 1000;
    int alive = media_alive(c, cm->media_id);
    if (alive != 0)
        return finish(c, alive);
    db_stmt_t *s = db_q(c, Q_COMMENT_INSERT);
    db_bind_i64(s, 1, cm->id);
    db_bind_i64(s, 2, cm->media_id);
    db_bind_i64(s, 3, cm->user_id);
    db_bind_cstr(s, 4, cm->text);
    db_bind_i64(s, 5, cm->created_at);
    int rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    if (rc == 0)
        rc = exec2(c, Q_MEDIA_COMMENT_COUNT_ADD, cm->media_id, 1) ||
                     social_notify(c, media_owner, cm->user_id, "comment", cm->media_id, cm->text, cm->id) ||
                     social_notify_mentions(db, c, cm->user_id, cm->media_id, cm->text, cm->id, mentions, nm) ||
                     /* the owner's comments tag the photo, as its caption does */
                     (cm->user_id == media_owner && tags_sync(c, cm->media_id, cm->id, cm->user_id) != DB_DONE)
                 ? -1
                 : 0;
    return finish(c, rc);
}

int social_comment_get(db_ctx_t *db, int64_t media, int64_t id, comment_t *out)
{
    db_conn_t *c = db_shard(db, ids_shard(media));
    if (c == NULL)
        return SOCIAL_ERROR;
    db_stmt_t *s = db_q(c, Q_COMMENT_GET);
    db_bind_i64(s, 1, id);
    int rc = db_step(s);
    if (rc == DB_ROW)
        row_to_comment(s, out);
    db_reset(s);
    if (rc == DB_ROW && out->media_id != media)
        rc = DB_DONE; /* a comment of another photo */
    return rc == DB_ROW ? SOCIAL_OK : rc == DB_DONE ? SOCIAL_NOT_FOUND : SOCIAL_ERROR;
}

int social_comment_delete(db_ctx_t *db, const comment_t *cm)
{
    db_conn_t *c = begin_on(db, cm->media_id);
    if (c == NULL)
        return SOCIAL_ERROR;
    db_stmt_t *s = db_q(c, Q_COMMENT_DELETE);
    db_bind_i64(s, 1, cm->id);
    int rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    if (rc == 0 && c->drv->changes(c) == 0)
        rc = SOCIAL_NOT_FOUND;
    else if (rc == 0)
        rc = exec2(c, Q_MEDIA_COMMENT_COUNT_ADD, cm->media_id, -1) || social_unnotify(c, cm->id) ||
                     tags_sync(c, cm->media_id, ids_next(ids_global(), ids_shard(cm->media_id)), cm->user_id) !=
                         DB_DONE
                 ? -1
                 : 0;
    return finish(c, rc);
}

int social_comments(db_ctx_t *db, int64_t media, int limit, comment_t *out, int *n)
{
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(media));
    if (c == NULL)
        return SOCIAL_ERROR;
    db_stmt_t *s = db_q(c, Q_COMMENTS_RECENT);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, limit);
    int rc = DB_DONE;
    while (*n < limit && (rc = db_step(s)) == DB_ROW)
        row_to_comment(s, &out[(*n)++]);
    db_reset(s);
    return rc == DB_ERROR ? SOCIAL_ERROR : SOCIAL_OK;
}

int social_activity(db_ctx_t *db, int64_t user, int64_t before, int limit, activity_t *out, int *n)
{
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return SOCIAL_ERROR;
    db_stmt_t *s = db_q(c, Q_ACTIVITY_LIST);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, before);
    db_bind_i64(s, 3, limit);
    int rc = DB_DONE;
    while (*n < limit && (rc = db_step(s)) == DB_ROW) {
        activity_t *a = &out[(*n)++];
        a->id = db_col_i64(s, 0);
        a->actor_id = db_col_i64(s, 1);
        db_col_copy(s, 2, a->kind, sizeof(a->kind));
        a->media_id = db_col_null(s, 3) ? 0 : db_col_i64(s, 3);
        db_col_copy(s, 4, a->text, sizeof(a->text));
    }
    db_reset(s);
    return rc == DB_ERROR ? SOCIAL_ERROR : SOCIAL_OK;
}
