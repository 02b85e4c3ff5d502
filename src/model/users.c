#include "model/users.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/text.h"
#include "core/validate.h"
#include "cache/cache.h"
#include "jobs/jobs.h"
#include "model/tokens.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void lower(char *out, const char *s)
{
    ascii_lower(out, s, strlen(s));
}

/* A full name as search matches it: lower-cased beyond ASCII (`Émile` is
 * `émile`), as migration 15 made the rows before it. */
static void fold(char *out, size_t cap, const char *s)
{
    text_lower(s, strlen(s), out, cap);
}

static void row_to_user(db_stmt_t *s, user_t *u)
{
    u->id = db_col_i64(s, 0);
    db_col_copy(s, 1, u->username, sizeof(u->username));
    db_col_copy(s, 2, u->full_name, sizeof(u->full_name));
    db_col_copy(s, 3, u->bio, sizeof(u->bio));
    db_col_copy(s, 4, u->website, sizeof(u->website));
    db_col_copy(s, 5, u->profile_picture, sizeof(u->profile_picture));
    u->is_private = db_col_i64(s, 6) != 0;
    u->media_count = db_col_i64(s, 7);
    u->follows_count = db_col_i64(s, 8);
    u->followed_by_count = db_col_i64(s, 9);
    u->created_at = db_col_i64(s, 10);
    db_col_copy(s, 11, u->email, sizeof(u->email));
    u->suspended = db_col_i64(s, 12) != 0;
}

static int insert_user(db_conn_t *c, int64_t id, const user_new_t *in, const char *ulower, int64_t now)
{
    char flower[sizeof(((user_t *)0)->full_name)];
    fold(flower, sizeof(flower), in->full_name);
    db_stmt_t *s = db_q(c, Q_USER_INSERT);
    db_bind_i64(s, 1, id);
    db_bind_cstr(s, 2, in->username);
    db_bind_cstr(s, 3, ulower);
    db_bind_cstr(s, 4, in->full_name);
    db_bind_cstr(s, 5, flower);
    db_bind_cstr(s, 6, in->email);
    db_bind_cstr(s, 7, in->password_hash);
    db_bind_i64(s, 8, now);
    db_bind_i64(s, 9, in->suspended ? 1 : 0);
    return db_exec_stmt(s);
}

static int claim_name(db_conn_t *c, const char *ulower, unsigned shard, int64_t id)
{
    db_stmt_t *s = db_q(c, Q_USERNAME_CLAIM);
    db_bind_cstr(s, 1, ulower);
    db_bind_i64(s, 2, id);
    db_bind_i64(s, 3, shard);
    return db_exec_stmt(s);
}

static void release_name(db_conn_t *c, const char *ulower, int64_t id)
{
    db_stmt_t *s = db_q(c, Q_USERNAME_RELEASE);
    db_bind_cstr(s, 1, ulower);
    db_bind_i64(s, 2, id);
    db_exec_stmt(s);
}

static int rc_of(int rc)
{
    return rc == DB_DONE ? USERS_OK : rc == DB_CONSTRAINT ? USERS_TAKEN : USERS_ERROR;
}

#define CLAIM_ORPHAN_MS 60000

/* Who holds a name: nobody (USERS_NOT_FOUND), a user that exists or a
 * claim young enough to be a sign-up still on its way (USERS_TAKEN), or a
 * claim of a user that never came to be, a sign-up that crashed between
 * its two databases (USERS_OK, *holder its ID); or USERS_ERROR. */
static int name_holder(db_ctx_t *db, const char *username, int64_t *holder)
{
    int rc = users_id_by_username(db, username, holder);
    if (rc != USERS_OK)
        return rc;
    user_t *u = xmalloc(sizeof(*u));
    rc = users_get_any(db, *holder, u); /* a suspended user keeps the name */
    free(u);
    if (rc != USERS_NOT_FOUND)
        return rc == USERS_OK ? USERS_TAKEN : rc;
    return ids_now_ms() - ids_unix_ms(*holder) < CLAIM_ORPHAN_MS ? USERS_TAKEN : USERS_OK;
}

int users_name_taken(db_ctx_t *db, const char *username)
{
    int64_t holder;
    int rc = name_holder(db, username, &holder);
    return rc == USERS_NOT_FOUND || rc == USERS_OK ? USERS_NOT_FOUND : rc;
}

/* The name is claimed: by a user, or a claim too young to take
 * (USERS_TAKEN), or by one that never came to be, which id then takes over
 * (USERS_OK); if the claim has gone meanwhile, id claims the name. */
static int take_over_name(db_ctx_t *db, db_conn_t *nc, const char *ulower, unsigned shard, int64_t id)
{
    int64_t holder = 0;
    int rc = name_holder(db, ulower, &holder);
    if (rc == USERS_NOT_FOUND)
        return rc_of(claim_name(nc, ulower, shard, id));
    if (rc != USERS_OK)
        return rc;
    db_stmt_t *s = db_q(nc, Q_USERNAME_TAKEOVER);
    db_bind_cstr(s, 1, ulower);
    db_bind_i64(s, 2, holder);
    db_bind_i64(s, 3, id);
    if (db_exec_stmt(s) != DB_DONE)
        return USERS_ERROR;
    return nc->drv->changes(nc) == 1 ? USERS_OK : USERS_TAKEN;
}

