#include "model/apps.h"
#include "core/ids.h"
#include "core/validate.h"
#include "model/tokens.h"
#include "model/users.h"
#include "obs/log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- the app itself ---- */

void apps_key_derive(apps_key_t *key, const unsigned char secret[32])
{
    static const unsigned char ctx[crypto_generichash_KEYBYTES] = "picogram app secrets, version 1";
    unsigned char k[32];
    crypto_generichash(k, sizeof(k), secret, 32, ctx, sizeof(ctx));
    memcpy(key->k, k, sizeof(k));
    sodium_memzero(k, sizeof(k));
}

void app_free(app_t *a)
{
    if (a == NULL)
        return;
    free(a->name);
    free(a->description);
    free(a->website);
    free(a->redirect_uris);
    sodium_memzero(a->secret, sizeof(a->secret));
    memset(a, 0, sizeof(*a));
}

bool app_redirect_ok(const app_t *a, const char *uri)
{
    size_t n = strlen(uri);
    for (const char *p = a->redirect_uris; p && *p;) {
        size_t l = strcspn(p, "\n");
        if (l == n && memcmp(p, uri, n) == 0)
            return true;
        p += l + (p[l] == '\n');
    }
    return false;
}

bool app_secret_ok(const app_t *a, const char *secret)
{
    return a->secret[0] != '\0' && secret != NULL && strlen(secret) == APP_SECRET_LEN &&
           sodium_memcmp(a->secret, secret, APP_SECRET_LEN) == 0;
}

#define SEALED_LEN (APPS_SEAL_OVERHEAD + APP_SECRET_LEN)
_Static_assert(APPS_SEAL_OVERHEAD == crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES, "the seal's size");

/* A new secret: 32 hex digits, and its sealed form. The app's ID is the
 * additional data of sorts: it keys nothing, but a sealed secret moved to
 * another app's row opens to a secret that app's owner never saw anyway. */
void apps_seal(const apps_key_t *key, const void *plain, size_t n, unsigned char *out)
{
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, plain, n, out, key->k);
}

bool apps_open(const apps_key_t *key, const unsigned char *sealed, size_t n, void *out)
{
    return n >= APPS_SEAL_OVERHEAD &&
           crypto_secretbox_open_easy(out, sealed + crypto_secretbox_NONCEBYTES, n - crypto_secretbox_NONCEBYTES,
                                      sealed, key->k) == 0;
}

static void new_secret(const apps_key_t *key, char secret[APP_SECRET_LEN + 1], unsigned char sealed[SEALED_LEN])
{
    unsigned char r[APP_SECRET_LEN / 2];
    randombytes_buf(r, sizeof(r));
    sodium_bin2hex(secret, APP_SECRET_LEN + 1, r, sizeof(r));
    sodium_memzero(r, sizeof(r));
    apps_seal(key, secret, APP_SECRET_LEN, sealed);
}

static char *col_dup(db_stmt_t *s, int c)
{
    size_t n = 0;
    const char *t = db_col_text(s, c, &n);
    return xstrndup(t ? t : "", t ? n : 0);
}

/* An app from a row of APP_GET's columns. */
static void read_app(db_stmt_t *s, const apps_key_t *key, app_t *a)
{
    memset(a, 0, sizeof(*a));
    a->id = db_col_i64(s, 0);
    a->owner = db_col_i64(s, 1);
    db_col_copy(s, 2, a->client_id, sizeof(a->client_id));
    a->name = col_dup(s, 3);
    a->description = col_dup(s, 4);
    a->website = col_dup(s, 5);
    a->redirect_uris = col_dup(s, 6);
    size_t n = 0;
    const unsigned char *sealed = db_col_blob(s, 7, &n);
    if (sealed == NULL || n != SEALED_LEN || !apps_open(key, sealed, n, a->secret))
        memset(a->secret, 0, sizeof(a->secret)); /* sealed under another server secret: no client can use it */
    a->secret[APP_SECRET_LEN] = '\0';
    a->enforce_signed = db_col_i64(s, 8) != 0;
    a->created_at = db_col_i64(s, 9);
}

