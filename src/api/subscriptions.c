/*
 * Real-time subscriptions as v1 had them (model/hooks.h):
 * POST /v1/subscriptions makes one after its callback echoes a challenge,
 * GET lists an app's, DELETE removes them by id or by object; all with
 * the app's client_id and client_secret, no user's token. The app's owner
 * reads what became of the deliveries at
 * GET /v1/developer/clients/{client_id}/deliveries.
 */
#include "api/handlers.h"
#include "core/text.h"
#include "core/validate.h"
#include "model/apps.h"
#include "model/hooks.h"
#include "geo/geo.h"
#include "model/discovery.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#define E_SUBSCRIPTION "APISubscriptionError"

typedef struct sub_work {
    api_work_t super;
    int op; /* 0: create, 1: delete */
    const apps_key_t *key;
    bool allow_private;
    char *client_id, *secret, *verify_token, *object;
    subscription_t sub;
    int64_t id;
    int result, deleted;
    char msg[256];
} sub_work_t;

/* The app of the request's client_id and client_secret into a; false
 * after answering if there is none such. On a worker or the loop. */
static int client_app(db_ctx_t *db, const apps_key_t *key, const char *client_id, const char *secret, app_t *a)
{
    int rc = apps_get(db, key, client_id, a);
    if (rc == USERS_OK && !app_secret_ok(a, secret)) {
        app_free(a);
        rc = USERS_NOT_FOUND;
    }
    return rc;
}

/* GETs the callback with a challenge; NULL if it echoed it, else why not. */
static const char *verify_callback(sub_work_t *w, char *why, size_t cap)
{
    unsigned char r[16];
    char challenge[33];
    randombytes_buf(r, sizeof(r));
    sodium_bin2hex(challenge, sizeof(challenge), r, sizeof(r));
    buf_t url;
    buf_init(&url, HOOK_URL_MAX + 1024);
    buf_puts(&url, w->sub.callback_url);
    buf_puts(&url, strchr(w->sub.callback_url, '?') ? "&" : "?");
    buf_puts(&url, "hub.mode=subscribe&hub.challenge=");
    buf_puts(&url, challenge);
    buf_puts(&url, "&hub.verify_token=");
    for (const unsigned char *p = (const unsigned char *)(w->verify_token ? w->verify_token : ""); *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            buf_putc(&url, (char)*p);
        else
            buf_printf(&url, "%%%02X", *p);
    }
    buf_putc(&url, '\0');
    long status = 0;
    char err[256] = "";
    buf_t resp;
    buf_init(&resp, 64 * 1024);
    int rc = hooks_http(url.data, w->allow_private, NULL, 0, NULL, &status, &resp, err, sizeof(err));
    buf_free(&url);
    const char *out = NULL;
    while (resp.len && (resp.data[resp.len - 1] == '\n' || resp.data[resp.len - 1] == '\r' ||
                        resp.data[resp.len - 1] == ' '))
        resp.len--;
    if (rc != 0)
        snprintf(why, cap, "Unable to reach callback URL: %.200s", err), out = why;
    else if (status < 200 || status >= 300)
        snprintf(why, cap, "Unable to reach callback URL: it answered HTTP %ld", status), out = why;
    else if (resp.len != 32 || memcmp(resp.data, challenge, 32) != 0)
        snprintf(why, cap, "Challenge verification failed: the callback did not echo hub.challenge"), out = why;
    buf_free(&resp);
    return out;
}