/* The user's row and, if asked, its first token, on the user's shard. */
static int user_rows(db_conn_t *c, int64_t id, const user_new_t *in, const char *ulower, int64_t now)
{
    int rc = rc_of(insert_user(c, id, in, ulower, now));
    if (rc == USERS_OK && in->token != NULL && tokens_issue_on(c, id, in->token) != USERS_OK)
        rc = USERS_ERROR;
    return rc;
}

int users_create(db_ctx_t *db, int64_t id, const user_new_t *in, user_t *out)
{
    char ulower[USERNAME_MAX + 1];
    lower(ulower, in->username);
    unsigned name_shard = db_key_shard(db, ulower, strlen(ulower));
    db_conn_t *uc = db_shard(db, ids_shard(id)), *nc = db_shard(db, name_shard);
    if (uc == NULL || nc == NULL)
        return USERS_ERROR;
    int64_t now = (int64_t)time(NULL);
    int rc;
    if (uc == nc) { /* one database: the name and the user in one transaction */
        if (db_begin(uc) != DB_OK)
            return USERS_ERROR;
        int claim = rc_of(claim_name(uc, ulower, name_shard, id));
        rc = claim == USERS_OK ? user_rows(uc, id, in, ulower, now) : claim;
        if (rc == USERS_OK && db_commit(uc) == DB_OK)
            return users_get_any(db, id, out);
        db_rollback(uc);
        /* taken: by a user, or by a sign-up that crashed between two
         * databases (its user ID's shard was elsewhere), as below */
        if (claim != USERS_TAKEN)
            return rc == USERS_OK ? USERS_ERROR : rc;
        if ((rc = take_over_name(db, nc, ulower, name_shard, id)) != USERS_OK)
            return rc;
    } else {
        /* Two databases: the name first, then the user. A crash between the
         * two leaves a claim of a user that never came to be; a later sign-up
         * takes such a claim over once it is old enough not to be a sign-up
         * still in progress. */
        rc = rc_of(claim_name(nc, ulower, name_shard, id));
        if (rc == USERS_TAKEN)
            rc = take_over_name(db, nc, ulower, name_shard, id);
        if (rc != USERS_OK)
            return rc;
    }
    /* the name is id's: the user's rows */
    if (db_begin(uc) != DB_OK || user_rows(uc, id, in, ulower, now) != USERS_OK || db_commit(uc) != DB_OK) {
        db_rollback(uc);
        release_name(nc, ulower, id);
        return USERS_ERROR; /* an ID collision is not a taken name */
    }
    return users_get_any(db, id, out);
}

int users_get(db_ctx_t *db, int64_t id, user_t *out)
{
    int rc = users_get_any(db, id, out);
    return rc == USERS_OK && out->suspended ? USERS_NOT_FOUND : rc;
}

int users_set_suspended(db_ctx_t *db, int64_t id, bool suspended)
{
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL || db_begin(c) != DB_OK)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_USER_SET_SUSPENDED);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, suspended ? 1 : 0);
    int rc = db_exec_stmt(s) == DB_DONE ? (c->drv->changes(c) == 1 ? USERS_OK : USERS_NOT_FOUND) : USERS_ERROR;
    char payload[32];
    snprintf(payload, sizeof(payload), "%lld", (long long)id);
    if (rc == USERS_OK && jobs_enqueue(c, ids_shard(id), "user_changed", payload) != DB_DONE)
        rc = USERS_ERROR;
    if (rc != USERS_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        return rc == USERS_OK ? USERS_ERROR : rc;
    }
    jobs_kick();
    return USERS_OK;
}

int users_changed_job(db_ctx_t *db, char *payload, void *ctx)
{
    cache_t *cache = ctx;
    long long id = 0;
    if (sscanf(payload, "%lld", &id) != 1 || id <= 0)
        return JOB_DONE; /* not ours to repair */
    if (cache == NULL)
        return JOB_DONE;
    token_info_t *toks = NULL;
    int n = 0;
    if (tokens_list(db, id, &toks, &n) != USERS_OK)
        return JOB_RETRY;
    for (int i = 0; i < n; i++)
        cache_del(cache, CACHE_TOKEN, tokens_cache_key(toks[i].hash));
    free(toks);
    cache_del(cache, CACHE_USER, id);
    cache_del(cache, CACHE_PROFILE, id);
    return JOB_DONE;
}

int users_ids_after(db_ctx_t *db, size_t i, int64_t after, int limit, int64_t *ids, int *n)
{
    *n = 0;
    db_conn_t *c = db_physical(db, i);
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_USER_IDS_AFTER);
    db_bind_i64(s, 1, after);
    db_bind_i64(s, 2, limit);
    return db_read_ids(s, limit, ids, n) == DB_DONE ? USERS_OK : USERS_ERROR;
}

