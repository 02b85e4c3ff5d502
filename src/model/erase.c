/* An account deleted with everything it made: see erase.h. */
#include "model/erase.h"
#include "model/apps.h"
#include "cache/cache.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/validate.h"
#include "images/images.h"
#include "jobs/jobs.h"
#include "model/graph.h"
#include "model/media.h"
#include "model/social.h"
#include "model/tokens.h"
#include "model/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERASE_BATCH 64

int cache_drop_enqueue(db_conn_t *c, unsigned shard, int kind, const int64_t *ids, size_t n)
{
    char payload[JOB_PAYLOAD_MAX + 1];
    size_t len = 0;
    for (size_t i = 0; i <= n; i++) {
        char one[48];
        int ol = i < n ? snprintf(one, sizeof(one), "%s%d %lld", len ? " " : "", kind, (long long)ids[i]) : 0;
        if (len > 0 && (i == n || len + (size_t)ol > JOB_PAYLOAD_MAX)) {
            if (jobs_enqueue(c, shard, "cache_drop", payload) != DB_DONE)
                return -1;
            len = 0;
            if (i < n)
                ol = snprintf(one, sizeof(one), "%d %lld", kind, (long long)ids[i]);
        }
        if (i < n) {
            memcpy(payload + len, one, (size_t)ol + 1);
            len += (size_t)ol;
        }
    }
    jobs_kick();
    return 0;
}

int cache_drop_job(db_ctx_t *db, char *payload, void *ctx)
{
    cache_t *cache = ctx;
    const char *p = payload;
    int kind, used;
    long long id;
    while (cache != NULL && sscanf(p, "%d %lld%n", &kind, &id, &used) == 2) {
        if (kind > 0 && id > 0)
            cache_del(cache, kind, id);
        p += used;
    }
    return JOB_DONE;
}

static int erase_media(db_ctx_t *db, blob_store_t *store, int64_t user, erase_counts_t *n)
{
    int64_t ids[ERASE_BATCH], before = INT64_MAX;
    int k = ERASE_BATCH;
    while (k == ERASE_BATCH) {
        if (media_ids_by_user(db, user, before, 0, ERASE_BATCH, ids, &k) != MEDIA_OK)
            return -1;
        for (int i = 0; i < k; i++) {
            /* the files first, then the row: a kill between the two leaves
             * a photo without files (its owner suspended, so nobody sees
             * it), which the next run finds and deletes; the other order
             * would leave files that no row names */
            int64_t file_key = 0;
            int rc = media_file_key(db, ids[i], &file_key);
            if (rc == MEDIA_ERROR)
                return -1;
            if (rc == MEDIA_NOT_FOUND)
                continue;
            n->files += media_delete_files(store, ids[i], file_key);
            rc = media_delete(db, ids[i], user, &file_key);
            if (rc == MEDIA_ERROR)
                return -1;
            n->media += rc == MEDIA_OK;
        }
        if (k > 0)
            before = ids[k - 1];
        db_ctx_release(db);
    }
    return 0;
}

/* Queued on the user's shard: the job's work is in the caches, not there. */
static int drop_media(db_ctx_t *db, int64_t user, const int64_t *media, int k)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    return c ? cache_drop_enqueue(c, ids_shard(user), CACHE_MEDIA, media, (size_t)k) : -1;
}

static int erase_likes(db_ctx_t *db, int64_t user, erase_counts_t *n)
{
    int64_t like_ids[ERASE_BATCH], media[ERASE_BATCH], before = INT64_MAX;
    int k = ERASE_BATCH;
    while (k == ERASE_BATCH) {
        if (social_liked(db, user, before, ERASE_BATCH, like_ids, media, &k) != SOCIAL_OK)
            return -1;
        for (int i = 0; i < k; i++) {
            int rc = social_unlike(db, media[i], user);
            if (rc == SOCIAL_ERROR)
                return -1;
            n->likes += rc == SOCIAL_OK;
        }
        /* the photos' counts and likers, wherever they are cached */
        if (k > 0 && drop_media(db, user, media, k) != 0)
            return -1;
        if (k > 0)
            before = like_ids[k - 1];
        db_ctx_release(db);
    }
    return 0;
}

