/*
 * Push notifications (model/push.h): a user's devices
 * (GET/POST /v1/users/self/devices, DELETE /v1/users/self/devices/{id}),
 * the kinds they want (GET/POST /v1/users/self/notifications), and the
 * VAPID public key the web client subscribes with (GET /web/push/key).
 */
#include "api/handlers.h"
#include "model/push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void device_json(buf_t *b, const device_t *d)
{
    buf_puts(b, "{\"id\":");
    buf_json_id(b, d->id);
    buf_puts(b, ",\"platform\":");
    buf_json_cstr(b, d->platform);
    /* an APNs token's end, or a push service's host: enough to tell devices apart */
    char hint[64];
    size_t n = strlen(d->token);
    if (strcmp(d->platform, "apns") == 0)
        snprintf(hint, sizeof(hint), "…%.8s", n > 8 ? d->token + n - 8 : d->token);
    else {
        const char *h = strstr(d->token, "://");
        h = h ? h + 3 : d->token;
        size_t hl = strcspn(h, "/?");
        snprintf(hint, sizeof(hint), "%.*s", (int)(hl < 60 ? hl : 60), h);
    }
    buf_puts(b, ",\"hint\":");
    buf_json_cstr(b, hint);
    buf_printf(b, ",\"created_time\":\"%lld\"}", (long long)d->created_at);
}

typedef struct device_work {
    api_work_t super;
    int64_t user, id;
    unsigned char by[TOKEN_HASH_BYTES]; /* the registering session's token's hash */
    device_t d;
    int result;
    bool del;
} device_work_t;

static void device_run(api_work_t *w_, worker_ctx_t *wc)
{
    device_work_t *w = (device_work_t *)w_;
    w->result = w->del ? push_device_delete(wc->db, w->user, w->id) : push_device_add(wc->db, w->user, &w->d, w->by);
}

static void device_done(api_work_t *w_, api_req_t *ar)
{
    device_work_t *w = (device_work_t *)w_;
    if (w->result == USERS_ERROR) {
        api_internal_error(ar, "device change failed");
    } else if (w->result == USERS_TAKEN) {
        api_error(ar, 400, E_INVALID, "at most 20 devices: remove one first");
    } else if (w->result == USERS_NOT_FOUND) {
        api_error(ar, 404, E_NOT_FOUND, "you have no device with this id");
    } else if (w->del) {
        api_ok_null(ar);
    } else {
        buf_t b;
        buf_init(&b, 4096);
        device_json(&b, &w->d);
        api_ok(ar, &b, NULL);
        buf_free(&b);
    }
}

static device_work_t *device_work(api_req_t *ar)
{
    device_work_t *w = xcalloc(1, sizeof(*w));
    w->user = ar->viewer;
    w->super.run = device_run;
    w->super.done = device_done;
    return w;
}

void devices_add(api_req_t *ar)
{
    const char *platform = api_param(ar, "platform");
    const char *token = api_param(ar, "token");
    if (token == NULL)
        token = api_param(ar, "endpoint");
    const char *p256dh = api_param(ar, "p256dh"), *auth = api_param(ar, "auth");
    device_t d;
    memset(&d, 0, sizeof(d));
    const char *err = NULL;
    if (platform == NULL || strlen(platform) >= sizeof(d.platform))
        err = "platform must be apns or webpush";
    else if (token == NULL || strlen(token) > PUSH_TOKEN_MAX)
        err = "give the device's token (apns) or the subscription's endpoint (webpush)";
    else if ((p256dh && strlen(p256dh) >= sizeof(d.p256dh)) || (auth && strlen(auth) >= sizeof(d.auth)))
        err = "p256dh or auth is too long";
    if (err == NULL) {
        snprintf(d.platform, sizeof(d.platform), "%s", platform);
        snprintf(d.token, sizeof(d.token), "%s", token);
        snprintf(d.p256dh, sizeof(d.p256dh), "%s", p256dh ? p256dh : "");
        snprintf(d.auth, sizeof(d.auth), "%s", auth ? auth : "");
        err = push_device_check(&d, ar->srv->hooks.allow_private);
    }
    if (err) {
        api_error(ar, 400, E_INVALID, err);
        return;
    }
    device_work_t *w = device_work(ar);
    w->d = d;
    token_hash(ar->token, ar->token_len, w->by);
    api_defer(ar, &w->super);
}

