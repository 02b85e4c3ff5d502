/*
 * Third-party apps: registration (/v1/developer/clients), the OAuth2 code
 * and implicit flows as v1 had them (/oauth/authorize, and the
 * authorization_code grant of /oauth/access_token), and the apps a user
 * authorised (/v1/users/self/apps). The model is model/apps.c; scopes are
 * enforced for every route by http/dispatch.c from the route table.
 *
 * The consent page is the web client's: GET /oauth/authorize checks the
 * client and its redirect_uri (a bad one gets an error page here and is
 * never redirected to), then answers the client's index.html, with a CSP
 * whose form-action lets the consent form's answer (a 302) reach the
 * app's redirect_uri. The page reads GET /web/oauth/app for what to show,
 * and posts the form to POST /oauth/authorize on the browser session,
 * with the session's CSRF token as a form field.
 */
#include "api/handlers.h"
#include "api/render.h"
#include "core/fsutil.h"
#include "core/ids.h"
#include "model/apps.h"
#include "model/tokens.h"
#include "model/users.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATE_MAX 1024
#define NO_CODE "No matching code found."

/* ---- rendering ---- */

/* The public face of an app, for the user who is asked or who authorised
 * it: the object open, for the caller to add to and close. */
static void render_app_short(buf_t *b, const app_t *a)
{
    buf_puts(b, "{\"client_id\":");
    buf_json_cstr(b, a->client_id);
    buf_puts(b, ",\"name\":");
    buf_json_cstr(b, a->name);
    buf_puts(b, ",\"description\":");
    buf_json_cstr(b, a->description);
    buf_puts(b, ",\"website\":");
    buf_json_cstr(b, a->website);
}

/* The app as its owner sees it (the secret only when just made). */
static void render_app(buf_t *b, const app_t *a, bool with_secret)
{
    render_app_short(b, a);
    if (with_secret) {
        buf_puts(b, ",\"client_secret\":");
        buf_json_cstr(b, a->secret);
    }
    buf_puts(b, ",\"redirect_uris\":[");
    for (const char *p = a->redirect_uris; p && *p;) {
        size_t l = strcspn(p, "\n");
        if (p != a->redirect_uris)
            buf_putc(b, ',');
        buf_json_str(b, p, l);
        p += l + (p[l] == '\n');
    }
    buf_printf(b, "],\"enforce_signed_requests\":%s,\"created_time\":\"%lld\"}", a->enforce_signed ? "true" : "false",
               (long long)a->created_at);
}

/* Percent-encodes s for a query or fragment value. */
static void url_enc(buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            buf_putc(b, (char)*p);
        else if (*p == ' ')
            buf_putc(b, '+');
        else {
            buf_putc(b, '%');
            buf_putc(b, hex[*p >> 4]);
            buf_putc(b, hex[*p & 15]);
        }
    }
}

static void html_esc(buf_t *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '&': buf_puts(b, "&amp;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        default: buf_putc(b, *p);
        }
    }
}

