#include "model/share.h"
#include "core/ids.h"
#include "images/images.h"
#include "jobs/jobs.h"
#include "model/media.h"
#include "model/users.h"
#include "obs/log.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *share_server_check(const char *url, bool allow_private, char *out, size_t cap)
{
    size_t n = url ? strlen(url) : 0;
    while (n && url[n - 1] == '/')
        n--;
    if (n == 0)
        return "server_url is required";
    if (n > HOOK_URL_MAX - 32)
        return "server_url is too long";
    bool https = n > 8 && strncasecmp(url, "https://", 8) == 0;
    bool http = n > 7 && strncasecmp(url, "http://", 7) == 0;
    if (!https && !(http && allow_private))
        return "server_url must be an https:// URL";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || strchr("?#\"'<>\\`", url[i]))
            return "server_url must be the server's address, like https://mastodon.example";
    snprintf(out, cap, "%.*s", (int)n, url);
    return NULL;
}

/* A JSON answer's string field (or a number, as text) into out. */
static bool json_field(const buf_t *resp, const char *key, char *out, size_t cap)
{
    json_t *j = json_loadb(resp->data ? resp->data : "", resp->len, 0, NULL);
    json_t *v = json_object_get(j, key);
    bool ok = false;
    if (json_is_string(v) && json_string_length(v) < cap) {
        snprintf(out, cap, "%s", json_string_value(v));
        ok = true;
    } else if (json_is_integer(v)) {
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
        ok = true;
    }
    json_decref(j);
    return ok;
}

int share_verify(const char *server, const char *token, bool allow_private, char acct[SHARE_ACCT_MAX + 1], char *err,
                 size_t errlen)
{
    char url[HOOK_URL_MAX + 64], auth[SHARE_TOKEN_MAX + 32];
    snprintf(url, sizeof(url), "%s/api/v1/accounts/verify_credentials", server);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *headers[] = {auth, "Accept: application/json", NULL};
    hooks_req_t rq = {.url = url, .allow_private = allow_private, .headers = headers};
    long status = 0;
    buf_t resp;
    buf_init(&resp, 64 * 1024);
    char why[256];
    int rc = hooks_call(&rq, &status, &resp, why, sizeof(why));
    sodium_memzero(auth, sizeof(auth));
    if (rc != 0)
        snprintf(err, errlen, "cannot reach the server: %s", why);
    else if (status == 401 || status == 403)
        snprintf(err, errlen, "the server refused the access token (HTTP %ld)", status);
    else if (status != 200)
        snprintf(err, errlen, "the server answered HTTP %ld to verify_credentials", status);
    else if (!json_field(&resp, "acct", acct, SHARE_ACCT_MAX + 1) && !json_field(&resp, "username", acct, SHARE_ACCT_MAX + 1))
        snprintf(err, errlen, "the server's answer names no account: is it a Mastodon-API server?");
    else {
        buf_free(&resp);
        return 0;
    }
    buf_free(&resp);
    return -1;
}

int share_connect(db_ctx_t *db, const apps_key_t *key, share_account_t *a, const char *token)
{
    db_conn_t *c = db_shard(db, ids_shard(a->user));
    if (c == NULL || db_begin(c) != DB_OK)
        return USERS_ERROR;
    int rc = db_lock(c, "share_accounts", a->user, 0) == DB_OK ? USERS_OK : USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_SHARE_ACCOUNTS_OF);
    db_bind_i64(s, 1, a->user);
    int n = 0, r = DB_ERROR;
    if (rc == USERS_OK) {
        while ((r = db_step(s)) == DB_ROW)
            n++;
        db_reset(s);
        rc = r != DB_DONE ? USERS_ERROR : n >= SHARE_ACCOUNTS_MAX ? USERS_TAKEN : USERS_OK;
    }
    size_t tl = strlen(token);
    unsigned char sealed[APPS_SEAL_OVERHEAD + SHARE_TOKEN_MAX];
    a->id = ids_next(ids_global(), ids_shard(a->user));
    a->created_at = (int64_t)time(NULL);
    if (rc == USERS_OK && tl <= SHARE_TOKEN_MAX) {
        apps_seal(key, token, tl, sealed);
        s = db_q(c, Q_SHARE_ACCOUNT_INSERT);
        db_bind_i64(s, 1, a->id);
        db_bind_i64(s, 2, a->user);
        db_bind_cstr(s, 3, a->server);
        db_bind_cstr(s, 4, a->acct);
        db_bind_blob(s, 5, sealed, APPS_SEAL_OVERHEAD + tl);
        db_bind_i64(s, 6, a->created_at);
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
    }
    if (rc != USERS_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        return rc == USERS_OK ? USERS_ERROR : rc;
    }
    return USERS_OK;
}