/* Its comments on every database (its own photos' went with them). */
static int erase_comments(db_ctx_t *db, int64_t user, erase_counts_t *n)
{
    for (size_t d = 0; d < db_count(db); d++) {
        int64_t after = 0;
        int k = ERASE_BATCH;
        while (k == ERASE_BATCH) {
            int64_t media[ERASE_BATCH], ids[ERASE_BATCH];
            if (social_comments_by_user(db, d, user, after, ERASE_BATCH, media, ids, &k) != SOCIAL_OK)
                return -1;
            for (int i = 0; i < k; i++) {
                comment_t *cm = xmalloc(sizeof(*cm));
                int rc = social_comment_get(db, media[i], ids[i], cm);
                if (rc == SOCIAL_OK)
                    rc = social_comment_delete(db, cm);
                free(cm);
                if (rc == SOCIAL_ERROR)
                    return -1;
                n->comments += rc == SOCIAL_OK;
            }
            if (k > 0 && drop_media(db, user, media, k) != 0)
                return -1;
            if (k > 0)
                after = ids[k - 1];
            db_ctx_release(db);
        }
    }
    return 0;
}

/* Every edge of a list of user's: `which` lists the others, `cut` ends one. */
static int erase_edges(db_ctx_t *db, int64_t user, int which, int (*cut)(db_ctx_t *, int64_t user, int64_t other),
                       long long *count)
{
    int64_t ids[ERASE_BATCH], before = INT64_MAX;
    int k = ERASE_BATCH;
    while (k == ERASE_BATCH) {
        if (graph_list(db, which, user, before, ERASE_BATCH, ids, &k) != GRAPH_OK)
            return -1;
        for (int i = 0; i < k; i++) {
            if (cut(db, user, ids[i]) == GRAPH_ERROR)
                return -1;
            (*count)++;
        }
        if (k > 0)
            before = ids[k - 1];
        db_ctx_release(db);
    }
    return 0;
}

static int cut_out(db_ctx_t *db, int64_t user, int64_t other)
{
    return graph_unfollow(db, user, other);
}

static int cut_in(db_ctx_t *db, int64_t user, int64_t other)
{
    return graph_unfollow(db, other, user);
}

static int cut_request(db_ctx_t *db, int64_t user, int64_t other)
{
    return graph_ignore(db, user, other);
}

/* Its own blocks, read on its own shard (others' blocks of it are theirs). */
static int erase_blocks(db_ctx_t *db, int64_t user, erase_counts_t *n)
{
    int64_t ids[ERASE_BATCH], after = 0;
    int k = ERASE_BATCH;
    while (k == ERASE_BATCH) {
        db_conn_t *c = db_shard(db, ids_shard(user));
        if (c == NULL)
            return -1;
        db_stmt_t *s = db_q(c, Q_BLOCKS_BY_USER);
        db_bind_i64(s, 1, user);
        db_bind_i64(s, 2, after);
        db_bind_i64(s, 3, ERASE_BATCH);
        if (db_read_ids(s, ERASE_BATCH, ids, &k) != DB_DONE)
            return -1;
        for (int i = 0; i < k; i++) {
            if (graph_unblock(db, user, ids[i]) == GRAPH_ERROR)
                return -1;
            n->blocks++;
        }
        if (k > 0)
            after = ids[k - 1];
        db_ctx_release(db);
    }
    return 0;
}

static int exec_user(db_conn_t *c, unsigned q, int64_t user)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, user);
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

/* The apps it registered, with every token they hold (on any shard; a
 * cached one stops within CACHE_SHORT_TTL_MS, when the check finds its
 * app gone), and the codes it was given. */
