/*
 * OAuth: POST /oauth/access_token with grant_type=password (the xAuth-style
 * grant v1 clients used). Answers {"access_token","user"} without the
 * envelope; errors are {"code","error_type":"OAuthException","error_message"}.
 *
 * Password checks run on the hashing pool (api_defer_hash). Failed log-ins
 * are counted per account name and per client address (http/throttle.h):
 * past `login_backoff_after` failures for a name (four times that for an
 * address) each attempt must wait, doubling from 1 s to 5 min, and is
 * answered 429 with Retry-After, without a hash, until then.
 *
 * A password change (POST /v1/users/self/password) checks the current
 * password the same way, counted as a log-in of the account: a stolen
 * token cannot try passwords faster than a log-in form.
 */
#include "api/handlers.h"
#include "api/render.h"
#include "model/tokens.h"
#include "model/users.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD_LOGIN "The username or password you entered is incorrect."
#define SUSPENDED_LOGIN "This account is suspended."
#define LOGIN_WAIT (-100) /* a login_work_t's result: too many failures, wait_ms to go */

typedef struct login_work {
    api_work_t super;
    throttle_t *throttle;
    login_share_t *shared; /* NULL without redis */
    uint64_t account, address; /* throttle keys */
    uint32_t backoff_after;
    int64_t user_id; /* 0: no such user, verify against a dummy hash anyway */
    char *password;
    int result;      /* USERS_OK, USERS_NOT_FOUND (bad credentials), USERS_ERROR, LOGIN_WAIT */
    int64_t wait_ms; /* LOGIN_WAIT: how long */
    bool web;   /* a browser log-in: v1 envelope, the token in the session cookie */
    user_t user;
    char token[TOKEN_MAX_LEN + 1];
} login_work_t;

/* Made once: verifying against it costs what a real verify costs, so a
 * wrong username takes as long as a wrong password. */
static char dummy_hash[128];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    password_hash("picogram-no-such-user", dummy_hash);
}

/* Counts a checked password against the account and the address. */
static void count_attempt(login_work_t *w, bool ok)
{
    int64_t now = ids_now_ms();
    if (ok) {
        throttle_success(w->throttle, w->account);
        if (w->shared)
            login_share_success(w->shared, w->account);
        return;
    }
    throttle_failure(w->throttle, w->account, w->backoff_after, now);
    throttle_failure(w->throttle, w->address, 4 * w->backoff_after, now);
    if (w->shared) {
        login_share_failure(w->shared, w->account, now);
        login_share_failure(w->shared, w->address, now);
    }
}

/* How long this server's own counts make the account or the address wait. */
static int64_t local_wait_ms(const login_work_t *w, int64_t now)
{
    int64_t wa = throttle_wait_ms(w->throttle, w->account, now);
    int64_t wb = throttle_wait_ms(w->throttle, w->address, now);
    return wa > wb ? wa : wb;
}

/* 429 with Retry-After (v1 envelope if `v1`, else OAuth's). */
static void say_wait(api_req_t *ar, int64_t wait_ms, bool v1)
{
    char msg[128];
    ar->retry_after = (int)((wait_ms + 999) / 1000);
    snprintf(msg, sizeof(msg), "Too many failed log-ins; try again in %d seconds.", ar->retry_after);
    if (v1)
        api_error(ar, 429, E_RATE, msg);
    else
        api_oauth_error(ar, 429, msg);
}

/* Whether a password may be checked for account from this client now.
 * False after answering (429). w's throttle fields are set for
 * count_attempt. With Redis the answer waits for the hashing thread
 * (must_wait), since asking it is a round trip. */
static bool may_try(api_req_t *ar, login_work_t *w, uint64_t account, bool v1)
{
    w->throttle = ar->srv->throttle;
    w->shared = ar->srv->login_share;
    w->account = account;
    w->address = ar->client;
    w->backoff_after = (uint32_t)ar->cfg->login_backoff_after;
    if (w->shared != NULL)
        return true;
    int64_t wait = local_wait_ms(w, ids_now_ms());
    if (wait > 0) {
        say_wait(ar, wait, v1);
        return false;
    }
    return true;
}

/* On the hashing thread, before the hash, with Redis: what every server
 * counted decides while Redis answers, else this server's own counts (on
 * an event loop, the round trip would stall every connection of that
 * loop). True, with w->result LOGIN_WAIT, if the attempt must wait. */
static bool must_wait(login_work_t *w)
{
    if (w->shared == NULL)
        return false; /* may_try decided */
    int64_t now = ids_now_ms();
    int64_t sa = login_share_wait_ms(w->shared, w->account, w->backoff_after, now);
    int64_t sb = sa < 0 ? -1 : login_share_wait_ms(w->shared, w->address, 4 * w->backoff_after, now);
    int64_t wait = sa >= 0 && sb >= 0 ? (sa > sb ? sa : sb) : local_wait_ms(w, now);
    if (wait <= 0)
        return false;
    w->result = LOGIN_WAIT;
    w->wait_ms = wait;
    return true;
}