#define PAGE_CSP "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* A plain HTML page of the server's own: a heading and a message. */
static void html_page(api_req_t *ar, int status, const char *title, const char *msg)
{
    buf_t b;
    buf_init(&b, 16384);
    buf_puts(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    html_esc(&b, title);
    buf_puts(&b, " \xe2\x80\xa2 picogram</title><link rel=\"stylesheet\" href=\"/app.css\"></head>\n"
                 "<body><main class=\"view\"><div class=\"page\"><div class=\"card oauth-error\" "
                 "data-testid=\"oauth-error\"><h1>");
    html_esc(&b, title);
    buf_puts(&b, "</h1><p>");
    html_esc(&b, msg);
    buf_puts(&b, "</p></div></div></main></body></html>\n");
    api_add_header(ar, "content-security-policy", PAGE_CSP, strlen(PAGE_CSP));
    api_add_header(ar, "x-content-type-options", "nosniff", 7);
    api_send_typed(ar, status, "text/html; charset=utf-8", b.data, b.len);
    buf_free(&b);
}

/* ---- the authorize request: shared by the page, its data and the form ---- */

enum { AZ_OK, AZ_BAD_CLIENT, AZ_BAD_SCOPE, AZ_BAD_TYPE, AZ_BAD_STATE, AZ_ERROR };

typedef struct authz {
    app_t app;
    unsigned scopes;
    bool implicit;
    const char *redirect_uri, *state; /* the request's parameters */
    char msg[256];
} authz_t;

/* Checks client_id, redirect_uri, response_type, scope and state. On
 * anything but AZ_OK, z->msg says what is wrong (and z->app is freed). */
static int authz_check(api_req_t *ar, authz_t *z)
{
    memset(z, 0, sizeof(*z));
    const char *client = api_param(ar, "client_id");
    z->redirect_uri = api_param(ar, "redirect_uri");
    z->state = api_param(ar, "state");
    if (client == NULL || *client == '\0') {
        snprintf(z->msg, sizeof(z->msg), "You must provide a client_id.");
        return AZ_BAD_CLIENT;
    }
    int rc = apps_get(ar->db, &ar->srv->apps_key, client, &z->app);
    if (rc == USERS_ERROR) {
        snprintf(z->msg, sizeof(z->msg), "app lookup failed");
        return AZ_ERROR;
    }
    if (rc != USERS_OK) {
        snprintf(z->msg, sizeof(z->msg), "Invalid Client ID: no app has this client_id.");
        return AZ_BAD_CLIENT;
    }
    if (z->redirect_uri == NULL || !app_redirect_ok(&z->app, z->redirect_uri)) {
        app_free(&z->app);
        snprintf(z->msg, sizeof(z->msg), "Redirect URI does not match a registered redirect URI of this app.");
        return AZ_BAD_CLIENT;
    }
    char bad[128];
    if (!scopes_parse(api_param(ar, "scope"), &z->scopes, bad, sizeof(bad))) {
        app_free(&z->app);
        snprintf(z->msg, sizeof(z->msg), "Invalid scope field(s): %s", bad);
        return AZ_BAD_SCOPE;
    }
    if (z->state && strlen(z->state) > STATE_MAX) {
        app_free(&z->app);
        snprintf(z->msg, sizeof(z->msg), "state must be at most %d bytes", STATE_MAX);
        return AZ_BAD_STATE;
    }
    const char *type = api_param(ar, "response_type");
    if (type == NULL || (strcmp(type, "code") != 0 && strcmp(type, "token") != 0)) {
        app_free(&z->app);
        snprintf(z->msg, sizeof(z->msg), "response_type must be code or token");
        return AZ_BAD_TYPE;
    }
    z->implicit = strcmp(type, "token") == 0;
    return AZ_OK;
}

/* redirect_uri with its answer in the query (or, for a token, the fragment):
 * `params` is already encoded; state is added encoded. */
static void redirect_with(api_req_t *ar, const authz_t *z, bool fragment, const char *params, size_t n)
{
    buf_t b;
    buf_init(&b, 8192);
    buf_puts(&b, z->redirect_uri);
    buf_putc(&b, fragment ? '#' : strchr(z->redirect_uri, '?') ? '&' : '?');
    buf_append(&b, params, n);
    if (z->state && *z->state) {
        buf_puts(&b, "&state=");
        url_enc(&b, z->state);
    }
    char *url = buf_steal(&b, NULL);
    api_redirect(ar, url);
    free(url);
}

/* Answers a request authz_check refused, never with a redirect: until
 * someone has seen the app and answered, a redirect would make this
 * origin an open redirector to any URI an app registered (RFC 9700,
 * 4.11.2). A bad client, redirect_uri or response_type gets an error
 * page (or the OAuth error, for the form's answer); an unknown scope the
 * OAuthException v1 gave. */
static void authz_refuse(api_req_t *ar, authz_t *z, int rc, bool page)
{
    if (rc == AZ_ERROR)
        api_internal_error(ar, z->msg);
    else if ((rc == AZ_BAD_CLIENT || rc == AZ_BAD_TYPE) && page)
        html_page(ar, 400, "This app cannot be authorized", z->msg);
    else
        api_oauth_error(ar, 400, z->msg);
}

/* GET /oauth/authorize: the web client's consent page, or an error page. */
void oauth_authorize_page(api_req_t *ar)
{
    authz_t z;
    int rc = authz_check(ar, &z);
    if (rc != AZ_OK) {
        authz_refuse(ar, &z, rc, true);
        return;
    }
    char origin[APP_REDIRECT_MAX + 1];
    app_redirect_origin(z.redirect_uri, origin, sizeof(origin));
    app_free(&z.app);
    char path[4096];
    snprintf(path, sizeof(path), "%s/index.html", ar->cfg->web_root);
    size_t len = 0;
    char *html = strcmp(ar->cfg->web_root, "off") == 0 ? NULL : fs_read_file(path, 1 << 20, &len);
    if (html == NULL) {
        html_page(ar, 404, "No web client", "This server runs without its web client, so it cannot ask for consent.");
        return;
    }
    /* the consent form's 302 goes to the app: form-action must allow it */
    char csp[2048];
    server_web_csp(ar->cfg, origin, csp, sizeof(csp));
    api_add_header(ar, "content-security-policy", csp, strlen(csp));
    api_add_header(ar, "x-content-type-options", "nosniff", 7);
    api_add_header(ar, "referrer-policy", "same-origin", 11);
    api_send_typed(ar, 200, "text/html; charset=utf-8", html, len);
    free(html);
}

/* GET /web/oauth/app: what the consent page shows. */
void web_oauth_app(api_req_t *ar)
{
    authz_t z;
    int rc = authz_check(ar, &z);
    if (rc == AZ_ERROR) {
        api_internal_error(ar, z.msg);
        return;
    }
    if (rc != AZ_OK) {
        app_free(&z.app);
        api_error(ar, 400, rc == AZ_BAD_CLIENT ? E_OAUTH_PARAM : E_INVALID, z.msg);
        return;
    }
    buf_t b;
    buf_init(&b, 16384);
    buf_puts(&b, "{\"client\":");
    render_app_short(&b, &z.app);
    buf_puts(&b, "},\"scopes\":");
    scopes_json(&b, z.scopes);
    buf_puts(&b, ",\"response_type\":");
    buf_json_cstr(&b, z.implicit ? "token" : "code");
    buf_puts(&b, ",\"redirect_uri\":");
    buf_json_cstr(&b, z.redirect_uri);
    buf_putc(&b, '}');
    api_ok(ar, &b, NULL);
    buf_free(&b);
    app_free(&z.app);
}

/* ---- writes, on the worker pool ---- */

enum { OP_CREATE, OP_EDIT, OP_DELETE, OP_SECRET, OP_REVOKE, OP_ALLOW, OP_REDEEM };

typedef struct apps_work {
    api_work_t super;
    int op, result;
    const apps_key_t *key;
    cache_t *cache;
    int64_t viewer;
    char *client_id, *name, *description, *website, *uris, *redirect_uri, *secret_given, *code, *state;
    bool enforce, implicit, was_used;
    bool has_name, has_description, has_website, has_uris, has_enforce; /* an edit's fields */
    const char *invalid; /* an edit's bad field: the message */
    unsigned scopes;
    app_t app;
    char secret[APP_SECRET_LEN + 1];
    char token[TOKEN_MAX_LEN + 1];
    user_t user;
} apps_work_t;

/* Drops revoked tokens from the object cache (after their commit). */
static void forget_hashes(cache_t *cache, const unsigned char *hashes, int n)
{
    for (int i = 0; i < n; i++)
        cache_del(cache, CACHE_TOKEN, tokens_cache_key(hashes + (size_t)i * TOKEN_HASH_BYTES));
}

/* The viewer's app of w->client_id into w->app: USERS_NOT_FOUND for
 * another's (it is not told apart from none). */
static int own_app(apps_work_t *w, db_ctx_t *db)
{
    int rc = apps_get(db, w->key, w->client_id, &w->app);
    if (rc == USERS_OK && w->app.owner != w->viewer) {
        app_free(&w->app);
        rc = USERS_NOT_FOUND;
    }
    return rc;
}

/* The fields an edit gives over w->app's, checked as a registration's. */
static int edit_app(apps_work_t *w, db_ctx_t *db)
{
    app_t *a = &w->app;
    const char *name = w->has_name ? w->name : a->name;
    const char *description = w->has_description ? w->description : a->description;
    const char *website = w->has_website ? w->website : a->website;
    const char *uris = w->has_uris ? w->uris : a->redirect_uris;
    char *list = NULL;
    if ((w->invalid = app_validate(name, description, website, uris, &list)) != NULL)
        return USERS_TAKEN;
    char *fields[] = {xstrdup(name), xstrdup(description ? description : ""), xstrdup(website ? website : ""), list};
    free(a->name);
    free(a->description);
    free(a->website);
    free(a->redirect_uris);
    a->name = fields[0], a->description = fields[1], a->website = fields[2], a->redirect_uris = fields[3];
    if (w->has_enforce)
        a->enforce_signed = w->enforce;
    return apps_update(db, a);
}

static void apps_run(api_work_t *w_, worker_ctx_t *wc)
{
    apps_work_t *w = (apps_work_t *)w_;
    db_ctx_t *db = wc->db;
    unsigned char *revoked = NULL;
    int n = 0;
    switch (w->op) {
    case OP_CREATE:
        w->result = apps_create(db, w->key, w->viewer, w->name, w->description, w->website, w->uris, w->enforce,
                                &w->app);
        break;
    case OP_EDIT:
        if ((w->result = own_app(w, db)) == USERS_OK)
            w->result = edit_app(w, db);
        break;
    case OP_DELETE:
        if ((w->result = own_app(w, db)) == USERS_OK)
            w->result = apps_delete(db, w->viewer, w->app.id, &revoked, &n);
        break;
    case OP_SECRET:
        if ((w->result = own_app(w, db)) == USERS_OK)
            w->result = apps_reset_secret(db, w->key, w->viewer, w->app.id, w->secret);
        break;
    case OP_REVOKE:
        if ((w->result = apps_get(db, w->key, w->client_id, &w->app)) == USERS_OK)
            w->result = apps_revoke_user(db, w->viewer, w->app.id, &revoked, &n);
        break;
    case OP_ALLOW: {
        if (w->implicit) {
            db_conn_t *c = db_shard(db, ids_shard(w->viewer));
            w->result = c == NULL ? USERS_ERROR : tokens_issue_app(c, w->viewer, w->app.id, w->scopes, w->token);
        } else {
            w->result = apps_code_issue(db, w->viewer, w->app.id, w->redirect_uri, w->scopes, w->token);
        }
        break;
    }
    case OP_REDEEM: {
        w->result = apps_get(db, w->key, w->client_id, &w->app);
        if (w->result != USERS_OK)
            break;
        if (!app_secret_ok(&w->app, w->secret_given)) {
            w->result = USERS_TAKEN; /* a wrong secret */
            break;
        }
        int64_t uid = 0;
        unsigned char gone[TOKEN_HASH_BYTES];
        w->result = apps_code_redeem(db, w->code, w->app.id, w->redirect_uri, w->token, &uid, &w->scopes, gone,
                                     &w->was_used);
        if (w->was_used)
            forget_hashes(w->cache, gone, 1);
        if (w->result == USERS_OK && users_get_any(db, uid, &w->user) != USERS_OK)
            w->result = USERS_ERROR;
        break;
    }
    }
    forget_hashes(w->cache, revoked, n);
    free(revoked);
}

static void apps_done(api_work_t *w_, api_req_t *ar)
{
    apps_work_t *w = (apps_work_t *)w_;
    if (w->result == USERS_ERROR) {
        api_internal_error(ar, "app operation failed");
        return;
    }
    buf_t b;
    buf_init(&b, 16384);
    switch (w->op) {
    case OP_CREATE:
        if (w->result == USERS_TAKEN) {
            api_error(ar, 400, E_INVALID, "An account may register at most 25 apps: delete one first.");
            break;
        }
        render_app(&b, &w->app, true);
        api_ok(ar, &b, NULL);
        break;
    case OP_EDIT:
        if (w->result == USERS_NOT_FOUND) {
            api_error(ar, 404, E_NOT_FOUND, "you have no app with this client_id");
        } else if (w->result == USERS_TAKEN) {
            api_error(ar, 400, E_INVALID, w->invalid);
        } else {
            render_app(&b, &w->app, false);
            api_ok(ar, &b, NULL);
        }
        break;
    case OP_DELETE:
    case OP_REVOKE:
        if (w->result == USERS_NOT_FOUND)
            api_error(ar, 404, E_NOT_FOUND, w->op == OP_DELETE ? "you have no app with this client_id"
                                                               : "you have not authorised an app with this client_id");
        else
            api_ok_null(ar);
        break;
    case OP_SECRET:
        if (w->result == USERS_NOT_FOUND) {
            api_error(ar, 404, E_NOT_FOUND, "you have no app with this client_id");
            break;
        }
        buf_puts(&b, "{\"client_id\":");
        buf_json_cstr(&b, w->app.client_id);
        buf_puts(&b, ",\"client_secret\":");
        buf_json_cstr(&b, w->secret);
        buf_putc(&b, '}');
        api_ok(ar, &b, NULL);
        break;
    case OP_ALLOW: {
        authz_t z = {.redirect_uri = w->redirect_uri, .state = w->state};
        buf_puts(&b, w->implicit ? "access_token=" : "code=");
        url_enc(&b, w->token);
        redirect_with(ar, &z, w->implicit, b.data, b.len);
        break;
    }
    case OP_REDEEM:
        if (w->result == USERS_NOT_FOUND && w->app.id == 0) {
            api_oauth_error(ar, 400, "Invalid Client ID");
        } else if (w->result == USERS_TAKEN) {
            api_oauth_error(ar, 400, "Invalid Client Secret");
        } else if (w->result == USERS_NOT_FOUND) {
            api_oauth_error(ar, 400, NO_CODE);
        } else {
            buf_puts(&b, "{\"access_token\":");
            buf_json_cstr(&b, w->token);
            buf_puts(&b, ",\"user\":");
            render_user_short(&b, &w->user);
            buf_putc(&b, '}');
            api_send(ar, 200, b.data, b.len);
        }
        break;
    }
    buf_free(&b);
}

static void apps_cleanup(api_work_t *w_)
{
    apps_work_t *w = (apps_work_t *)w_;
    app_free(&w->app);
    char *strs[] = {w->client_id, w->name, w->description, w->website, w->uris, w->redirect_uri, w->code, w->state};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(strs[i]);
    if (w->secret_given) {
        sodium_memzero(w->secret_given, strlen(w->secret_given));
        free(w->secret_given);
    }
    sodium_memzero(w->secret, sizeof(w->secret));
    sodium_memzero(w->token, sizeof(w->token));
}

static apps_work_t *apps_work(api_req_t *ar, int op)
{
    apps_work_t *w = xcalloc(1, sizeof(*w));
    w->op = op;
    w->key = &ar->srv->apps_key;
    w->cache = ar->srv->cache;
    w->viewer = ar->viewer;
    w->super.run = apps_run;
    w->super.done = apps_done;
    w->super.cleanup = apps_cleanup;
    return w;
}

static char *param_dup(api_req_t *ar, const char *key)
{
    const char *v = api_param(ar, key);
    return v ? xstrdup(v) : NULL;
}

/* A boolean parameter: absent is false; else what params_bool reads (as
 * is_private and the notification switches are). False after answering
 * 400 on anything else, an empty value too (on an edit, that would turn
 * the setting off unasked). */
static bool bool_param(api_req_t *ar, const char *key, bool *out)
{
    const char *v = api_param(ar, key);
    *out = false;
    if (v == NULL || params_bool(v, out))
        return true;
    char msg[96];
    snprintf(msg, sizeof(msg), "%s must be true or false", key);
    api_error(ar, 400, E_INVALID, msg);
    return false;
}

/* ---- /v1/developer/clients ---- */

void developer_clients_create(api_req_t *ar)
{
    const char *name = api_param(ar, "name"), *description = api_param(ar, "description");
    const char *website = api_param(ar, "website");
    const char *uris = api_param(ar, "redirect_uri");
    if (uris == NULL)
        uris = api_param(ar, "redirect_uris");
    char *list = NULL;
    const char *err = app_validate(name, description, website, uris, &list);
    bool enforce;
    if (err) {
        api_error(ar, 400, E_INVALID, err);
        return;
    }
    if (!bool_param(ar, "enforce_signed_requests", &enforce)) {
        free(list);
        return;
    }
    apps_work_t *w = apps_work(ar, OP_CREATE);
    w->name = xstrdup(name);
    w->description = param_dup(ar, "description");
    w->website = param_dup(ar, "website");
    w->uris = list;
    w->enforce = enforce;
    api_defer(ar, &w->super);
}

void developer_clients_list(api_req_t *ar)
{
    app_t *apps = NULL;
    int n = 0;
    if (apps_of(ar->db, &ar->srv->apps_key, ar->viewer, &apps, &n) != USERS_OK) {
        api_internal_error(ar, "apps read failed");
        return;
    }
    buf_t b;
    buf_init(&b, 1 << 20);
    buf_putc(&b, '[');
    for (int i = 0; i < n; i++) {
        if (i)
            buf_putc(&b, ',');
        render_app(&b, &apps[i], false);
        app_free(&apps[i]);
    }
    buf_putc(&b, ']');
    free(apps);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

static void client_op(api_req_t *ar, int op)
{
    apps_work_t *w = apps_work(ar, op);
    const route_arg_t *a = &ar->match.args[0];
    w->client_id = xstrndup(a->base, a->len);
    api_defer(ar, &w->super);
}

void developer_clients_edit(api_req_t *ar)
{
    bool enforce;
    if (!bool_param(ar, "enforce_signed_requests", &enforce))
        return;
    apps_work_t *w = apps_work(ar, OP_EDIT);
    const route_arg_t *a = &ar->match.args[0];
    w->client_id = xstrndup(a->base, a->len);
    w->name = param_dup(ar, "name");
    w->description = param_dup(ar, "description");
    w->website = param_dup(ar, "website");
    w->uris = param_dup(ar, "redirect_uri");
    if (w->uris == NULL)
        w->uris = param_dup(ar, "redirect_uris");
    w->has_name = w->name != NULL;
    w->has_description = w->description != NULL;
    w->has_website = w->website != NULL;
    w->has_uris = w->uris != NULL;
    w->has_enforce = api_param(ar, "enforce_signed_requests") != NULL;
    w->enforce = enforce;
    api_defer(ar, &w->super);
}

void developer_clients_delete(api_req_t *ar)
{
    client_op(ar, OP_DELETE);
}

void developer_clients_secret(api_req_t *ar)
{
    client_op(ar, OP_SECRET);
}

/* ---- /v1/users/self/apps ---- */

void users_apps_list(api_req_t *ar)
{
    user_app_t *ua = NULL;
    int n = 0;
    if (apps_authorized(ar->db, ar->viewer, &ua, &n) != USERS_OK) {
        api_internal_error(ar, "apps read failed");
        return;
    }
    buf_t b;
    buf_init(&b, 16u << 20); /* apps a user may authorise have no count limit */
    buf_putc(&b, '[');
    bool first = true, failed = false;
    for (int i = 0; i < n && !failed; i++) {
        app_t a;
        int rc = apps_get_id(ar->db, &ar->srv->apps_key, ua[i].app, &a);
        failed = rc == USERS_ERROR;
        if (rc != USERS_OK)
            continue; /* deleted: its tokens no longer work */
        if (!first)
            buf_putc(&b, ',');
        first = false;
        render_app_short(&b, &a);
        buf_puts(&b, ",\"scopes\":");
        scopes_json(&b, ua[i].scopes);
        buf_printf(&b, ",\"authorized_time\":\"%lld\"}", (long long)ua[i].since);
        app_free(&a);
    }
    buf_putc(&b, ']');
    free(ua);
    if (failed)
        api_internal_error(ar, "apps read failed");
    else
        api_ok(ar, &b, NULL);
    buf_free(&b);
}

void users_apps_revoke(api_req_t *ar)
{
    client_op(ar, OP_REVOKE);
}

/* ---- POST /oauth/authorize: the consent form's answer ---- */

void oauth_authorize(api_req_t *ar)
{
    authz_t z;
    int rc = authz_check(ar, &z);
    if (rc != AZ_OK) {
        authz_refuse(ar, &z, rc, true);
        return;
    }
    /* only the person at the browser decides, on their session (the CSRF
     * token was checked with it); an app's or any other token cannot */
    if (!ar->via_cookie || ar->viewer == 0 || ar->app != 0) {
        app_free(&z.app);
        html_page(ar, 403, "Log in first", "Authorizing an app needs you logged in to picogram in this browser.");
        return;
    }
    const char *decision = api_param(ar, "decision");
    if (decision == NULL || (strcmp(decision, "allow") != 0 && strcmp(decision, "deny") != 0)) {
        app_free(&z.app);
        api_oauth_error(ar, 400, "decision must be allow or deny");
        return;
    }
    if (strcmp(decision, "deny") == 0) {
        static const char denied[] =
            "error=access_denied&error_reason=user_denied&error_description=The+user+denied+your+request";
        redirect_with(ar, &z, false, denied, sizeof(denied) - 1);
        app_free(&z.app);
        return;
    }
    apps_work_t *w = apps_work(ar, OP_ALLOW);
    w->app = z.app; /* the work takes it */
    w->implicit = z.implicit;
    w->scopes = z.scopes;
    w->redirect_uri = xstrdup(z.redirect_uri);
    w->state = z.state ? xstrdup(z.state) : NULL;
    api_defer(ar, &w->super);
}

/* ---- POST /oauth/access_token, grant_type=authorization_code ---- */

void oauth_code_grant(api_req_t *ar)
{
    static const char *const need[] = {"client_id", "client_secret", "redirect_uri", "code"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        const char *v = api_param(ar, need[i]);
        if (v == NULL || *v == '\0') {
            char msg[64];
            snprintf(msg, sizeof(msg), "You must provide a %s", need[i]);
            api_oauth_error(ar, 400, msg);
            return;
        }
    }
    apps_work_t *w = apps_work(ar, OP_REDEEM);
    w->client_id = param_dup(ar, "client_id");
    w->secret_given = param_dup(ar, "client_secret");
    w->redirect_uri = param_dup(ar, "redirect_uri");
    w->code = param_dup(ar, "code");
    api_defer(ar, &w->super);
}