int apps_create(db_ctx_t *db, const apps_key_t *key, int64_t owner, const char *name, const char *description,
                const char *website, const char *uris, bool enforce_signed, app_t *out)
{
    memset(out, 0, sizeof(*out));
    db_conn_t *c = db_shard(db, ids_shard(owner));
    if (c == NULL || db_begin(c) != DB_OK)
        return USERS_ERROR;
    /* the count under the owner's lock: two registrations at once take turns */
    int rc = db_lock(c, "apps", owner, 0) == DB_OK ? USERS_OK : USERS_ERROR;
    int count = 0;
    db_stmt_t *s;
    if (rc == USERS_OK) {
        s = db_q(c, Q_APPS_OF);
        db_bind_i64(s, 1, owner);
        int r;
        while ((r = db_step(s)) == DB_ROW)
            count++;
        db_reset(s);
        if (r != DB_DONE)
            rc = USERS_ERROR;
        else if (count >= APPS_PER_OWNER_MAX)
            rc = USERS_TAKEN;
    }
    int64_t id = ids_next(ids_global(), ids_shard(owner));
    unsigned char sealed[SEALED_LEN];
    new_secret(key, out->secret, sealed);
    unsigned char r[8];
    randombytes_buf(r, sizeof(r));
    char rnd[17];
    sodium_bin2hex(rnd, sizeof(rnd), r, sizeof(r));
    snprintf(out->client_id, sizeof(out->client_id), "%016llx%s", (unsigned long long)id, rnd);
    int64_t now = (int64_t)time(NULL);
    if (rc == USERS_OK) {
        s = db_q(c, Q_APP_INSERT);
        db_bind_i64(s, 1, id);
        db_bind_i64(s, 2, owner);
        db_bind_cstr(s, 3, out->client_id);
        db_bind_cstr(s, 4, name);
        db_bind_cstr(s, 5, description ? description : "");
        db_bind_cstr(s, 6, website ? website : "");
        db_bind_cstr(s, 7, uris);
        db_bind_blob(s, 8, sealed, sizeof(sealed));
        db_bind_i64(s, 9, enforce_signed);
        db_bind_i64(s, 10, now);
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
    }
    if (rc != USERS_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        app_free(out);
        return rc == USERS_OK ? USERS_ERROR : rc;
    }
    out->id = id;
    out->owner = owner;
    out->created_at = now;
    out->name = xstrdup(name);
    out->description = xstrdup(description ? description : "");
    out->website = xstrdup(website ? website : "");
    out->redirect_uris = xstrdup(uris);
    out->enforce_signed = enforce_signed;
    return USERS_OK;
}

int apps_get_id(db_ctx_t *db, const apps_key_t *key, int64_t id, app_t *out)
{
    memset(out, 0, sizeof(*out));
    if (id <= 0)
        return USERS_NOT_FOUND;
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_APP_GET);
    db_bind_i64(s, 1, id);
    int rc = db_step(s);
    if (rc == DB_ROW)
        read_app(s, key, out);
    db_reset(s);
    return rc == DB_ROW ? USERS_OK : rc == DB_DONE ? USERS_NOT_FOUND : USERS_ERROR;
}

int apps_get(db_ctx_t *db, const apps_key_t *key, const char *client_id, app_t *out)
{
    memset(out, 0, sizeof(*out));
    if (client_id == NULL || strlen(client_id) != APP_CLIENT_ID_LEN)
        return USERS_NOT_FOUND;
    uint64_t id = 0;
    for (int i = 0; i < 16; i++) {
        char ch = client_id[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return USERS_NOT_FOUND;
        id = id << 4 | (unsigned)d;
    }
    int rc = apps_get_id(db, key, (int64_t)(id & INT64_MAX), out);
    if (rc == USERS_OK && sodium_memcmp(out->client_id, client_id, APP_CLIENT_ID_LEN) != 0) {
        app_free(out);
        return USERS_NOT_FOUND;
    }
    return rc;
}

int apps_of(db_ctx_t *db, const apps_key_t *key, int64_t owner, app_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(owner));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_APPS_OF);
    db_bind_i64(s, 1, owner);
    int rc, cap = 0;
    while ((rc = db_step(s)) == DB_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, (size_t)cap * sizeof(**out));
        }
        read_app(s, key, &(*out)[(*n)++]);
    }
    db_reset(s);
    if (rc != DB_DONE) {
        for (int i = 0; i < *n; i++)
            app_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return USERS_ERROR;
    }
    return USERS_OK;
}