static void login_run(api_work_t *w_, worker_ctx_t *wc)
{
    login_work_t *w = (login_work_t *)w_;
    if (must_wait(w))
        return;
    char hash[128] = "";
    int rc = w->user_id ? users_password_hash(wc->db, w->user_id, hash, sizeof(hash)) : USERS_NOT_FOUND;
    if (rc == USERS_ERROR) {
        w->result = USERS_ERROR;
        return;
    }
    if (rc != USERS_OK) {
        pthread_once(&dummy_once, make_dummy);
        password_verify(dummy_hash, w->password);
        w->result = USERS_NOT_FOUND;
    } else if (!password_verify(hash, w->password)) {
        w->result = USERS_NOT_FOUND;
    }
    count_attempt(w, w->result != USERS_NOT_FOUND);
    if (w->result == USERS_NOT_FOUND)
        return;
    w->result = users_get_any(wc->db, w->user_id, &w->user);
    if (w->result == USERS_OK && w->user.suspended)
        w->result = USERS_SUSPENDED; /* said only to who knows the password */
    if (w->result == USERS_OK && tokens_issue(wc->db, w->user_id, w->token) != USERS_OK)
        w->result = USERS_ERROR;
}

static void login_done(api_work_t *w_, api_req_t *ar)
{
    login_work_t *w = (login_work_t *)w_;
    if (w->result == LOGIN_WAIT) {
        say_wait(ar, w->wait_ms, w->web);
        return;
    }
    if (w->result == USERS_NOT_FOUND) {
        if (w->web)
            api_error(ar, 400, E_INVALID, BAD_LOGIN);
        else
            api_oauth_error(ar, 400, BAD_LOGIN);
        return;
    }
    if (w->result == USERS_SUSPENDED) {
        if (w->web)
            api_error(ar, 403, E_NOT_ALLOWED, SUSPENDED_LOGIN);
        else
            api_oauth_error(ar, 403, SUSPENDED_LOGIN);
        return;
    }
    if (w->result != USERS_OK) {
        api_internal_error(ar, "log-in failed");
        return;
    }
    if (w->web) {
        web_session_reply(ar, w->token, &w->user);
        return;
    }
    buf_t b;
    buf_init(&b, 16384);
    buf_puts(&b, "{\"access_token\":");
    buf_json_cstr(&b, w->token);
    buf_puts(&b, ",\"user\":");
    render_user_short(&b, &w->user);
    buf_putc(&b, '}');
    api_send(ar, 200, b.data, b.len);
    buf_free(&b);
}

static void login_cleanup(api_work_t *w_);

/* The throttle key of a log-in name (any case). */
static uint64_t account_key(const char *name, size_t n)
{
    char k[80] = "login:";
    size_t kl = 6;
    for (size_t i = 0; i < n && kl < sizeof(k); i++)
        k[kl++] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    uint64_t key = ratelimit_key(k, kl);
    return n + 6 > sizeof(k) ? key ^ ratelimit_key(name, n) : key; /* names too long to be valid stay apart */
}

/* Checks the password on a hashing thread, then answers with a new token. */
static void login(api_req_t *ar, const param_t *u, const param_t *p, bool web)
{
    login_work_t *w = xcalloc(1, sizeof(*w));
    if (!may_try(ar, w, account_key(u->val, u->vlen), web)) {
        free(w);
        return;
    }
    int64_t uid = 0;
    int rc = validate_username(u->val, u->vlen) ? USERS_NOT_FOUND : users_id_by_username(ar->db, u->val, &uid);
    if (rc == USERS_ERROR) {
        free(w);
        api_internal_error(ar, "username lookup failed");
        return;
    }
    w->super.run = login_run;
    w->super.done = login_done;
    w->super.cleanup = login_cleanup;
    w->user_id = rc == USERS_OK ? uid : 0;
    w->password = xstrdup(p->val);
    w->web = web;
    api_defer_hash(ar, &w->super);
}

static void login_cleanup(api_work_t *w_)
{
    login_work_t *w = (login_work_t *)w_;
    if (w->password) {
        sodium_memzero(w->password, strlen(w->password));
        free(w->password);
    }
    sodium_memzero(w->token, sizeof(w->token));
}