static void sub_run(api_work_t *w_, worker_ctx_t *wc)
{
    sub_work_t *w = (sub_work_t *)w_;
    app_t a;
    w->result = client_app(wc->db, w->key, w->client_id, w->secret, &a);
    if (w->result != USERS_OK)
        return;
    w->sub.app = a.id;
    app_free(&a);
    if (w->op == 1) {
        w->result = hooks_sub_delete(wc->db, w->sub.app, w->id, w->object, &w->deleted);
        return;
    }
    if (strcmp(w->sub.object, "location") == 0) { /* a place that exists */
        location_t *place = xmalloc(sizeof(*place));
        int rc = location_get(wc->db, strtoll(w->sub.object_id, NULL, 10), place);
        free(place);
        if (rc != DISC_OK) {
            snprintf(w->msg, sizeof(w->msg), "object_id must be a location ID: there is no such location");
            w->result = rc == DISC_NOT_FOUND ? USERS_TAKEN : USERS_ERROR;
            return;
        }
    }
    /* the address first (a lookup: never on an event loop), with its own message */
    const char *bad = hooks_url_check(w->sub.callback_url, w->allow_private);
    if (bad != NULL) {
        snprintf(w->msg, sizeof(w->msg), "%s", bad);
        w->result = USERS_TAKEN;
        return;
    }
    if (verify_callback(w, w->msg, sizeof(w->msg)) != NULL) {
        w->result = USERS_TAKEN;
        return;
    }
    w->result = hooks_sub_create(wc->db, &w->sub, w->verify_token);
    if (w->result == USERS_TAKEN)
        snprintf(w->msg, sizeof(w->msg), "An app may hold at most %d subscriptions.", HOOKS_PER_APP_MAX);
}

static void sub_done(api_work_t *w_, api_req_t *ar)
{
    sub_work_t *w = (sub_work_t *)w_;
    if (w->result == USERS_ERROR) {
        api_internal_error(ar, "subscription failed");
    } else if (w->result == USERS_NOT_FOUND) {
        api_error(ar, 400, E_SUBSCRIPTION, "Invalid client_id or client_secret.");
    } else if (w->result == USERS_TAKEN) {
        api_error(ar, 400, E_SUBSCRIPTION, w->msg);
    } else if (w->op == 1 && w->id != 0 && w->deleted == 0) {
        api_error(ar, 404, E_NOT_FOUND, "No such subscription of this client.");
    } else if (w->op == 1) {
        api_ok_null(ar);
    } else {
        buf_t b;
        buf_init(&b, 4096);
        hooks_sub_json(&b, &w->sub);
        api_ok(ar, &b, NULL);
        buf_free(&b);
    }
}

static void sub_cleanup(api_work_t *w_)
{
    sub_work_t *w = (sub_work_t *)w_;
    free(w->client_id);
    free(w->verify_token);
    free(w->object);
    if (w->secret) {
        sodium_memzero(w->secret, strlen(w->secret));
        free(w->secret);
    }
}

/* client_id and client_secret, both given: false after answering. */
static bool client_params(api_req_t *ar)
{
    const char *id = api_param(ar, "client_id"), *secret = api_param(ar, "client_secret");
    if (id && *id && secret && *secret)
        return true;
    api_error(ar, 400, E_OAUTH_PARAM, "Missing client_id or client_secret.");
    return false;
}

static sub_work_t *sub_work(api_req_t *ar, int op)
{
    sub_work_t *w = xcalloc(1, sizeof(*w));
    w->op = op;
    w->key = &ar->srv->apps_key;
    w->allow_private = ar->srv->hooks.allow_private;
    w->client_id = xstrdup(api_param(ar, "client_id"));
    w->secret = xstrdup(api_param(ar, "client_secret"));
    w->super.run = sub_run;
    w->super.done = sub_done;
    w->super.cleanup = sub_cleanup;
    return w;
}

/* A tag as subscribed to: what a caption's #tag stores (text_tag_name, as
 * GET /v1/tags/{name} reads it: any script, lower-cased). */
static const char *check_tag(const char *t, char *out, size_t cap)
{
    text_tag_t name;
    _Static_assert(sizeof(name) <= HOOK_OBJECT_ID_MAX + 1, "a tag fits a subscription's object_id");
    if (t == NULL || !text_tag_name(t, strlen(t), name))
        return "object_id must be a tag name: letters, digits and _ in any script, at most 100";
    snprintf(out, cap, "%s", name);
    return NULL;
}