/* Appends the hashes of s's rows (a hash in column 0) to *hashes. */
static int read_hashes(db_stmt_t *s, unsigned char **hashes, int *n, int *cap)
{
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        size_t len = 0;
        const void *h = db_col_blob(s, 0, &len);
        if (h == NULL || len != TOKEN_HASH_BYTES)
            continue;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *hashes = xrealloc(*hashes, (size_t)*cap * TOKEN_HASH_BYTES);
        }
        memcpy(*hashes + (size_t)(*n)++ * TOKEN_HASH_BYTES, h, TOKEN_HASH_BYTES);
    }
    db_reset(s);
    return rc == DB_DONE ? 0 : -1;
}

int apps_delete(db_ctx_t *db, int64_t owner, int64_t id, unsigned char **revoked, int *n)
{
    *revoked = NULL;
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL)
        return USERS_ERROR;
    /* the row first: from then on its tokens fail the check (tokens_check
     * asks for the app), so a failure below leaves dead rows, never live ones */
    db_stmt_t *s = db_q(c, Q_APP_DELETE);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, owner);
    if (db_exec_stmt(s) != DB_DONE)
        return USERS_ERROR;
    if (c->drv->changes(c) != 1)
        return USERS_NOT_FOUND;
    int cap = 0, rc = USERS_OK;
    db_conn_t *first = db_physical(db, 0); /* its subscriptions (model/hooks.h) */
    if (first == NULL)
        rc = USERS_ERROR;
    else {
        s = db_q(first, Q_ERASE_APP_SUBS);
        db_bind_i64(s, 1, id);
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
    }
    for (size_t i = 0; i < db_count(db) && rc == USERS_OK; i++) {
        db_conn_t *p = db_physical(db, i);
        if (p == NULL || db_begin(p) != DB_OK) {
            rc = USERS_ERROR;
            break;
        }
        s = db_q(p, Q_APP_TOKENS);
        db_bind_i64(s, 1, id);
        if (read_hashes(s, revoked, n, &cap) != 0)
            rc = USERS_ERROR;
        unsigned qs[] = {Q_APP_TOKENS_DELETE, Q_APP_CODES_DELETE};
        for (size_t q = 0; q < 2 && rc == USERS_OK; q++) {
            s = db_q(p, qs[q]);
            db_bind_i64(s, 1, id);
            if (db_exec_stmt(s) != DB_DONE)
                rc = USERS_ERROR;
        }
        if (rc != USERS_OK || db_commit(p) != DB_OK) {
            db_rollback(p);
            rc = USERS_ERROR;
        }
    }
    if (rc != USERS_OK) /* the app is gone either way: the tokens left behind no longer check */
        log_warn("app %lld deleted, but not all of its tokens could be removed now", (long long)id);
    return USERS_OK;
}

int apps_update(db_ctx_t *db, const app_t *a)
{
    db_conn_t *c = db_shard(db, ids_shard(a->id));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_APP_UPDATE);
    db_bind_i64(s, 1, a->id);
    db_bind_i64(s, 2, a->owner);
    db_bind_cstr(s, 3, a->name);
    db_bind_cstr(s, 4, a->description);
    db_bind_cstr(s, 5, a->website);
    db_bind_cstr(s, 6, a->redirect_uris);
    db_bind_i64(s, 7, a->enforce_signed);
    if (db_exec_stmt(s) != DB_DONE)
        return USERS_ERROR;
    return c->drv->changes(c) == 1 ? USERS_OK : USERS_NOT_FOUND;
}

