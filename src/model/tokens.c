#include "model/tokens.h"
#include "core/buf.h"
#include "core/ids.h"
#include "model/apps.h"
#include "model/users.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int tokens_issue(db_ctx_t *db, int64_t user_id, char out[TOKEN_MAX_LEN + 1])
{
    db_conn_t *c = db_shard(db, ids_shard(user_id));
    return c == NULL ? USERS_ERROR : tokens_issue_on(c, user_id, out);
}

int tokens_issue_on(db_conn_t *c, int64_t user_id, char out[TOKEN_MAX_LEN + 1])
{
    return tokens_issue_app(c, user_id, 0, SCOPE_ALL, out);
}

int tokens_issue_app(db_conn_t *c, int64_t user_id, int64_t app_id, unsigned scopes, char out[TOKEN_MAX_LEN + 1])
{
    unsigned char h[TOKEN_HASH_BYTES];
    token_generate(user_id, out);
    token_hash(out, strlen(out), h);
    db_stmt_t *s = db_q(c, Q_TOKEN_INSERT);
    db_bind_blob(s, 1, h, sizeof(h));
    db_bind_i64(s, 2, user_id);
    db_bind_i64(s, 3, (int64_t)time(NULL));
    db_bind_i64(s, 4, app_id);
    db_bind_i64(s, 5, scopes);
    return db_exec_stmt(s) == DB_DONE ? USERS_OK : USERS_ERROR;
}

int tokens_check(db_ctx_t *db, const char *tok, size_t n, token_grant_t *grant)
{
    int64_t uid = token_user_id(tok, n);
    if (uid <= 0)
        return USERS_NOT_FOUND;
    db_conn_t *c = db_shard(db, ids_shard(uid));
    if (c == NULL)
        return USERS_ERROR;
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(tok, n, h);
    db_stmt_t *s = db_q(c, Q_TOKEN_LOOKUP);
    db_bind_blob(s, 1, h, sizeof(h));
    int rc = db_step(s);
    int64_t owner = rc == DB_ROW ? db_col_i64(s, 0) : 0;
    int64_t app = rc == DB_ROW ? db_col_i64(s, 1) : 0;
    unsigned scopes = rc == DB_ROW ? (unsigned)db_col_i64(s, 2) : 0;
    db_reset(s);
    if (rc == DB_DONE)
        return USERS_NOT_FOUND;
    if (rc != DB_ROW)
        return USERS_ERROR;
    /* Found by the hash of the whole token, so the prefix agrees unless the
     * table was tampered with; check anyway. */
    if (owner != uid)
        return USERS_NOT_FOUND;
    bool signed_only = false;
    if (app != 0) { /* an app's token works while the app exists (apps_delete) */
        db_conn_t *ac = db_shard(db, ids_shard(app));
        if (ac == NULL)
            return USERS_ERROR;
        s = db_q(ac, Q_APP_GET);
        db_bind_i64(s, 1, app);
        rc = db_step(s);
        signed_only = rc == DB_ROW && db_col_i64(s, 8) != 0;
        db_reset(s);
        if (rc != DB_ROW)
            return rc == DB_DONE ? USERS_NOT_FOUND : USERS_ERROR;
    }
    *grant = (token_grant_t){uid, app, scopes & SCOPE_ALL, signed_only};
    return USERS_OK;
}

/* The push devices registered with the token of hash h go with it (or,
 * `but`, every device of the user but those): a revoked session's phone
 * hears no more. */
static int drop_devices(db_conn_t *c, int64_t user, const unsigned char h[TOKEN_HASH_BYTES], bool but)
{
    static const unsigned char none[TOKEN_HASH_BYTES];
    db_stmt_t *s = db_q(c, but ? Q_DEVICES_BUT_TOKEN : Q_DEVICES_OF_TOKEN);
    db_bind_i64(s, 1, user);
    db_bind_blob(s, 2, h ? h : none, TOKEN_HASH_BYTES);
    return db_exec_stmt(s) == DB_DONE ? USERS_OK : USERS_ERROR;
}

/* A session ends in one transaction: its token and the devices it
 * registered go together, or neither does (a token gone with its devices
 * left would keep a revoked phone hearing pushes, and a retry finds no
 * token to revoke). USERS_NOT_FOUND if user has no token of hash h. */
