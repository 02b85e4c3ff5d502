/*
 * Accounts: sign-up (POST /v1/accounts), log-out (POST /v1/accounts/logout),
 * a user's tokens (GET /v1/users/self/tokens; DELETE one, or all: log-out
 * everywhere), and the password hashing that log-in shares.
 *
 * A token's ID, as its owner sees it, is the first 8 bytes of its stored
 * hash in hex: it names the token without being it.
 */
#include "api/handlers.h"
#include "api/render.h"
#include "model/nodes.h"
#include "model/tokens.h"
#include "model/users.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Set once at start-up (password_hash_cost), before any thread hashes. */
static bool hash_minimum;

void password_hash_cost(const char *cost)
{
    hash_minimum = strcmp(cost, "minimum") == 0;
}

int password_hash(const char *password, char out[128])
{
    unsigned long long ops = hash_minimum ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE;
    size_t mem = hash_minimum ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE;
    return crypto_pwhash_str(out, password, strlen(password), ops, mem);
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
    user_new_t in = {.username = w->username, .full_name = w->full_name, .email = w->email, .password_hash = hash,
                     .token = w->token};
    w->result = users_create(wc->db, w->user.id, &in, &w->user);
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
    int rc = users_name_taken(ar->db, u->val);
    if (rc == USERS_TAKEN) {
        api_error(ar, 400, E_INVALID, "this username is taken");
        return;
    }
    if (rc != USERS_NOT_FOUND) {
        api_internal_error(ar, "username lookup failed");
        return;
    }
    /* the user's ID is made here and written on the hashing pool, which
     * api_defer's check does not guard: a lease in doubt may be another
     * process's now, and IDs made under it could collide */
    if (!nodes_ok(ar->srv->nodes)) {
        api_error(ar, 503, E_UNAVAILABLE, "server cannot make IDs right now; please retry");
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
    /* also after an error: a COMMIT that failed may have landed */
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

/* ---- a user's tokens ---- */

#define TOKEN_ID_LEN 16

static void token_id(const unsigned char hash[TOKEN_HASH_BYTES], char out[TOKEN_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < TOKEN_ID_LEN / 2; i++) {
        out[2 * i] = hex[hash[i] >> 4];
        out[2 * i + 1] = hex[hash[i] & 15];
    }
    out[TOKEN_ID_LEN] = '\0';
}

void users_tokens(api_req_t *ar)
{
    token_info_t *all = NULL;
    int n = 0;
    if (tokens_list(ar->db, ar->viewer, &all, &n) != USERS_OK) {
        api_internal_error(ar, "token list failed");
        return;
    }
    unsigned char mine[TOKEN_HASH_BYTES];
    token_hash(ar->token, ar->token_len, mine);
    buf_t b;
    buf_init(&b, 1u << 20);
    buf_putc(&b, '[');
    for (int i = 0; i < n; i++) {
        char id[TOKEN_ID_LEN + 1];
        token_id(all[i].hash, id);
        if (i)
            buf_putc(&b, ',');
        buf_puts(&b, "{\"id\":\"");
        buf_puts(&b, id);
        buf_puts(&b, "\",\"created_time\":\"");
        buf_i64(&b, all[i].created_at);
        buf_puts(&b, "\",\"current\":");
        buf_puts(&b, memcmp(all[i].hash, mine, TOKEN_HASH_BYTES) == 0 ? "true" : "false");
        buf_putc(&b, '}');
    }
    buf_putc(&b, ']');
    free(all);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

typedef struct revoke_work {
    api_work_t super;
    cache_t *cache;
    int64_t user;
    bool all;
    char id[TOKEN_ID_LEN + 1]; /* the one to revoke, unless all */
    int result;
} revoke_work_t;

static void revoke_run(api_work_t *w_, worker_ctx_t *wc)
{
    revoke_work_t *w = (revoke_work_t *)w_;
    token_info_t *list = NULL;
    int n = 0;
    if (w->all) {
        w->result = tokens_revoke_all(wc->db, w->user, NULL, NULL, &list, &n);
    } else if ((w->result = tokens_list(wc->db, w->user, &list, &n)) == USERS_OK) {
        int found = -1;
        for (int i = 0; i < n && found < 0; i++) {
            char id[TOKEN_ID_LEN + 1];
            token_id(list[i].hash, id);
            if (strcmp(id, w->id) == 0)
                found = i;
        }
        w->result = found < 0 ? USERS_NOT_FOUND : tokens_revoke_hash(wc->db, w->user, list[found].hash);
        if (found >= 0)
            list[0] = list[found];
        n = found >= 0 && w->result != USERS_NOT_FOUND ? 1 : 0; /* revoked, or perhaps (an error) */
    }
    for (int i = 0; i < n; i++) /* after the commit, or a failed one that may have landed */
        cache_del(w->cache, CACHE_TOKEN, tokens_cache_key(list[i].hash));
    free(list);
}

static void revoke_done(api_work_t *w_, api_req_t *ar)
{
    revoke_work_t *w = (revoke_work_t *)w_;
    if (w->result == USERS_NOT_FOUND)
        api_error(ar, 404, E_NOT_FOUND, "you have no such token");
    else if (w->result != USERS_OK)
        api_internal_error(ar, "token revocation failed");
    else
        api_ok_null(ar);
}

static void revoke_tokens(api_req_t *ar, bool all)
{
    revoke_work_t *w = xcalloc(1, sizeof(*w));
    if (!all) {
        const route_arg_t *a = &ar->match.args[0];
        bool ok = a->len == TOKEN_ID_LEN;
        for (size_t i = 0; ok && i < a->len; i++)
            ok = (a->base[i] >= '0' && a->base[i] <= '9') || (a->base[i] >= 'a' && a->base[i] <= 'f');
        if (!ok) {
            free(w);
            api_error(ar, 404, E_NOT_FOUND, "you have no such token");
            return;
        }
        memcpy(w->id, a->base, TOKEN_ID_LEN);
    }
    w->super.run = revoke_run;
    w->super.done = revoke_done;
    w->cache = ar->srv->cache;
    w->user = ar->viewer;
    w->all = all;
    api_defer(ar, &w->super);
}

void users_token_revoke(api_req_t *ar)
{
    revoke_tokens(ar, false);
}

void users_tokens_revoke_all(api_req_t *ar)
{
    revoke_tokens(ar, true);
}