int apps_reset_secret(db_ctx_t *db, const apps_key_t *key, int64_t owner, int64_t id,
                      char secret[APP_SECRET_LEN + 1])
{
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL)
        return USERS_ERROR;
    unsigned char sealed[SEALED_LEN];
    new_secret(key, secret, sealed);
    db_stmt_t *s = db_q(c, Q_APP_SET_SECRET);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, owner);
    db_bind_blob(s, 3, sealed, sizeof(sealed));
    if (db_exec_stmt(s) != DB_DONE)
        return USERS_ERROR;
    return c->drv->changes(c) == 1 ? USERS_OK : USERS_NOT_FOUND;
}

/* ---- codes ---- */

int apps_code_issue(db_ctx_t *db, int64_t user, int64_t app, const char *redirect_uri, unsigned scopes,
                    char out[TOKEN_MAX_LEN + 1])
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL || db_begin(c) != DB_OK)
        return USERS_ERROR;
    int64_t now = (int64_t)time(NULL);
    /* the user's expired codes go as a new one comes: the table holds at
     * most what was asked for in the last APPS_CODE_TTL_S */
    db_stmt_t *s = db_q(c, Q_CODE_EXPIRED_DELETE);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, now);
    int rc = db_exec_stmt(s) == DB_DONE ? USERS_OK : USERS_ERROR;
    unsigned char h[TOKEN_HASH_BYTES];
    token_generate(user, out);
    token_hash(out, strlen(out), h);
    if (rc == USERS_OK) {
        s = db_q(c, Q_CODE_INSERT);
        db_bind_blob(s, 1, h, sizeof(h));
        db_bind_i64(s, 2, user);
        db_bind_i64(s, 3, app);
        db_bind_cstr(s, 4, redirect_uri);
        db_bind_i64(s, 5, scopes);
        db_bind_i64(s, 6, now + APPS_CODE_TTL_S);
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
    }
    if (rc != USERS_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        return USERS_ERROR;
    }
    return USERS_OK;
}

int apps_code_redeem(db_ctx_t *db, const char *code, int64_t app, const char *redirect_uri,
                     char token[TOKEN_MAX_LEN + 1], int64_t *user, unsigned *scopes,
                     unsigned char revoked[TOKEN_HASH_BYTES], bool *was_used)
{
    *was_used = false;
    size_t cl = code ? strlen(code) : 0;
    int64_t uid = token_user_id(code ? code : "", cl);
    if (uid <= 0 || cl > TOKEN_MAX_LEN)
        return USERS_NOT_FOUND;
    db_conn_t *c = db_shard(db, ids_shard(uid));
    if (c == NULL || db_begin(c) != DB_OK)
        return USERS_ERROR;
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(code, cl, h);
    db_stmt_t *s = db_q(c, Q_CODE_GET);
    db_bind_blob(s, 1, h, sizeof(h));
    int r = db_step(s);
    int rc = r == DB_ROW ? USERS_OK : r == DB_DONE ? USERS_NOT_FOUND : USERS_ERROR;
    int64_t owner = 0, code_app = 0, expires = 0;
    unsigned granted = 0;
    bool uri_ok = false, used = false;
    if (rc == USERS_OK) {
        owner = db_col_i64(s, 0);
        code_app = db_col_i64(s, 1);
        size_t ul = 0;
        const char *u = db_col_text(s, 2, &ul);
        uri_ok = u && redirect_uri && ul == strlen(redirect_uri) && memcmp(u, redirect_uri, ul) == 0;
        granted = (unsigned)db_col_i64(s, 3);
        expires = db_col_i64(s, 4);
        size_t tl = 0;
        const void *th = db_col_blob(s, 5, &tl);
        if (!db_col_null(s, 5) && th != NULL && tl == TOKEN_HASH_BYTES) {
            used = true;
            memcpy(revoked, th, TOKEN_HASH_BYTES);
        }
    }
    db_reset(s);
    if (rc == USERS_OK && (owner != uid || code_app != app))
        rc = USERS_NOT_FOUND; /* another app's code: it learns nothing, and the code stays good */
    if (rc == USERS_OK && used) {
        /* a replay: the token the first use made goes too */
        s = db_q(c, Q_TOKEN_DELETE_OF);
        db_bind_blob(s, 1, revoked, TOKEN_HASH_BYTES);
        db_bind_i64(s, 2, uid);
        rc = db_exec_stmt(s) == DB_DONE ? USERS_NOT_FOUND : USERS_ERROR;
        if (rc == USERS_NOT_FOUND && db_commit(c) == DB_OK) {
            *was_used = true;
            return USERS_NOT_FOUND;
        }
        db_rollback(c);
        return USERS_ERROR;
    }
    if (rc == USERS_OK && (!uri_ok || expires < (int64_t)time(NULL)))
        rc = USERS_NOT_FOUND;
    unsigned char th[TOKEN_HASH_BYTES];
    if (rc == USERS_OK && tokens_issue_app(c, uid, app, granted, token) != USERS_OK)
        rc = USERS_ERROR;
    if (rc == USERS_OK) {
        token_hash(token, strlen(token), th);
        s = db_q(c, Q_CODE_USED);
        db_bind_blob(s, 1, h, sizeof(h));
        db_bind_blob(s, 2, th, sizeof(th));
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
        else if (c->drv->changes(c) != 1) { /* traded by another request meanwhile: a replay, its token goes */
            db_rollback(c);
            return apps_code_redeem(db, code, app, redirect_uri, token, user, scopes, revoked, was_used);
        }
    }
    if (rc != USERS_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        return rc == USERS_OK ? USERS_ERROR : rc;
    }
    *user = uid;
    *scopes = granted;
    return USERS_OK;
}

