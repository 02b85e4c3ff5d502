/*
 * Accounts: sign-up (POST /v1/accounts), log-out (POST /v1/accounts/logout),
 * and the password hashing that log-in shares.
 */
#include "api/handlers.h"
#include "api/render.h"
#include "model/tokens.h"
#include "model/users.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int password_hash(const char *password, char out[128])
{
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

bool password_verify(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

/* A validated text parameter, or "" if absent. False after answering 400. */
static bool opt_text(api_req_t *ar, const char *key, const char *(*check)(const char *, size_t), const char **out)
{
    const param_t *p = params_get(&ar->params, key);
    *out = p ? p->val : "";
    const char *err = p ? check(p->val, p->vlen) : NULL;
    if (err) {
        api_error(ar, 400, E_INVALID, err);
        return false;
    }
    return true;
}

typedef struct signup_work {
    api_work_t super;
    char *username, *password, *full_name, *email;
    int result;
    bool web; /* a browser sign-up: the token goes in the session cookie */
    user_t user;
    char token[TOKEN_MAX_LEN + 1];
} signup_work_t;

static void signup_run(api_work_t *w_, worker_ctx_t *wc)
{
    signup_work_t *w = (signup_work_t *)w_;
    char hash[128];
    if (password_hash(w->password, hash) != 0) {
        w->result = USERS_ERROR;
        return;
    }
    user_new_t in = {.username = w->username, .full_name = w->full_name, .email = w->email, .password_hash = hash};
    w->result = users_create(wc->db, w->user.id, &in, &w->user);
    if (w->result == USERS_OK && tokens_issue(wc->db, w->user.id, w->token) != USERS_OK)
        w->result = USERS_ERROR;
}

static void signup_done(api_work_t *w_, api_req_t *ar)
{
    signup_work_t *w = (signup_work_t *)w_;
    if (w->result == USERS_TAKEN) {
        api_error(ar, 400, E_INVALID, "this username is taken");
        return;
    }
    if (w->result != USERS_OK) {
        api_internal_error(ar, "sign-up failed");
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
    render_user_full(&b, &w->user);
    buf_putc(&b, '}');
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

static void signup_cleanup(api_work_t *w_)
{
    signup_work_t *w = (signup_work_t *)w_;
    free(w->username);
    if (w->password) {
        sodium_memzero(w->password, strlen(w->password));
        free(w->password);
    }
    free(w->full_name);
    free(w->email);
    sodium_memzero(w->token, sizeof(w->token));
}

static void signup(api_req_t *ar, bool web)
{
    const param_t *u = params_get(&ar->params, "username"), *p = params_get(&ar->params, "password");
    if (u == NULL || p == NULL) {
        api_error(ar, 400, E_INVALID, "username and password are required");
        return;
    }
    const char *err = validate_new_username(u->val, u->vlen);
    if (err == NULL)
        err = validate_password(p->val, p->vlen);
    if (err) {
        api_error(ar, 400, E_INVALID, err);
        return;
    }
    const char *full_name, *email;
    if (!opt_text(ar, "full_name", validate_full_name, &full_name) || !opt_text(ar, "email", validate_email, &email))
        return;
    /* Refuse a taken name before spending a password hash on it. The insert
     * checks again: two sign-ups racing for one name get one winner. */
    int64_t existing;
    int rc = users_id_by_username(ar->db, u->val, &existing);
    if (rc == USERS_OK) {
        api_error(ar, 400, E_INVALID, "this username is taken");
        return;
    }
    if (rc != USERS_NOT_FOUND) {
        api_internal_error(ar, "username lookup failed");
        return;
    }
    signup_work_t *w = xcalloc(1, sizeof(*w));
    w->super.run = signup_run;
    w->super.done = signup_done;
    w->super.cleanup = signup_cleanup;
    w->username = xstrdup(u->val);
    w->password = xstrdup(p->val);
    w->full_name = xstrdup(full_name);
    w->email = xstrdup(email);
    w->web = web;
    /* A new user's logical shard is chosen at random; the ID carries it. */
    w->user.id = ids_next(ar->srv->ids, randombytes_uniform(IDS_NSHARDS));
    api_defer_hash(ar, &w->super);
}

void accounts_signup(api_req_t *ar)
{
    signup(ar, false);
}

void web_signup(api_req_t *ar)
{
    signup(ar, true);
}

typedef struct logout_work {
    api_work_t super;
    cache_t *cache;
    char token[TOKEN_MAX_LEN + 1];
    int result;
} logout_work_t;

static void logout_run(api_work_t *w_, worker_ctx_t *wc)
{
    logout_work_t *w = (logout_work_t *)w_;
    w->result = tokens_revoke(wc->db, w->token, strlen(w->token));
    if (w->result != USERS_ERROR)
        api_forget_token(w->cache, w->token, strlen(w->token));
}

static void logout_done(api_work_t *w_, api_req_t *ar)
{
    logout_work_t *w = (logout_work_t *)w_;
    if (w->result == USERS_ERROR)
        api_internal_error(ar, "log-out failed");
    else
        api_ok_null(ar);
}

void accounts_logout(api_req_t *ar)
{
    logout_work_t *w = xcalloc(1, sizeof(*w));
    w->cache = ar->srv->cache;
    w->super.run = logout_run;
    w->super.done = logout_done;
    /* R_AUTH checked the token, so it is well-formed and short enough. */
    memcpy(w->token, ar->token, ar->token_len);
    api_defer(ar, &w->super);
}
