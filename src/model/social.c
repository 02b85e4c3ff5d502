#include "model/social.h"
#include "model/push.h"
#include "model/discovery.h"
#include "cache/cache.h"
#include "core/ids.h"
#include "jobs/jobs.h"
#include "model/graph.h"
#include "model/far.h"
#include "model/users.h"

#include <stdio.h>
#include <stdlib.h>
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
    if (db_exec_stmt(s) != DB_DONE)
        return -1;
    return push_note(c, recipient, actor, kind, media, text); /* and to the recipient's phones, if any */
}

int social_unnotify(db_conn_t *c, int64_t ref)
{
    db_stmt_t *s = db_q(c, Q_ACTIVITY_DELETE_REF);
    db_bind_i64(s, 1, ref);
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

int social_mention_effects(far_t *f, int64_t ref, int64_t media, const text_mention_t *mentions, size_t nm)
{
    for (size_t i = 0; i < nm; i++) {
        int64_t who;
        int rc = users_id_by_username(f->db, mentions[i], &who);
        if (rc == USERS_ERROR)
            return -1;
        if (rc == USERS_OK &&
            far_do(f, "mention", ids_shard(who), "%lld %lld %lld", (long long)ref, (long long)media, (long long)who) !=
                DB_DONE)
            return -1;
    }
    return 0;
}

/* Whether text @mentions the user named `name` (lower-case). */
static bool text_mentions_name(const char *text, const char *name)
{
    text_mention_t found[TEXT_MAX_MENTIONS];
    size_t n = text_mentions(text, strlen(text), found, TEXT_MAX_MENTIONS);
    for (size_t i = 0; i < n; i++) {
        char low[sizeof(text_mention_t)];
        ascii_lower(low, found[i], strlen(found[i]));
        if (strcmp(low, name) == 0)
            return true;
    }
    return false;
}

/* The truth of a mention of `name` by ref (a comment, or media's caption
 * when ref is the media): the author and the text, or *author 0 if there
 * is none (the comment or photo is gone, or no longer mentions them). */
static int mention_truth(db_ctx_t *db, int64_t ref, int64_t media, const char *name, int64_t *author, char *text,
                         size_t cap)
{
    *author = 0;
    db_conn_t *c = db_shard(db, ids_shard(media));
    if (c == NULL)
        return -1;
    db_stmt_t *s = db_q(c, ref == media ? Q_MEDIA_TEXT_SOURCE : Q_COMMENT_GET);
    db_bind_i64(s, 1, ref);
    int rc = db_step(s);
    if (rc == DB_ROW) {
        *author = db_col_i64(s, ref == media ? 1 : 2);
        db_col_copy(s, ref == media ? 0 : 3, text, cap);
    }
    db_reset(s);
    if (rc == DB_ERROR)
        return -1;
    if (*author == 0)
        return 0;
    if (ref == media) { /* a caption mentions whom its mention list names */
        s = db_q(c, Q_MENTION_EXISTS);
        db_bind_i64(s, 1, media);
        db_bind_cstr(s, 2, name);
        rc = db_step(s);
        db_reset(s);
        if (rc == DB_ERROR)
            return -1;
        if (rc != DB_ROW)
            *author = 0;
    } else if (!text_mentions_name(text, name)) {
        *author = 0;
    }
    return 0;
}

/* The far effect "mention REF MEDIA USER", on USER's shard: USER's news of
 * being mentioned by REF (a comment of MEDIA, or MEDIA's caption) is there
 * exactly while the text mentions them. */
int far_mention(far_t *f, char *payload)
{
    long long ref, media, who;
    if (sscanf(payload, "%lld %lld %lld", &ref, &media, &who) != 3)
        return JOB_DONE;
    far_t own;
    far_t *h = far_enter(f, ids_shard(who), &own);
    if (h == NULL)
        return JOB_RETRY;
    user_t *u = xmalloc(sizeof(*u));
    char *text = xmalloc(CAPTION_MAX * 4 + 1);
    int64_t author = 0;
    int rc = db_lock(h->tx, "mention", ref, who) == DB_OK ? 0 : -1;
    int urc = rc == 0 ? users_get_any(h->db, who, u) : USERS_ERROR; /* suspended: still told, for later */
    if (urc == USERS_ERROR)
        rc = -1;
    if (rc == 0 && urc == USERS_OK) {
        char name[sizeof(u->username)];
        ascii_lower(name, u->username, strlen(u->username));
        rc = mention_truth(h->db, ref, media, name, &author, text, CAPTION_MAX * 4 + 1);
    }
    if (rc == 0 && author != 0 && author != who) {
        rc = social_notify(h->tx, who, author, "mention", media, text, ref);
    } else if (rc == 0) {
        db_stmt_t *s = db_q(h->tx, Q_ACTIVITY_DELETE_ONE);
        db_bind_i64(s, 1, ref);
        db_bind_i64(s, 2, who);
        db_bind_cstr(s, 3, "mention");
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    }
    free(u);
    free(text);
    return far_leave(h, rc == 0 ? JOB_DONE : JOB_RETRY);
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

/* The far effect "liked USER MEDIA", on USER's shard: USER's list of liked
 * photos holds MEDIA (under its like's ID) exactly while the like exists. */
int far_liked(far_t *f, char *payload)
{
    long long user, media;
    if (sscanf(payload, "%lld %lld", &user, &media) != 2)
        return JOB_DONE;
    far_t own;
    far_t *h = far_enter(f, ids_shard(user), &own);
    if (h == NULL)
        return JOB_RETRY;
    db_conn_t *cm = db_shard(h->db, ids_shard(media));
    int rc = cm && db_lock(h->tx, "liked", user, media) == DB_OK ? 0 : -1;
    int64_t like_id = 0;
    if (rc == 0) {
        db_stmt_t *s = db_q(cm, Q_LIKE_ID);
        db_bind_i64(s, 1, media);
        db_bind_i64(s, 2, user);
        int st = db_step(s);
        like_id = st == DB_ROW ? db_col_i64(s, 0) : 0;
        db_reset(s);
        rc = st == DB_ERROR ? -1 : 0;
    }
    if (rc == 0 && like_id)
        rc = exec3(h->tx, Q_LIKED_DELETE_OTHER, user, media, like_id) ||
             exec3(h->tx, Q_LIKED_INSERT, user, like_id, media);
    else if (rc == 0)
        rc = exec2(h->tx, Q_LIKED_DELETE, user, media);
    return far_leave(h, rc == 0 ? JOB_DONE : JOB_RETRY);
}

/* One transaction on the media's shard; far effects after. */
static int begin_on(far_t *f, db_ctx_t *db, int64_t media)
{
    far_init(f, db);
    return far_begin(f, ids_shard(media)) == DB_OK ? 0 : -1;
}

static int finish(far_t *f, int rc)
{
    int r = far_end(f, rc);
    return r == 0 ? SOCIAL_OK : rc > 0 ? rc : SOCIAL_ERROR;
}

static int like_once(far_t *f, db_ctx_t *db, int64_t media, int64_t owner, int64_t user)
{
    if (begin_on(f, db, media) != 0)
        return SOCIAL_ERROR;
    db_conn_t *c = f->tx;
    int64_t like_id = ids_next(ids_global(), ids_shard(media));
    int rc = media_alive(c, media);
    if (rc == 0)
        rc = exec3(c, Q_LIKE_INSERT, media, user, like_id);
    if (rc == 0 && c->drv->changes(c) == 1) /* a new like, not a repeat */
        rc = exec2(c, Q_MEDIA_LIKE_COUNT_ADD, media, 1) || social_notify(c, owner, user, "like", media, NULL, like_id) ||
                     far_do(f, "liked", ids_shard(user), "%lld %lld", (long long)user, (long long)media) != DB_DONE
                 ? -1
                 : 0;
    return finish(f, rc);
}

int social_like(db_ctx_t *db, int64_t media, int64_t owner, int64_t user)
{
    far_t f;
    int rc, tries = 0;
    do
        rc = like_once(&f, db, media, owner, user);
    while (far_again(&f, &tries));
    return rc;
}

static int unlike_once(far_t *f, db_ctx_t *db, int64_t media, int64_t user)
{
    if (begin_on(f, db, media) != 0)
        return SOCIAL_ERROR;
    db_conn_t *c = f->tx;
    /* a media deleted is not found, though its owner is still cached (api/social.c) */
    int alive = media_alive(c, media);
    if (alive != 0)
        return finish(f, alive);
    /* the like's ID, to take its news back with it */
    db_stmt_t *s = db_q(c, Q_LIKE_ID);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, user);
    int st = db_step(s);
    int64_t like_id = st == DB_ROW ? db_col_i64(s, 0) : 0;
    db_reset(s);
    if (st == DB_ERROR)
        return finish(f, -1);
    int rc = exec2(c, Q_LIKE_DELETE, media, user);
    if (rc == 0 && c->drv->changes(c) == 1)
        rc = exec2(c, Q_MEDIA_LIKE_COUNT_ADD, media, -1) || social_unnotify(c, like_id) ||
                     far_do(f, "liked", ids_shard(user), "%lld %lld", (long long)user, (long long)media) != DB_DONE
                 ? -1
                 : 0;
    return finish(f, rc);
}

int social_unlike(db_ctx_t *db, int64_t media, int64_t user)
{
    far_t f;
    int rc, tries = 0;
    do
        rc = unlike_once(&f, db, media, user);
    while (far_again(&f, &tries));
    return rc;
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

static int comment_add_once(far_t *f, db_ctx_t *db, comment_t *cm, int64_t media_owner, const text_mention_t *mentions, size_t nm)
{
    if (begin_on(f, db, cm->media_id) != 0)
        return SOCIAL_ERROR;
    db_conn_t *c = f->tx;
    if (cm->created_at <= 0)
        cm->created_at = ids_unix_ms(cm->id) / 1000;
    int alive = media_alive(c, cm->media_id);
    if (alive != 0)
        return finish(f, alive);
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
                     social_mention_effects(f, cm->id, cm->media_id, mentions, nm) ||
                     /* the owner's comments tag the photo, as its caption does */
                     (cm->user_id == media_owner && tags_sync(f, cm->media_id, cm->id, cm->user_id) != DB_DONE)
                 ? -1
                 : 0;
    return finish(f, rc);
}

int social_comment_add(db_ctx_t *db, comment_t *cm, int64_t media_owner, const text_mention_t *mentions, size_t nm)
{
    far_t f;
    int rc, tries = 0;
    do
        rc = comment_add_once(&f, db, cm, media_owner, mentions, nm);
    while (far_again(&f, &tries));
    return rc;
}

int social_comments_by_user(db_ctx_t *db, size_t d, int64_t user, int64_t after, int limit, int64_t *media,
                            int64_t *ids, int *n)
{
    *n = 0;
    db_conn_t *c = db_physical(db, d);
    if (c == NULL)
        return SOCIAL_ERROR;
    db_stmt_t *s = db_q(c, Q_COMMENTS_BY_USER);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, after);
    db_bind_i64(s, 3, limit);
    return db_read_id_pairs(s, limit, media, ids, n) == DB_DONE ? SOCIAL_OK : SOCIAL_ERROR;
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

static int comment_delete_once(far_t *f, db_ctx_t *db, const comment_t *cm)
{
    if (begin_on(f, db, cm->media_id) != 0)
        return SOCIAL_ERROR;
    db_conn_t *c = f->tx;
    db_stmt_t *s = db_q(c, Q_COMMENT_DELETE);
    db_bind_i64(s, 1, cm->id);
    int rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    text_mention_t mentions[TEXT_MAX_MENTIONS];
    size_t nm = text_mentions(cm->text, strlen(cm->text), mentions, TEXT_MAX_MENTIONS);
    if (rc == 0 && c->drv->changes(c) == 0)
        rc = SOCIAL_NOT_FOUND;
    else if (rc == 0)
        rc = exec2(c, Q_MEDIA_COMMENT_COUNT_ADD, cm->media_id, -1) || social_unnotify(c, cm->id) ||
                     social_mention_effects(f, cm->id, cm->media_id, mentions, nm) ||
                     tags_sync(f, cm->media_id, ids_next(ids_global(), ids_shard(cm->media_id)), cm->user_id) !=
                         DB_DONE
                 ? -1
                 : 0;
    return finish(f, rc);
}

int social_comment_delete(db_ctx_t *db, const comment_t *cm)
{
    far_t f;
    int rc, tries = 0;
    do
        rc = comment_delete_once(&f, db, cm);
    while (far_again(&f, &tries));
    return rc;
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

/* Takes user's comments off media, a page at a time; *changed if any went. */
static int purge_comments(db_ctx_t *db, int64_t media, int64_t user, bool *changed)
{
    enum { PAGE = 64 };
    comment_t *cm = xmalloc(sizeof(*cm));
    int rc = SOCIAL_OK;
    for (int got = PAGE; rc == SOCIAL_OK && got == PAGE;) {
        db_conn_t *c = db_shard(db, ids_shard(media));
        if (c == NULL) {
            rc = SOCIAL_ERROR;
            break;
        }
        int64_t ids[PAGE];
        got = 0;
        db_stmt_t *s = db_q(c, Q_COMMENTS_BY_AUTHOR);
        db_bind_i64(s, 1, media);
        db_bind_i64(s, 2, user);
        db_bind_i64(s, 3, PAGE);
        if (db_read_ids(s, PAGE, ids, &got) != DB_DONE)
            rc = SOCIAL_ERROR;
        for (int i = 0; rc == SOCIAL_OK && i < got; i++) {
            int g = social_comment_get(db, media, ids[i], cm);
            if (g == SOCIAL_OK)
                g = social_comment_delete(db, cm);
            if (g == SOCIAL_OK)
                *changed = true;
            rc = g == SOCIAL_ERROR ? SOCIAL_ERROR : SOCIAL_OK; /* gone meanwhile: fine */
        }
    }
    free(cm);
    return rc;
}

int social_block_purge_job(db_ctx_t *db, char *payload, void *ctx)
{
    cache_t *cache = ctx;
    long long a = 0, b = 0, before = INT64_MAX;
    if (sscanf(payload, "%lld %lld %lld", &a, &b, &before) < 2 || a <= 0 || b <= 0)
        return JOB_DONE; /* not ours to repair */
    bool blocks = false;
    if (graph_blocks(db, a, b, &blocks) != GRAPH_OK)
        return JOB_RETRY;
    if (!blocks)
        return JOB_DONE; /* unblocked meanwhile: what is left stays */
    int64_t ids[SOCIAL_PURGE_BATCH];
    int n = 0;
    if (media_ids_by_user(db, a, before, 0, SOCIAL_PURGE_BATCH, ids, &n) != MEDIA_OK)
        return JOB_RETRY;
    /* a retry starts this batch again: unliking or deleting twice changes nothing */
    for (int i = 0; i < n; i++) {
        bool liked = false, changed = false;
        if (social_has_liked(db, ids[i], b, &liked) != SOCIAL_OK ||
            (liked && social_unlike(db, ids[i], b) == SOCIAL_ERROR) ||
            purge_comments(db, ids[i], b, &changed) != SOCIAL_OK)
            return JOB_RETRY;
        if (cache != NULL && (liked || changed))
            cache_del(cache, CACHE_MEDIA, ids[i]); /* after the commits */
        if (cache != NULL && liked)
            cache_del(cache, CACHE_LIKED, b);
    }
    if (n < SOCIAL_PURGE_BATCH)
        return JOB_DONE;
    snprintf(payload, JOB_PAYLOAD_MAX + 1, "%lld %lld %lld", a, b, (long long)ids[n - 1]);
    return JOB_CONTINUE;
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