void subscriptions_create(api_req_t *ar)
{
    if (!client_params(ar))
        return;
    subscription_t sub;
    memset(&sub, 0, sizeof(sub));
    const char *object = api_param(ar, "object"), *aspect = api_param(ar, "aspect");
    const char *oid = api_param(ar, "object_id"), *cb = api_param(ar, "callback_url");
    const char *vt = api_param(ar, "verify_token");
    const char *err = NULL;
    if (object == NULL || (strcmp(object, "user") != 0 && strcmp(object, "tag") != 0 &&
                           strcmp(object, "location") != 0 && strcmp(object, "geography") != 0))
        err = "object must be user, tag, location or geography";
    else if (aspect == NULL || strcmp(aspect, "media") != 0)
        err = "aspect must be media";
    else if (cb == NULL || *cb == '\0')
        err = "callback_url is required";
    else if (vt && strlen(vt) > HOOK_VERIFY_TOKEN_MAX)
        err = "verify_token must be at most 256 characters";
    else if (strcmp(object, "tag") == 0)
        err = check_tag(oid, sub.object_id, sizeof(sub.object_id));
    else if (strcmp(object, "location") == 0) {
        long long id;
        if (oid == NULL || !params_int(oid, 1, INT64_MAX, &id))
            err = "object_id must be a location ID";
        else
            snprintf(sub.object_id, sizeof(sub.object_id), "%lld", id);
    } else if (strcmp(object, "geography") == 0) {
        double d = 0, r = 0;
        const char *radius = api_param(ar, "radius");
        err = validate_geo_query(api_param(ar, "lat"), api_param(ar, "lng"), NULL, &sub.lat, &sub.lng, &d);
        if (err == NULL && (radius == NULL || !parse_number(radius, 1, GEO_DISTANCE_MAX, &r)))
            err = "radius must be a number of metres from 1 to 5000";
        sub.radius = (int)(r + 0.5);
    }
    if (err == NULL && (strlen(cb) > HOOK_URL_MAX || (strncasecmp(cb, "http://", 7) != 0 &&
                                                      strncasecmp(cb, "https://", 8) != 0)))
        err = "callback_url must be an http:// or https:// URL of at most 512 characters";
    if (err) {
        api_error(ar, 400, E_SUBSCRIPTION, err);
        return;
    }
    snprintf(sub.object, sizeof(sub.object), "%s", object);
    snprintf(sub.callback_url, sizeof(sub.callback_url), "%s", cb);
    sub_work_t *w = sub_work(ar, 0);
    w->sub = sub;
    w->verify_token = vt ? xstrdup(vt) : NULL;
    api_defer(ar, &w->super);
}

