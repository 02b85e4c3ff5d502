/*
 * push: notifications to phones (APNs) and browsers (Web Push), as the
 * seeds' pyapns workers sent them.
 *
 * A user registers devices (POST /v1/users/self/devices): an APNs device
 * token, or a browser's Web Push subscription (its endpoint and keys). A
 * piece of news for a user who has a device (social_notify: a like, a
 * comment, a follow or request, a mention) writes a pending notification
 * in the same transaction, one per user, kind and photo: a second like of
 * the same photo within push_window_ms only counts, so 50 likes in a
 * minute are one push ("alice and 49 others liked your photo"). The first
 * schedules a "push" job at the window's end, which sends it to every
 * device of the user, unless the user turned that kind off.
 *
 * APNs: HTTP/2 to apns_endpoint, token-based (an ES256 JWT from the .p8
 * key in apns_key_file, with apns_key_id and apns_team_id; made again
 * every 50 minutes), apns-topic apns_topic. A device APNs answers 410
 * (or 400 BadDeviceToken) is removed.
 *
 * Web Push: the message encrypted for the browser (RFC 8291, aes128gcm),
 * with a VAPID JWT (RFC 8292). The VAPID key is derived from the server
 * secret, so every server of a cluster has the same one; the web client
 * reads its public half from GET /web/push/key. An endpoint that answers
 * 404 or 410 is removed. Endpoints are URLs a browser gave: they get the
 * callbacks' address rules (model/hooks.h).
 */
#ifndef PICOGRAM_PUSH_H
#define PICOGRAM_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/token.h"
#include "db/db.h"

/* The kinds a user can turn off (users.push_off is a mask of them). */
enum { PUSH_LIKES = 1, PUSH_COMMENTS = 2, PUSH_FOLLOWS = 4, PUSH_MENTIONS = 8, PUSH_ALL = 15 };
#define PUSH_DEVICES_MAX 20
#define PUSH_TOKEN_MAX 512

typedef struct push_ctx push_ctx_t;

typedef struct push_settings {
    const unsigned char *secret; /* the server secret (32 bytes): the VAPID key comes from it */
    int window_ms;
    const char *apns_endpoint, *apns_key_file, *apns_key_id, *apns_team_id, *apns_topic;
    const char *vapid_subject;
    bool allow_private;
} push_settings_t;

/* Loads the keys (the APNs key file if set). NULL with err. */
push_ctx_t *push_new(const push_settings_t *s, char *err, size_t errlen);
void push_free(push_ctx_t *p);
/* The VAPID public key, base64url (an uncompressed P-256 point). */
const char *push_vapid_public(const push_ctx_t *p);

/* In the transaction of a piece of news on c (the recipient's shard): its
 * push, if the recipient has a device. */
int push_note(db_conn_t *c, int64_t recipient, int64_t actor, const char *kind, int64_t media, const char *text);
/* The window push_note schedules with (the process's push_ctx sets it). */
void push_set_window(int ms);

typedef struct device {
    int64_t id, created_at;
    char platform[16];
    char token[PUSH_TOKEN_MAX + 1];
    char p256dh[128], auth[64];
} device_t;

/* Registers a device of user (the same token again updates it) for the
 * session whose token has the hash `by` (its revocation, or a password
 * change, removes the device): its id into d->id. USERS_TAKEN at
 * PUSH_DEVICES_MAX. */
int push_device_add(db_ctx_t *db, int64_t user, device_t *d, const unsigned char by[TOKEN_HASH_BYTES]);
int push_devices_of(db_ctx_t *db, int64_t user, device_t **out, int *n);
int push_device_delete(db_ctx_t *db, int64_t user, int64_t id);
/* What a registration gives: NULL, or a message for the client. */
const char *push_device_check(const device_t *d, bool allow_private);
/* The kinds a user turned off. */
int push_off_get(db_ctx_t *db, int64_t user, unsigned *off);
/* Turns the kinds in off off, and those in on on. */
int push_off_change(db_ctx_t *db, int64_t user, unsigned off, unsigned on);

/* Job handler "push", payload the pending notification's ID, ctx a push_ctx_t. */
int push_job(db_ctx_t *db, char *payload, void *ctx);

/* For tests: RFC 8291's encryption of a message for a subscription
 * (ua_public: 65 bytes, auth: 16 bytes) into out. 0 or -1. */
int push_encrypt(const unsigned char ua_public[65], const unsigned char auth[16], const void *msg, size_t len,
                 buf_t *out);

#endif
