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

typedef struct login_work {
    api_work_t super;
    throttle_t *throttle;
    login_share_t *shared; /* NULL without redis */
    uint64_t account, address; /* throttle keys */
    uint32_t backoff_after;
    int64_t user_id; /* 0: no such user, verify against a dummy hash anyway */
    char *password;
    int result; /* USERS_OK, USERS_NOT_FOUND (bad credentials), USERS_ERROR */
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

static void login_run(api_work_t *w_, worker_ctx_t *wc)
{
    login_work_t *w = (login_work_t *)w_;
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
    int64_t now = ids_now_ms();
    if (w->result == USERS_NOT_FOUND) {
        throttle_failure(w->throttle, w->account, w->backoff_after, now);
        throttle_failure(w->throttle, w->address, 4 * w->backoff_after, now);
        if (w->shared) {
            login_share_failure(w->shared, w->account, now);
            login_share_failure(w->shared, w->address, now);
        }
        return;
    }
    throttle_success(w->throttle, w->account);
    if (w->shared)
        login_share_success(w->shared, w->account);
    w->result = users_get(wc->db, w->user_id, &w->user);
    if (w->result == USERS_OK && tokens_issue(wc->db, w->user_id, w->token) != USERS_OK)
        w->result = USERS_ERROR;
}

static void login_done(api_work_t *w_, api_req_t *ar)
{
    login_work_t *w = (login_work_t *)w_;
    if (w->result == USERS_NOT_FOUND) {
        if (w->web)
            api_error(ar, 400, E_INVALID, BAD_LOGIN);
        else
            api_oauth_error(ar, 400, BAD_LOGIN);
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
    uint64_t account = account_key(u->val, u->vlen), address = ar->client;
    int64_t now = ids_now_ms();
    int64_t wa = throttle_wait_ms(ar->srv->throttle, account, now);
    int64_t wb = throttle_wait_ms(ar->srv->throttle, address, now);
    int64_t wait = wa > wb ? wa : wb;
    /* what every server counted decides while Redis answers (a round trip:
     * never on an event loop, which hands the request to a worker here) */
    if (ar->srv->login_share != NULL) {
        if (!db_ctx_may_block(ar->db)) {
            api_internal_error(ar, "the shared log-in back-off needs a worker");
            return;
        }
        uint32_t after = (uint32_t)ar->cfg->login_backoff_after;
        int64_t sa = login_share_wait_ms(ar->srv->login_share, account, after, now);
        int64_t sb = sa < 0 ? -1 : login_share_wait_ms(ar->srv->login_share, address, 4 * after, now);
        if (sa >= 0 && sb >= 0)
            wait = sa > sb ? sa : sb;
    }
    if (wait > 0) {
        char msg[128];
        ar->retry_after = (int)((wait + 999) / 1000);
        snprintf(msg, sizeof(msg), "Too many failed log-ins; try again in %d seconds.", ar->retry_after);
        if (web)
            api_error(ar, 429, E_RATE, msg);
        else
            api_oauth_error(ar, 429, msg);
        return;
    }
    int64_t uid = 0;
    int rc = validate_username(u->val, u->vlen) ? USERS_NOT_FOUND : users_id_by_username(ar->db, u->val, &uid);
    if (rc == USERS_ERROR) {
        api_internal_error(ar, "username lookup failed");
        return;
    }
    login_work_t *w = xcalloc(1, sizeof(*w));
    w->super.run = login_run;
    w->super.done = login_done;
    w->super.cleanup = login_cleanup;
    w->user_id = rc == USERS_OK ? uid : 0;
    w->password = xstrdup(p->val);
    w->web = web;
    w->throttle = ar->srv->throttle;
    w->shared = ar->srv->login_share;
    w->account = account;
    w->address = address;
    w->backoff_after = (uint32_t)ar->cfg->login_backoff_after;
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
    if (strcmp(grant, "password") != 0) {
        api_oauth_error(ar, 400, "Unsupported grant_type: only 'password' is available");
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