int share_accounts_of(db_ctx_t *db, int64_t user, share_account_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_SHARE_ACCOUNTS_OF);
    db_bind_i64(s, 1, user);
    int rc, cap = 0;
    while ((rc = db_step(s)) == DB_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            *out = xrealloc(*out, (size_t)cap * sizeof(**out));
        }
        share_account_t *a = &(*out)[(*n)++];
        memset(a, 0, sizeof(*a));
        a->id = db_col_i64(s, 0);
        a->user = db_col_i64(s, 1);
        db_col_copy(s, 2, a->server, sizeof(a->server));
        db_col_copy(s, 3, a->acct, sizeof(a->acct));
        a->created_at = db_col_i64(s, 4);
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

int share_disconnect(db_ctx_t *db, int64_t user, int64_t id)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_SHARE_ACCOUNT_DELETE);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, user);
    if (db_exec_stmt(s) != DB_DONE)
        return USERS_ERROR;
    return c->drv->changes(c) == 1 ? USERS_OK : USERS_NOT_FOUND;
}

int share_enqueue(db_conn_t *c, int64_t media, int64_t account)
{
    db_stmt_t *s = db_q(c, Q_SHARE_INSERT);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, account);
    db_bind_i64(s, 3, (int64_t)time(NULL));
    if (db_exec_stmt(s) != DB_DONE)
        return DB_ERROR;
    char p[48];
    snprintf(p, sizeof(p), "%lld %lld", (long long)media, (long long)account);
    return jobs_enqueue(c, ids_shard(media), "share", p);
}

void share_account_json(buf_t *b, const share_account_t *a)
{
    buf_puts(b, "{\"id\":");
    buf_json_id(b, a->id);
    buf_puts(b, ",\"server_url\":");
    buf_json_cstr(b, a->server);
    buf_puts(b, ",\"acct\":");
    buf_json_cstr(b, a->acct);
    buf_printf(b, ",\"created_time\":\"%lld\"}", (long long)a->created_at);
}

/* An account's server and acct (the token not opened): USERS_*. */
static int account_get(db_ctx_t *db, int64_t id, share_account_t *a, unsigned char *sealed, size_t *sealed_len)
{
    memset(a, 0, sizeof(*a));
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_SHARE_ACCOUNT_GET);
    db_bind_i64(s, 1, id);
    int rc = db_step(s);
    if (rc == DB_ROW) {
        a->id = id;
        a->user = db_col_i64(s, 0);
        db_col_copy(s, 1, a->server, sizeof(a->server));
        db_col_copy(s, 2, a->acct, sizeof(a->acct));
        size_t n = 0;
        const void *t = db_col_blob(s, 3, &n);
        if (sealed_len)
            *sealed_len = 0;
        if (sealed && sealed_len && t && n <= APPS_SEAL_OVERHEAD + SHARE_TOKEN_MAX) {
            memcpy(sealed, t, n);
            *sealed_len = n;
        }
    }
    db_reset(s);
    return rc == DB_ROW ? USERS_OK : rc == DB_DONE ? USERS_NOT_FOUND : USERS_ERROR;
}

