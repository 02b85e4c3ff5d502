/*
 * hooks: real-time subscriptions as v1 had them, and their deliveries.
 *
 * An app subscribes (api/subscriptions.c) to new media of a tag, a place
 * (location), a circle (geography) or the users who authorised it (user).
 * Subscriptions are a global table on the first database. While any
 * exists, a new photo's transaction enqueues a "realtime" job; the job
 * finds the subscriptions the photo matches and queues an update for each
 * on the first database, grouped in a batch per app and callback URL. The
 * first update of a batch schedules a "hook_deliver" job HOOKS_BATCH_MS
 * later, so updates that come meanwhile go in one POST: a JSON array of
 * {"subscription_id","object","object_id","changed_aspect":"media","time",
 * "data":{"media_id"}}, with X-Hub-Signature, the hex HMAC-SHA1 of the
 * body keyed with the app's secret. A failed POST is tried again after
 * the runner's backoff (1 s, 2 s, 4 s ...) up to max_attempts, then given
 * up; every outcome is kept in a log the app's owner reads
 * (GET /v1/developer/clients/{client_id}/deliveries).
 *
 * Privacy: a private account's photo goes only to apps its owner
 * authorised, and a user subscription covers only the users who
 * authorised the app.
 *
 * Callbacks are untrusted URLs (SSRF): http(s) only; every address curl
 * connects to must be public (not loopback, private, link-local, the
 * metadata address, CGNAT, 6to4, NAT64, multicast or unspecified) unless
 * allow_private: checked in curl's socket callback, on the address it is
 * about to connect to, so there is no second lookup to rebind and the
 * lookup itself is bounded by the call's timeout; no redirect is
 * followed; short connect and total timeouts; the answer read is bounded.
 *
 * Delivery is at least once: a job killed after its POST, before its
 * commit, sends that batch again.
 */
#ifndef PICOGRAM_HOOKS_H
#define PICOGRAM_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "db/db.h"
#include "model/apps.h"

#define HOOK_URL_MAX 512
#define HOOK_OBJECT_ID_MAX 400 /* a tag's stored form: TAG_MAX_BYTES (core/text.h) */
#define HOOK_VERIFY_TOKEN_MAX 256
#define HOOKS_PER_APP_MAX 100
#define HOOKS_BATCH_ITEMS 100

/* What the jobs and the subscription calls need: the settings and the key
 * that opens app secrets. */
typedef struct hooks_ctx {
    bool allow_private;   /* webhook_allow_private */
    int max_attempts;     /* webhook_max_attempts */
    int batch_ms;         /* webhook_batch_ms */
    const apps_key_t *key;
} hooks_ctx_t;

#define HOOK_CALL_URL_MAX 4096 /* a call's URL: a callback and its challenge's parameters */
#define HOOK_PRIVATE_ERR "the URL resolves to a loopback, private, link-local or otherwise internal address"
/* Checks url for a call, without a lookup (a name is checked as it
 * connects, by hooks_call): NULL, or a message for the client. */
const char *hooks_url_check(const char *url, bool allow_private);

/* One HTTP exchange with a URL an app or a user gave, under the same
 * rules: method GET or POST; headers (NULL-terminated, or NULL); a body
 * of len bytes with its Content-Type given in headers, or a multipart form
 * of fields (name, value pairs, NULL-terminated) and one file. */
typedef struct hooks_req {
    const char *url;
    bool allow_private;
    bool trusted; /* a URL of the operator's own settings (APNs): no address rule */
    bool http2;   /* HTTP/2 (over TLS, or with prior knowledge on http://) */
    bool post;
    const char *const *headers;
    const char *body;
    size_t len;
    const char *const *fields;
    const char *file_field, *file_name, *file_type;
    const void *file;
    size_t file_len;
} hooks_req_t;
int hooks_call(const hooks_req_t *rq, long *status, buf_t *resp, char *err, size_t errlen);

/* One HTTP exchange with a callback (GET if body is NULL, else a POST of
 * JSON with X-Hub-Signature sig). The status into *status (0: no answer),
 * at most 64 KiB of the answer into resp. 0, or -1 with err (the URL
 * refused, or no answer). */
int hooks_http(const char *url, bool allow_private, const char *body, size_t len, const char *sig, long *status,
               buf_t *resp, char *err, size_t errlen);

typedef struct subscription {
    int64_t id, app;
    char object[16];
    char object_id[HOOK_OBJECT_ID_MAX + 1];
    double lat, lng;
    int radius;
    char callback_url[HOOK_URL_MAX + 1];
} subscription_t;

/* Stores s (its id set here); USERS_TAKEN at HOOKS_PER_APP_MAX. */
int hooks_sub_create(db_ctx_t *db, subscription_t *s, const char *verify_token);
/* A subscription by its ID. */
int hooks_sub_get(db_ctx_t *db, int64_t id, subscription_t *out);
/* app's subscriptions (*out xmalloc'd). */
int hooks_subs_of(db_ctx_t *db, int64_t app, subscription_t **out, int *n);
/* Deletes app's subscription id, or (id 0) those of object ("all": every
 * one). *deleted gets how many. */
int hooks_sub_delete(db_ctx_t *db, int64_t app, int64_t id, const char *object, int *deleted);
/* {"id","object","object_id","aspect","callback_url","type"} and, for a
 * geography, lat, lng and radius. */
void hooks_sub_json(buf_t *b, const subscription_t *s);

/* Within a new photo's transaction on c: its "realtime" job, if any
 * subscription exists (asked of the first database at most once a second
 * per process; at once after a subscription made here). */
int hooks_enqueue(db_ctx_t *db, db_conn_t *c, int64_t media);
/* A subscription was made: new photos are matched from now on. */
void hooks_note_subscription(void);

/* The deliveries log of app, newest first, as a JSON array into b. */
int hooks_log_json(db_ctx_t *db, int64_t app, buf_t *b);

/* Job handlers, ctx a hooks_ctx_t: "realtime" (payload: the media ID) and
 * "hook_deliver" (payload: the batch ID). */
int hooks_realtime_job(db_ctx_t *db, char *payload, void *ctx);
int hooks_deliver_job(db_ctx_t *db, char *payload, void *ctx);

#endif