/* ---- a user's authorised apps ---- */

int apps_authorized(db_ctx_t *db, int64_t user, user_app_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_USER_APPS);
    db_bind_i64(s, 1, user);
    int rc, cap = 0;
    while ((rc = db_step(s)) == DB_ROW) {
        int64_t app = db_col_i64(s, 0), at = db_col_i64(s, 1);
        unsigned sc = (unsigned)db_col_i64(s, 2);
        int i = 0;
        while (i < *n && (*out)[i].app != app)
            i++;
        if (i == *n) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 8;
                *out = xrealloc(*out, (size_t)cap * sizeof(**out));
            }
            (*out)[(*n)++] = (user_app_t){app, at, sc};
        } else {
            (*out)[i].scopes |= sc;
            if (at < (*out)[i].since)
                (*out)[i].since = at;
        }
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

int apps_revoke_user(db_ctx_t *db, int64_t user, int64_t app, unsigned char **revoked, int *n)
{
    *revoked = NULL;
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL || db_begin(c) != DB_OK)
        return USERS_ERROR;
    int cap = 0;
    db_stmt_t *s = db_q(c, Q_USER_APP_TOKENS);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, app);
    int rc = read_hashes(s, revoked, n, &cap) == 0 ? USERS_OK : USERS_ERROR;
    unsigned qs[] = {Q_USER_APP_TOKENS_DELETE, Q_USER_APP_CODES_DELETE}; /* codes not traded yet go too */
    for (size_t i = 0; i < 2 && rc == USERS_OK; i++) {
        s = db_q(c, qs[i]);
        db_bind_i64(s, 1, user);
        db_bind_i64(s, 2, app);
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
    }
    if (rc == USERS_OK && *n == 0)
        rc = USERS_NOT_FOUND;
    if (rc != USERS_OK) {
        db_rollback(c);
        free(*revoked);
        *revoked = NULL;
        *n = 0;
        return rc;
    }
    if (db_commit(c) != DB_OK) { /* the hashes stay: the commit may have landed (as tokens_revoke_all) */
        db_rollback(c);
        return USERS_ERROR;
    }
    return USERS_OK;
}