static int end_session(db_conn_t *c, int64_t user, const unsigned char h[TOKEN_HASH_BYTES])
{
    if (db_begin(c) != DB_OK)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_TOKEN_DELETE_OF);
    db_bind_blob(s, 1, h, TOKEN_HASH_BYTES);
    db_bind_i64(s, 2, user);
    int rc = db_exec_stmt(s) == DB_DONE ? USERS_OK : USERS_ERROR;
    if (rc == USERS_OK && c->drv->changes(c) != 1)
        rc = USERS_NOT_FOUND;
    if (rc == USERS_OK)
        rc = drop_devices(c, user, h, false);
    if (rc != USERS_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        return rc == USERS_OK ? USERS_ERROR : rc;
    }
    return USERS_OK;
}

int tokens_revoke(db_ctx_t *db, const char *tok, size_t n)
{
    int64_t uid = token_user_id(tok, n);
    if (uid <= 0)
        return USERS_NOT_FOUND;
    db_conn_t *c = db_shard(db, ids_shard(uid));
    if (c == NULL)
        return USERS_ERROR;
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(tok, n, h);
    return end_session(c, uid, h);
}

int64_t tokens_cache_key(const unsigned char hash[TOKEN_HASH_BYTES])
{
    uint64_t k = 0;
    for (int i = 0; i < 8; i++)
        k = k << 8 | hash[i];
    k &= INT64_MAX;
    return k ? (int64_t)k : 1;
}

/* Every row of Q_TOKENS_OF for user, on c. */
static int read_tokens(db_conn_t *c, int64_t user, token_info_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    int cap = 0;
    db_stmt_t *s = db_q(c, Q_TOKENS_OF);
    db_bind_i64(s, 1, user);
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        size_t len = 0;
        const void *h = db_col_blob(s, 0, &len);
        if (h == NULL || len != TOKEN_HASH_BYTES)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xrealloc(*out, (size_t)cap * sizeof(**out));
        }
        memcpy((*out)[*n].hash, h, TOKEN_HASH_BYTES);
        (*out)[(*n)++].created_at = db_col_i64(s, 1);
    }
    db_reset(s);
    if (rc != DB_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return USERS_ERROR;
    }
    return USERS_OK;
}

int tokens_list(db_ctx_t *db, int64_t user, token_info_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    return c == NULL ? USERS_ERROR : read_tokens(c, user, out, n);
}

int tokens_revoke_hash(db_ctx_t *db, int64_t user, const unsigned char hash[TOKEN_HASH_BYTES])
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return USERS_ERROR;
    return end_session(c, user, hash);
}

int tokens_revoke_all(db_ctx_t *db, int64_t user, const char *password_hash, const unsigned char *keep,
                      token_info_t **revoked, int *n)
{
    *revoked = NULL;
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL || db_begin(c) != DB_OK)
        return USERS_ERROR;
    int rc = USERS_OK;
    if (password_hash != NULL) {
        db_stmt_t *s = db_q(c, Q_USER_SET_PASSWORD);
        db_bind_i64(s, 1, user);
        db_bind_text(s, 2, password_hash, strlen(password_hash));
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
        else if (c->drv->changes(c) != 1)
            rc = USERS_NOT_FOUND;
    }
    token_info_t *all = NULL;
    int nall = 0;
    if (rc == USERS_OK)
        rc = read_tokens(c, user, &all, &nall);
    int kept = 0;
    for (int i = 0; rc == USERS_OK && i < nall; i++) {
        if (keep != NULL && memcmp(all[i].hash, keep, TOKEN_HASH_BYTES) == 0)
            continue;
        db_stmt_t *s = db_q(c, Q_TOKEN_DELETE_OF);
        db_bind_blob(s, 1, all[i].hash, TOKEN_HASH_BYTES);
        db_bind_i64(s, 2, user);
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
        all[kept++] = all[i];
    }
    /* and what those sessions left: their devices, and codes not yet traded */
    if (rc == USERS_OK && drop_devices(c, user, keep, true) != USERS_OK)
        rc = USERS_ERROR;
    if (rc == USERS_OK) {
        db_stmt_t *s = db_q(c, Q_ERASE_CODES);
        db_bind_i64(s, 1, user);
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
    }
    if (rc != USERS_OK) {
        db_rollback(c);
        free(all);
        return rc;
    }
    /* the list either way: a failed commit may have landed all the same
     * (a primary lost mid-commit), and the cached tokens must not outlive it */
    *revoked = all;
    *n = kept;
    if (db_commit(c) != DB_OK) {
        db_rollback(c);
        return USERS_ERROR;
    }
    return USERS_OK;
}