void subscriptions_list(api_req_t *ar)
{
    if (!client_params(ar))
        return;
    app_t a;
    int rc = client_app(ar->db, &ar->srv->apps_key, api_param(ar, "client_id"), api_param(ar, "client_secret"), &a);
    if (rc == USERS_ERROR) {
        api_internal_error(ar, "app lookup failed");
        return;
    }
    if (rc != USERS_OK) {
        api_error(ar, 400, E_SUBSCRIPTION, "Invalid client_id or client_secret.");
        return;
    }
    subscription_t *subs = NULL;
    int n = 0;
    rc = hooks_subs_of(ar->db, a.id, &subs, &n);
    app_free(&a);
    if (rc != USERS_OK) {
        api_internal_error(ar, "subscriptions read failed");
        return;
    }
    buf_t b;
    buf_init(&b, 1 << 20);
    buf_putc(&b, '[');
    for (int i = 0; i < n; i++) {
        if (i)
            buf_putc(&b, ',');
        hooks_sub_json(&b, &subs[i]);
    }
    buf_putc(&b, ']');
    free(subs);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

void subscriptions_delete(api_req_t *ar)
{
    if (!client_params(ar))
        return;
    const char *id = api_param(ar, "id"), *object = api_param(ar, "object");
    long long sid = 0;
    if (id != NULL && !params_int(id, 1, INT64_MAX, &sid)) {
        api_error(ar, 400, E_SUBSCRIPTION, "id must be a subscription ID");
        return;
    }
    if (id == NULL && (object == NULL || (strcmp(object, "all") != 0 && strcmp(object, "user") != 0 &&
                                          strcmp(object, "tag") != 0 && strcmp(object, "location") != 0 &&
                                          strcmp(object, "geography") != 0))) {
        api_error(ar, 400, E_SUBSCRIPTION, "give id, or object=all|user|tag|location|geography");
        return;
    }
    sub_work_t *w = sub_work(ar, 1);
    w->id = sid;
    w->object = object ? xstrdup(object) : NULL;
    api_defer(ar, &w->super);
}

void developer_clients_deliveries(api_req_t *ar)
{
    const route_arg_t *arg = &ar->match.args[0];
    char *client = xstrndup(arg->base, arg->len);
    app_t a;
    int rc = apps_get(ar->db, &ar->srv->apps_key, client, &a);
    free(client);
    if (rc == USERS_OK && a.owner != ar->viewer) {
        app_free(&a);
        rc = USERS_NOT_FOUND;
    }
    if (rc != USERS_OK) {
        if (rc == USERS_ERROR)
            api_internal_error(ar, "app lookup failed");
        else
            api_error(ar, 404, E_NOT_FOUND, "you have no app with this client_id");
        return;
    }
    buf_t b;
    buf_init(&b, 1 << 20);
    rc = hooks_log_json(ar->db, a.id, &b);
    app_free(&a);
    if (rc != USERS_OK)
        api_internal_error(ar, "deliveries read failed");
    else
        api_ok(ar, &b, NULL);
    buf_free(&b);
}

/* GET /v1/geographies/{geo-id}/media/recent?client_id=: the newest photos
 * of the last 7 days in a geography subscription's circle, as v1 had it
 * (the client_id names the subscription's app; the photos are those the
 * token's user may see). min_id pages forward. */
void geographies_recent(api_req_t *ar)
{
    const route_arg_t *arg = &ar->match.args[0];
    int64_t id = ids_parse(arg->base, arg->len);
    const char *client = api_param(ar, "client_id");
    int count;
    long long min_id = 0;
    const char *mid = api_param(ar, "min_id");
    if (!api_count(ar, 20, 100, &count))
        return;
    if (mid && !params_int(mid, 0, INT64_MAX, &min_id)) {
        api_error(ar, 400, E_INVALID, "min_id must be a media ID");
        return;
    }
    subscription_t sub;
    app_t a;
    int rc = id > 0 ? hooks_sub_get(ar->db, id, &sub) : USERS_NOT_FOUND;
    if (rc == USERS_OK && strcmp(sub.object, "geography") != 0)
        rc = USERS_NOT_FOUND;
    int arc = rc == USERS_OK ? apps_get_id(ar->db, &ar->srv->apps_key, sub.app, &a) : USERS_NOT_FOUND;
    /* the client_id names the app (v1's way; it is no secret): a token
     * of another app reads none of this one's */
    bool mine = arc == USERS_OK && client && strcmp(client, a.client_id) == 0 && (ar->app == 0 || ar->app == sub.app);
    if (arc == USERS_OK)
        app_free(&a);
    if (rc == USERS_ERROR || arc == USERS_ERROR) {
        api_internal_error(ar, "geography lookup failed");
        return;
    }
    if (!mine) {
        api_error(ar, 404, E_NOT_FOUND, "no geography of this client_id has this ID");
        return;
    }
    geo_hits_t *h = xmalloc(sizeof(*h));
    geo_hits_init(h, sub.lat, sub.lng, sub.radius);
    long long t1 = (long long)time(NULL);
    if (geo_media_near_all(ar->db, t1 - 7 * 86400LL, t1, h) != 0) { /* the 7 days a geo search may span */
        free(h);
        api_internal_error(ar, "geo search failed");
        return;
    }
    api_geo_page(ar, h, count, min_id ? min_id : -1);
    free(h);
}