int shares_json(db_ctx_t *db, int64_t media, buf_t *b)
{
    db_conn_t *c = db_shard(db, ids_shard(media));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_SHARES_OF_MEDIA);
    db_bind_i64(s, 1, media);
    typedef struct {
        int64_t account, attempts, at;
        char status[16], url[HOOK_URL_MAX + 1], error[256];
    } row_t;
    row_t rows[SHARE_ACCOUNTS_MAX * 2];
    int n = 0, rc;
    while ((rc = db_step(s)) == DB_ROW) {
        if (n == (int)(sizeof(rows) / sizeof(rows[0])))
            continue;
        row_t *r = &rows[n++];
        r->account = db_col_i64(s, 0);
        db_col_copy(s, 1, r->status, sizeof(r->status));
        db_col_copy(s, 2, r->url, sizeof(r->url));
        db_col_copy(s, 3, r->error, sizeof(r->error));
        r->attempts = db_col_i64(s, 4);
        r->at = db_col_i64(s, 5);
    }
    db_reset(s);
    if (rc != DB_DONE)
        return USERS_ERROR;
    buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        share_account_t a;
        int r = account_get(db, rows[i].account, &a, NULL, NULL);
        if (r == USERS_ERROR)
            return USERS_ERROR;
        if (i)
            buf_putc(b, ',');
        buf_puts(b, "{\"account_id\":");
        buf_json_id(b, rows[i].account);
        buf_puts(b, ",\"server_url\":");
        buf_json_cstr(b, r == USERS_OK ? a.server : "");
        buf_puts(b, ",\"acct\":");
        buf_json_cstr(b, r == USERS_OK ? a.acct : "");
        buf_puts(b, ",\"status\":");
        buf_json_cstr(b, rows[i].status);
        buf_puts(b, ",\"url\":");
        if (rows[i].url[0])
            buf_json_cstr(b, rows[i].url);
        else
            buf_puts(b, "null");
        buf_puts(b, ",\"error\":");
        buf_json_cstr(b, rows[i].error);
        buf_printf(b, ",\"attempts\":%lld,\"updated_time\":\"%lld\"}", (long long)rows[i].attempts,
                   (long long)rows[i].at);
    }
    buf_putc(b, ']');
    return USERS_OK;
}

/* ---- the job ---- */

static int set_share(db_conn_t *c, int64_t media, int64_t account, const char *status, const char *remote_media,
                     const char *url, const char *error, int attempts)
{
    db_stmt_t *s = db_q(c, Q_SHARE_SET);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, account);
    db_bind_cstr(s, 3, status);
    db_bind_cstr(s, 4, remote_media);
    db_bind_cstr(s, 5, url);
    db_bind_cstr(s, 6, error);
    db_bind_i64(s, 7, attempts);
    db_bind_i64(s, 8, (int64_t)time(NULL));
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

/* Whether an HTTP answer is a refusal that a retry would not change. */
static bool final_refusal(long status)
{
    return status >= 400 && status < 500 && status != 408 && status != 429;
}