void devices_list(api_req_t *ar)
{
    device_t *ds = NULL;
    int n = 0;
    if (push_devices_of(ar->db, ar->viewer, &ds, &n) != USERS_OK) {
        api_internal_error(ar, "devices read failed");
        return;
    }
    buf_t b;
    buf_init(&b, 1 << 16);
    buf_putc(&b, '[');
    for (int i = 0; i < n; i++) {
        if (i)
            buf_putc(&b, ',');
        device_json(&b, &ds[i]);
    }
    buf_putc(&b, ']');
    free(ds);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

void devices_delete(api_req_t *ar)
{
    const route_arg_t *a = &ar->match.args[0];
    int64_t id = ids_parse(a->base, a->len);
    if (id <= 0) {
        api_error(ar, 404, E_NOT_FOUND, "you have no device with this id");
        return;
    }
    device_work_t *w = device_work(ar);
    w->id = id;
    w->del = true;
    api_defer(ar, &w->super);
}

static const struct {
    const char *name;
    unsigned bit;
} kinds[] = {{"likes", PUSH_LIKES}, {"comments", PUSH_COMMENTS}, {"follows", PUSH_FOLLOWS}, {"mentions", PUSH_MENTIONS}};

static void settings_reply(api_req_t *ar, unsigned off)
{
    buf_t b;
    buf_init(&b, 256);
    buf_putc(&b, '{');
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        buf_printf(&b, "%s\"%s\":%s", i ? "," : "", kinds[i].name, off & kinds[i].bit ? "false" : "true");
    buf_putc(&b, '}');
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

void notifications_show(api_req_t *ar)
{
    unsigned off = 0;
    if (push_off_get(ar->db, ar->viewer, &off) == USERS_ERROR) {
        api_internal_error(ar, "settings read failed");
        return;
    }
    settings_reply(ar, off);
}

typedef struct settings_work {
    api_work_t super;
    int64_t user;
    unsigned off, on, result_off;
    int result;
} settings_work_t;

static void settings_run(api_work_t *w_, worker_ctx_t *wc)
{
    settings_work_t *w = (settings_work_t *)w_;
    w->result = push_off_change(wc->db, w->user, w->off, w->on);
    if (w->result == USERS_OK)
        w->result = push_off_get(wc->db, w->user, &w->result_off);
}

static void settings_done(api_work_t *w_, api_req_t *ar)
{
    settings_work_t *w = (settings_work_t *)w_;
    if (w->result != USERS_OK)
        api_internal_error(ar, "settings change failed");
    else
        settings_reply(ar, w->result_off);
}

void notifications_edit(api_req_t *ar)
{
    settings_work_t *w = xcalloc(1, sizeof(*w));
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const char *v = api_param(ar, kinds[i].name);
        bool on;
        if (v == NULL)
            continue;
        if (!params_bool(v, &on)) {
            free(w);
            char msg[64];
            snprintf(msg, sizeof(msg), "%s must be true or false", kinds[i].name);
            api_error(ar, 400, E_INVALID, msg);
            return;
        }
        if (on)
            w->on |= kinds[i].bit;
        else
            w->off |= kinds[i].bit;
    }
    w->user = ar->viewer;
    w->super.run = settings_run;
    w->super.done = settings_done;
    api_defer(ar, &w->super);
}

void web_push_key(api_req_t *ar)
{
    buf_t b;
    buf_init(&b, 256);
    buf_puts(&b, "{\"vapid_public_key\":");
    buf_json_cstr(&b, push_vapid_public(ar->srv->push));
    buf_putc(&b, '}');
    api_ok(ar, &b, NULL);
    buf_free(&b);
}