void oauth_access_token(api_req_t *ar)
{
    const char *grant = api_param(ar, "grant_type");
    if (grant == NULL) {
        api_oauth_error(ar, 400, "You must provide a grant_type");
        return;
    }
    if (strcmp(grant, "authorization_code") == 0) {
        oauth_code_grant(ar);
        return;
    }
    if (strcmp(grant, "password") != 0) {
        api_oauth_error(ar, 400, "Unsupported grant_type: use authorization_code or password");
        return;
    }
    const param_t *u = params_get(&ar->params, "username"), *p = params_get(&ar->params, "password");
    if (u == NULL || p == NULL || u->vlen == 0 || p->vlen == 0) {
        api_oauth_error(ar, 400, "You must provide a username and a password");
        return;
    }
    if (p->vlen > PASSWORD_MAX_BYTES) {
        api_oauth_error(ar, 400, BAD_LOGIN);
        return;
    }
    login(ar, u, p, false);
}

void web_login(api_req_t *ar)
{
    const param_t *u = params_get(&ar->params, "username"), *p = params_get(&ar->params, "password");
    if (u == NULL || p == NULL || u->vlen == 0 || p->vlen == 0) {
        api_error(ar, 400, E_INVALID, "username and password are required");
        return;
    }
    if (p->vlen > PASSWORD_MAX_BYTES) {
        api_error(ar, 400, E_INVALID, BAD_LOGIN);
        return;
    }
    login(ar, u, p, true);
}

/* ---- POST /v1/users/self/password ---- */

typedef struct password_work {
    login_work_t base; /* the current password and the throttle, as a log-in's */
    char *new_password;
    unsigned char keep[TOKEN_HASH_BYTES]; /* the token of this request stays */
    cache_t *cache;
} password_work_t;

static void password_run(api_work_t *w_, worker_ctx_t *wc)
{
    password_work_t *w = (password_work_t *)w_;
    login_work_t *l = &w->base;
    if (must_wait(l))
        return;
    char hash[128] = "";
    if (users_password_hash(wc->db, l->user_id, hash, sizeof(hash)) != USERS_OK) {
        l->result = USERS_ERROR;
        return;
    }
    bool ok = password_verify(hash, l->password);
    count_attempt(l, ok);
    if (!ok) {
        l->result = USERS_NOT_FOUND;
        return;
    }
    char fresh[128];
    if (password_hash(w->new_password, fresh) != 0) {
        l->result = USERS_ERROR;
        return;
    }
    /* the new password and every other token's end, in one transaction */
    token_info_t *gone = NULL;
    int n = 0;
    l->result = tokens_revoke_all(wc->db, l->user_id, fresh, w->keep, &gone, &n);
    for (int i = 0; i < n; i++) /* after the commit */
        cache_del(w->cache, CACHE_TOKEN, tokens_cache_key(gone[i].hash));
    free(gone);
    sodium_memzero(fresh, sizeof(fresh));
}

static void password_done(api_work_t *w_, api_req_t *ar)
{
    password_work_t *w = (password_work_t *)w_;
    if (w->base.result == LOGIN_WAIT)
        say_wait(ar, w->base.wait_ms, true);
    else if (w->base.result == USERS_NOT_FOUND)
        api_error(ar, 400, E_INVALID, "current_password is incorrect");
    else if (w->base.result != USERS_OK)
        api_internal_error(ar, "password change failed");
    else
        api_ok_null(ar);
}

static void password_cleanup(api_work_t *w_)
{
    password_work_t *w = (password_work_t *)w_;
    login_cleanup(&w->base.super);
    if (w->new_password) {
        sodium_memzero(w->new_password, strlen(w->new_password));
        free(w->new_password);
    }
}

void users_password(api_req_t *ar)
{
    const param_t *cur = params_get(&ar->params, "current_password");
    const param_t *fresh = params_get(&ar->params, "new_password");
    if (cur == NULL || fresh == NULL || cur->vlen == 0) {
        api_error(ar, 400, E_INVALID, "current_password and new_password are required");
        return;
    }
    const char *err = validate_password(fresh->val, fresh->vlen);
    if (err) {
        api_error(ar, 400, E_INVALID, err);
        return;
    }
    user_t *u = xmalloc(sizeof(*u));
    int rc = users_get(ar->db, ar->viewer, u);
    if (rc != USERS_OK) {
        free(u);
        api_internal_error(ar, "user lookup failed");
        return;
    }
    password_work_t *w = xcalloc(1, sizeof(*w));
    bool go = may_try(ar, &w->base, account_key(u->username, strlen(u->username)), true);
    free(u);
    if (!go) {
        free(w);
        return;
    }
    if (cur->vlen > PASSWORD_MAX_BYTES) { /* no password is that long */
        free(w);
        api_error(ar, 400, E_INVALID, "current_password is incorrect");
        return;
    }
    w->base.super.run = password_run;
    w->base.super.done = password_done;
    w->base.super.cleanup = password_cleanup;
    w->base.user_id = ar->viewer;
    w->base.password = xstrdup(cur->val);
    w->new_password = xstrdup(fresh->val);
    w->cache = ar->srv->cache;
    token_hash(ar->token, ar->token_len, w->keep);
    api_defer_hash(ar, &w->base.super);
}