int share_job(db_ctx_t *db, char *payload, void *ctx)
{
    const share_ctx_t *sc = ctx;
    long long mid = 0, aid = 0;
    if (sscanf(payload, "%lld %lld", &mid, &aid) != 2)
        return JOB_DONE;
    db_conn_t *c = db_shard(db, ids_shard(mid));
    if (c == NULL)
        return JOB_RETRY;
    db_stmt_t *s = db_q(c, Q_SHARE_GET);
    db_bind_i64(s, 1, mid);
    db_bind_i64(s, 2, aid);
    int r = db_step(s);
    char status[16] = "", remote_media[128] = "";
    int attempts = 0;
    if (r == DB_ROW) {
        db_col_copy(s, 0, status, sizeof(status));
        db_col_copy(s, 1, remote_media, sizeof(remote_media));
        attempts = (int)db_col_i64(s, 2);
    }
    db_reset(s);
    if (r != DB_ROW)
        return r == DB_DONE ? JOB_DONE : JOB_RETRY;
    if (strcmp(status, "pending") != 0)
        return JOB_DONE; /* posted or failed already: a job run twice */

    media_t *m = xmalloc(sizeof(*m));
    share_account_t a;
    unsigned char sealed[APPS_SEAL_OVERHEAD + SHARE_TOKEN_MAX];
    size_t sealed_len = 0;
    char token[SHARE_TOKEN_MAX + 1] = "";
    buf_t photo, resp;
    buf_init(&photo, 64 << 20);
    buf_init(&resp, 64 * 1024);
    char err[256] = "", url[HOOK_URL_MAX + 64] = "", auth[SHARE_TOKEN_MAX + 32] = "";
    long code = 0;
    int result = JOB_DONE;
    int rc = media_get(db, mid, m);
    if (rc == MEDIA_NOT_FOUND) { /* deleted before it could go: nothing to share */
        s = db_q(c, Q_SHARE_DELETE);
        db_bind_i64(s, 1, mid);
        db_bind_i64(s, 2, aid);
        result = db_exec_stmt(s) == DB_DONE ? JOB_DONE : JOB_RETRY;
        goto out;
    }
    if (rc != MEDIA_OK) {
        result = JOB_RETRY;
        goto out;
    }
    rc = account_get(db, aid, &a, sealed, &sealed_len);
    if (rc == USERS_ERROR) {
        result = JOB_RETRY;
        goto out;
    }
    if (rc != USERS_OK || sealed_len < APPS_SEAL_OVERHEAD ||
        !apps_open(sc->key, sealed, sealed_len, token)) {
        result = set_share(c, mid, aid, "failed", remote_media, "", "the account was disconnected", attempts) == 0
                     ? JOB_DONE
                     : JOB_RETRY;
        goto out;
    }
    token[sealed_len - APPS_SEAL_OVERHEAD] = '\0';
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    if (remote_media[0] == '\0') { /* the photo first (once: its ID is kept for a retry) */
        char key[BLOB_KEY_MAX];
        blob_media_key(key, sizeof(key), m->id, m->file_key, img_renditions[IMG_HIGH].suffix);
        if (blob_get(sc->store, key, &photo) != BLOB_OK) {
            snprintf(err, sizeof(err), "the photo could not be read from the store");
        } else {
            snprintf(url, sizeof(url), "%s/api/v2/media", a.server);
            const char *headers[] = {auth, "Accept: application/json", NULL};
            hooks_req_t rq = {.url = url, .allow_private = sc->allow_private, .post = true, .headers = headers,
                              .file_field = "file", .file_name = "photo.jpg", .file_type = "image/jpeg",
                              .file = photo.data, .file_len = photo.len};
            if (hooks_call(&rq, &code, &resp, err, sizeof(err)) == 0 && (code == 200 || code == 202) &&
                !json_field(&resp, "id", remote_media, sizeof(remote_media)))
                snprintf(err, sizeof(err), "the server's media answer has no id");
            else if (code && code != 200 && code != 202)
                snprintf(err, sizeof(err), "POST /api/v2/media answered HTTP %ld", code);
        }
        if (remote_media[0] && set_share(c, mid, aid, "pending", remote_media, "", "", attempts) != 0) {
            result = JOB_RETRY;
            goto out;
        }
    }
    if (remote_media[0]) { /* then the post, idempotent across retries */
        buf_reset(&resp);
        code = 0;
        buf_t form;
        buf_init(&form, 16384);
        buf_puts(&form, "status=");
        for (const unsigned char *p = (const unsigned char *)(m->has_caption ? m->caption : ""); *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
                buf_putc(&form, (char)*p);
            else
                buf_printf(&form, "%%%02X", *p);
        }
        buf_puts(&form, "&media_ids%5B%5D=");
        buf_puts(&form, remote_media);
        char idem[96];
        snprintf(idem, sizeof(idem), "Idempotency-Key: picogram-%lld-%lld", mid, aid);
        snprintf(url, sizeof(url), "%s/api/v1/statuses", a.server);
        const char *headers[] = {auth, idem, "Content-Type: application/x-www-form-urlencoded",
                                 "Accept: application/json", NULL};
        hooks_req_t rq = {.url = url, .allow_private = sc->allow_private, .post = true, .headers = headers,
                          .body = form.data, .len = form.len};
        err[0] = '\0';
        char posted[HOOK_URL_MAX + 1] = "";
        if (hooks_call(&rq, &code, &resp, err, sizeof(err)) == 0 && code == 200) {
            if (!json_field(&resp, "url", posted, sizeof(posted)))
                json_field(&resp, "uri", posted, sizeof(posted));
            buf_free(&form);
            result = set_share(c, mid, aid, "posted", remote_media, posted, "", attempts + 1) == 0 ? JOB_DONE
                                                                                                   : JOB_RETRY;
            goto out;
        }
        buf_free(&form);
        if (code && !err[0])
            snprintf(err, sizeof(err), "POST /api/v1/statuses answered HTTP %ld", code);
    }
    attempts++;
    /* a 422 may be the photo still processing (a 202 from /api/v2/media):
     * it gets two more tries before it counts as a refusal */
    bool processing = code == 422 && remote_media[0] && attempts < 3;
    bool give_up = (final_refusal(code) && !processing) || attempts >= sc->max_attempts;
    if (give_up)
        log_warn("share of photo %lld to %s given up after %d attempt(s): %s", mid, a.server, attempts, err);
    if (set_share(c, mid, aid, give_up ? "failed" : "pending", remote_media, "", err, attempts) != 0)
        result = JOB_RETRY;
    else
        result = give_up ? JOB_DONE : JOB_RETRY;
out:
    sodium_memzero(token, sizeof(token));
    sodium_memzero(auth, sizeof(auth));
    buf_free(&photo);
    buf_free(&resp);
    free(m);
    return result;
}