static int erase_apps(db_ctx_t *db, int64_t user)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return -1;
    for (;;) {
        db_stmt_t *s = db_q(c, Q_ERASE_APPS_OF);
        db_bind_i64(s, 1, user);
        int rc = db_step(s);
        int64_t app = rc == DB_ROW ? db_col_i64(s, 0) : 0;
        db_reset(s);
        if (rc == DB_DONE)
            break;
        unsigned char *revoked = NULL;
        int n = 0;
        if (rc != DB_ROW || apps_delete(db, user, app, &revoked, &n) == USERS_ERROR)
            return -1;
        free(revoked);
    }
    if (exec_user(c, Q_ERASE_SHARE_ACCOUNTS, user) != 0 || exec_user(c, Q_ERASE_DEVICES, user) != 0 ||
        exec_user(c, Q_ERASE_PUSH_PENDING, user) != 0)
        return -1;
    return exec_user(c, Q_ERASE_CODES, user);
}

/* What is left on its shard, then the row and the name. */
static int erase_rest(db_ctx_t *db, int64_t user, const char *username)
{
    for (size_t d = 0; d < db_count(db); d++) {
        db_conn_t *c = db_physical(db, d);
        if (c == NULL || exec_user(c, Q_ERASE_CELEB, user) != 0)
            return -1;
    }
    db_conn_t *c = db_shard(db, ids_shard(user));
    token_info_t *toks = NULL;
    int ntok = 0;
    if (c == NULL || tokens_list(db, user, &toks, &ntok) != USERS_OK)
        return -1;
    /* its tokens, out of every server's cache with the rows (the
     * suspension's job may have run before: they were there then) */
    int64_t *keys = xmalloc((size_t)(ntok + 1) * sizeof(int64_t));
    for (int i = 0; i < ntok; i++)
        keys[i] = tokens_cache_key(toks[i].hash);
    free(toks);
    if (db_begin(c) != DB_OK) {
        free(keys);
        return -1;
    }
    int rc = cache_drop_enqueue(c, ids_shard(user), CACHE_TOKEN, keys, (size_t)ntok);
    free(keys);
    static const unsigned qs[] = {Q_ERASE_TOKENS,     Q_ERASE_ACTIVITY, Q_ERASE_FEED,
                                  Q_ERASE_FEED_STATE, Q_ERASE_LIKED,    Q_ERASE_USER};
    for (size_t i = 0; rc == 0 && i < sizeof(qs) / sizeof(qs[0]); i++)
        rc = exec_user(c, qs[i], user);
    if (rc == 0 && c->drv->changes(c) != 1)
        rc = -1; /* unsuspended meanwhile (the row goes only while suspended): nothing more goes, the name stays */
    if (rc != 0 || db_commit(c) != DB_OK) {
        db_rollback(c);
        return -1;
    }
    /* the name last: a crash before it leaves a claim of a user that is no
     * more, which the next sign-up of the name takes over (users.c) */
    char ulower[USERNAME_MAX + 1];
    ascii_lower(ulower, username, strlen(username));
    db_conn_t *nc = db_for_key(db, ulower, strlen(ulower));
    if (nc == NULL)
        return -1;
    db_stmt_t *s = db_q(nc, Q_USERNAME_RELEASE);
    db_bind_cstr(s, 1, ulower);
    db_bind_i64(s, 2, user);
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

int users_erase(db_ctx_t *db, blob_store_t *store, int64_t user, erase_counts_t *n)
{
    memset(n, 0, sizeof(*n));
    user_t *u = xmalloc(sizeof(*u));
    int rc = users_get_any(db, user, u);
    if (rc == USERS_OK && !u->suspended)
        rc = users_set_suspended(db, user, true);
    if (rc == USERS_OK &&
        (erase_media(db, store, user, n) != 0 || erase_likes(db, user, n) != 0 || erase_comments(db, user, n) != 0 ||
         erase_edges(db, user, GRAPH_FOLLOWS, cut_out, &n->follows) != 0 ||
         erase_edges(db, user, GRAPH_REQUESTS, cut_out, &n->requests) != 0 ||
         erase_edges(db, user, GRAPH_FOLLOWED_BY, cut_in, &n->followers) != 0 ||
         erase_edges(db, user, GRAPH_REQUESTED_BY, cut_request, &n->requests) != 0 || erase_blocks(db, user, n) != 0 ||
         erase_apps(db, user) != 0 || erase_rest(db, user, u->username) != 0))
        rc = USERS_ERROR;
    db_ctx_release(db);
    free(u);
    return rc;
}