int users_get_any(db_ctx_t *db, int64_t id, user_t *out)
{
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_USER_BY_ID);
    db_bind_i64(s, 1, id);
    int rc = db_step(s);
    if (rc == DB_ROW)
        row_to_user(s, out);
    db_reset(s);
    return rc == DB_ROW ? USERS_OK : rc == DB_DONE ? USERS_NOT_FOUND : USERS_ERROR;
}

int users_id_by_username(db_ctx_t *db, const char *username, int64_t *id)
{
    char ulower[USERNAME_MAX + 1];
    if (strlen(username) > USERNAME_MAX)
        return USERS_NOT_FOUND;
    lower(ulower, username);
    db_conn_t *c = db_for_key(db, ulower, strlen(ulower));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_USERNAME_LOOKUP);
    db_bind_cstr(s, 1, ulower);
    int rc = db_step(s);
    if (rc == DB_ROW)
        *id = db_col_i64(s, 0);
    db_reset(s);
    return rc == DB_ROW ? USERS_OK : rc == DB_DONE ? USERS_NOT_FOUND : USERS_ERROR;
}

int users_password_hash(db_ctx_t *db, int64_t id, char *out, size_t cap)
{
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_USER_AUTH_BY_ID);
    db_bind_i64(s, 1, id);
    int rc = db_step(s);
    if (rc == DB_ROW)
        db_col_copy(s, 0, out, cap);
    db_reset(s);
    return rc == DB_ROW ? USERS_OK : rc == DB_DONE ? USERS_NOT_FOUND : USERS_ERROR;
}

int users_update(db_ctx_t *db, const user_t *u)
{
    db_conn_t *c = db_shard(db, ids_shard(u->id));
    if (c == NULL)
        return USERS_ERROR;
    char flower[sizeof(u->full_name)];
    fold(flower, sizeof(flower), u->full_name);
    db_stmt_t *s = db_q(c, Q_USER_UPDATE);
    db_bind_i64(s, 1, u->id);
    db_bind_cstr(s, 2, u->full_name);
    db_bind_cstr(s, 3, flower);
    db_bind_cstr(s, 4, u->bio);
    db_bind_cstr(s, 5, u->website);
    db_bind_i64(s, 6, u->is_private);
    db_bind_cstr(s, 7, u->email);
    return db_exec_stmt(s) == DB_DONE ? USERS_OK : USERS_ERROR;
}

/* Search order: the exact username first, then usernames that start with
 * q, then full names that do; each group most followed first, then by
 * lower-cased username. (The same order as Q_USER_SEARCH.) */
static bool before(const user_t *a, const user_t *b, const char *q)
{
    char la[USERNAME_MAX + 1], lb[USERNAME_MAX + 1];
    lower(la, a->username);
    lower(lb, b->username);
    size_t ql = strlen(q);
    bool ea = strcmp(la, q) == 0, eb = strcmp(lb, q) == 0;
    if (ea != eb)
        return ea;
    bool pa = strncmp(la, q, ql) == 0, pb = strncmp(lb, q, ql) == 0;
    if (pa != pb)
        return pa;
    if (a->followed_by_count != b->followed_by_count)
        return a->followed_by_count > b->followed_by_count;
    return strcmp(la, lb) < 0;
}

/* Inserts u into the sorted list out[0..*n), keeping at most limit. */
static void merge_in(user_t *out, int *n, int limit, const user_t *u, const char *q)
{
    int pos = *n;
    while (pos > 0 && before(u, &out[pos - 1], q))
        pos--;
    if (pos >= limit)
        return;
    int last = *n < limit ? *n : limit - 1;
    memmove(&out[pos + 1], &out[pos], (size_t)(last - pos) * sizeof(user_t));
    out[pos] = *u;
    if (*n < limit)
        (*n)++;
}

int users_search(db_ctx_t *db, const char *q, int limit, user_t *out, int *n)
{
    /* Prefix range [q, q + U+10FFFF): byte order, so it uses the indexes. */
    char lo[4 * FULL_NAME_MAX + 64], hi[sizeof(lo) + 4]; /* q: at most FULL_NAME_MAX characters, lower-cased */
    size_t ql = strlen(q);
    if (ql >= sizeof(lo))
        ql = sizeof(lo) - 1;
    ql = text_lower(q, ql, lo, sizeof(lo)); /* usernames are ASCII: the same for them */
    memcpy(hi, lo, ql);
    memcpy(hi + ql, "\xf4\x8f\xbf\xbf", 5);
    *n = 0;
    /* Each physical database answers for its own users (one, embedded); the
     * lists are merged in the same order the query gives. */
    size_t ndb = db_count(db);
    for (size_t i = 0; i < ndb; i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL)
            return USERS_ERROR;
        db_stmt_t *s = db_q(c, Q_USER_SEARCH);
        db_bind_cstr(s, 1, lo);
        db_bind_cstr(s, 2, hi);
        db_bind_i64(s, 3, limit);
        int rc = DB_DONE;
        user_t u;
        while ((rc = db_step(s)) == DB_ROW) {
            row_to_user(s, &u);
            merge_in(out, n, limit, &u, lo);
        }
        db_reset(s);
        if (rc == DB_ERROR)
            return USERS_ERROR;
    }
    return USERS_OK;
}
