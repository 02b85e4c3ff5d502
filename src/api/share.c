/*
 * Sharing to servers that speak the Mastodon API (model/share.h):
 * GET/POST /v1/users/self/shares (the connected accounts; POST checks the
 * token with the server first), DELETE /v1/users/self/shares/{id}, and
 * GET /v1/media/{id}/shares (where the owner's photo went). An upload's
 * share=ID,... is read in api/media.c.
 */
#include "api/handlers.h"
#include "model/share.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct connect_work {
    api_work_t super;
    const apps_key_t *key;
    bool allow_private;
    share_account_t a;
    char *token;
    int result;
    char msg[256];
} connect_work_t;

static void connect_run(api_work_t *w_, worker_ctx_t *wc)
{
    connect_work_t *w = (connect_work_t *)w_;
    if (share_verify(w->a.server, w->token, w->allow_private, w->a.acct, w->msg, sizeof(w->msg)) != 0) {
        w->result = USERS_NOT_FOUND;
        return;
    }
    w->result = share_connect(wc->db, w->key, &w->a, w->token);
    if (w->result == USERS_TAKEN)
        snprintf(w->msg, sizeof(w->msg), "at most %d connected accounts: disconnect one first", SHARE_ACCOUNTS_MAX);
}

static void connect_done(api_work_t *w_, api_req_t *ar)
{
    connect_work_t *w = (connect_work_t *)w_;
    if (w->result == USERS_ERROR) {
        api_internal_error(ar, "connecting the account failed");
        return;
    }
    if (w->result != USERS_OK) {
        api_error(ar, 400, E_INVALID, w->msg);
        return;
    }
    buf_t b;
    buf_init(&b, 4096);
    share_account_json(&b, &w->a);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

static void connect_cleanup(api_work_t *w_)
{
    connect_work_t *w = (connect_work_t *)w_;
    if (w->token) {
        sodium_memzero(w->token, strlen(w->token));
        free(w->token);
    }
}

void shares_connect(api_req_t *ar)
{
    const char *token = api_param(ar, "token"); /* the remote account's (access_token is ours) */
    connect_work_t *w = xcalloc(1, sizeof(*w));
    const char *err = share_server_check(api_param(ar, "server_url"), ar->srv->hooks.allow_private, w->a.server,
                                         sizeof(w->a.server));
    if (err == NULL && (token == NULL || *token == '\0'))
        err = "token is required: an access token of the account, with write scope";
    else if (err == NULL && strlen(token) > SHARE_TOKEN_MAX)
        err = "token is too long";
    else if (err == NULL)
        for (const char *p = token; *p && err == NULL; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                err = "token contains a character it may not";
    if (err) {
        free(w);
        api_error(ar, 400, E_INVALID, err);
        return;
    }
    w->a.user = ar->viewer;
    w->key = &ar->srv->apps_key;
    w->allow_private = ar->srv->hooks.allow_private;
    w->token = xstrdup(token);
    w->super.run = connect_run;
    w->super.done = connect_done;
    w->super.cleanup = connect_cleanup;
    api_defer(ar, &w->super);
}

void shares_list(api_req_t *ar)
{
    share_account_t *as = NULL;
    int n = 0;
    if (share_accounts_of(ar->db, ar->viewer, &as, &n) != USERS_OK) {
        api_internal_error(ar, "accounts read failed");
        return;
    }
    buf_t b;
    buf_init(&b, 1 << 16);
    buf_putc(&b, '[');
    for (int i = 0; i < n; i++) {
        if (i)
            buf_putc(&b, ',');
        share_account_json(&b, &as[i]);
    }
    buf_putc(&b, ']');
    free(as);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

typedef struct disconnect_work {
    api_work_t super;
    int64_t user, id;
    int result;
} disconnect_work_t;

static void disconnect_run(api_work_t *w_, worker_ctx_t *wc)
{
    disconnect_work_t *w = (disconnect_work_t *)w_;
    w->result = share_disconnect(wc->db, w->user, w->id);
}

static void disconnect_done(api_work_t *w_, api_req_t *ar)
{
    disconnect_work_t *w = (disconnect_work_t *)w_;
    if (w->result == USERS_ERROR)
        api_internal_error(ar, "disconnecting failed");
    else if (w->result != USERS_OK)
        api_error(ar, 404, E_NOT_FOUND, "you have no connected account with this id");
    else
        api_ok_null(ar);
}

void shares_disconnect(api_req_t *ar)
{
    const route_arg_t *a = &ar->match.args[0];
    int64_t id = ids_parse(a->base, a->len);
    if (id <= 0) {
        api_error(ar, 404, E_NOT_FOUND, "you have no connected account with this id");
        return;
    }
    disconnect_work_t *w = xcalloc(1, sizeof(*w));
    w->user = ar->viewer;
    w->id = id;
    w->super.run = disconnect_run;
    w->super.done = disconnect_done;
    api_defer(ar, &w->super);
}

void media_shares(api_req_t *ar)
{
    int64_t owner;
    int64_t id = parse_media_id(ar->match.args[0].base, ar->match.args[0].len, &owner);
    media_t *m = xmalloc(sizeof(*m));
    int rc = id ? media_get(ar->db, id, m) : MEDIA_NOT_FOUND;
    bool mine = rc == MEDIA_OK && m->user_id == ar->viewer && (owner == 0 || owner == m->user_id);
    free(m);
    if (rc == MEDIA_ERROR) {
        api_internal_error(ar, "media read failed");
        return;
    }
    if (!mine) { /* where a photo went is its owner's business */
        api_error(ar, 404, E_NOT_FOUND, "you have no photo with this id");
        return;
    }
    buf_t b;
    buf_init(&b, 1 << 16);
    if (shares_json(ar->db, id, &b) != USERS_OK)
        api_internal_error(ar, "shares read failed");
    else
        api_ok(ar, &b, NULL);
    buf_free(&b);
}

bool share_param(api_req_t *ar, media_t *m)
{
    const char *p = api_param(ar, "share");
    m->nshare = 0;
    if (p == NULL || *p == '\0')
        return true;
    share_account_t *as = NULL;
    int n = 0;
    if (share_accounts_of(ar->db, ar->viewer, &as, &n) != USERS_OK) {
        api_internal_error(ar, "accounts read failed");
        return false;
    }
    const char *err = NULL;
    while (*p && err == NULL) {
        size_t len = strcspn(p, ",");
        int64_t id = ids_parse(p, len);
        bool found = false, dup = false;
        for (int i = 0; i < n && id > 0; i++)
            found |= as[i].id == id;
        for (int i = 0; i < m->nshare; i++)
            dup |= m->share_to[i] == id;
        if (!found)
            err = "share names an account you have not connected (GET /v1/users/self/shares)";
        else if (!dup && m->nshare < MEDIA_SHARE_MAX)
            m->share_to[m->nshare++] = id;
        p += len + (p[len] == ',');
    }
    free(as);
    if (err) {
        m->nshare = 0;
        api_error(ar, 400, E_INVALID, err);
        return false;
    }
    return true;
}
