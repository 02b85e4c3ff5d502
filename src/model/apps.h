/*
 * apps: third-party apps (OAuth2 clients), their authorization codes, and
 * the scopes a token holds.
 *
 * An app lives on its owner's shard. Its client_id is 32 hex digits: the
 * app's ID (16) and 16 random ones, so the row is found from the client_id
 * alone. Its secret (32 hex digits, shown to the owner once) keys the
 * signatures of signed requests and of subscription updates, so it cannot
 * be a one-way hash: it is stored sealed (XSalsa20-Poly1305) with a key
 * derived from the server secret, and a database leaked without that
 * secret leaks no client secret.
 *
 * A code is shaped like a token ("<user id>.<random>", on the user's
 * shard), kept as a hash, good for APPS_CODE_TTL_S and once: its row stays
 * until it expires, holding the hash of the token it made, so a second use
 * revokes that token (RFC 6749, 4.1.2).
 *
 * A token of an app works only while the app exists (tokens_check asks),
 * so deleting an app stops its tokens at once even before their rows go.
 *
 * Functions return USERS_OK, USERS_NOT_FOUND or USERS_ERROR (model/users.h).
 */
#ifndef PICOGRAM_APPS_H
#define PICOGRAM_APPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/params.h"
#include "core/token.h"
#include "db/db.h"

/* Scopes, as a token holds them. A first-party token (the password grant,
 * the web session) holds them all; an app's, what the user granted, with
 * basic always. SCOPE_FIRST_PARTY is no scope an app can ask for: it marks
 * the endpoints of the account itself (password, tokens, export, upload,
 * apps). */
enum {
    SCOPE_BASIC = 1,
    SCOPE_COMMENTS = 2,
    SCOPE_RELATIONSHIPS = 4,
    SCOPE_LIKES = 8,
    SCOPE_FIRST_PARTY = 16,
    SCOPE_ALL = 31,
    SCOPE_GRANTABLE = 15,
};

#define APP_NAME_MAX 50 /* characters */
#define APP_DESCRIPTION_MAX 300
#define APP_REDIRECT_MAX 512 /* bytes, each */
#define APP_REDIRECTS_MAX 10
#define APPS_PER_OWNER_MAX 25
#define APP_CLIENT_ID_LEN 32
#define APP_SECRET_LEN 32
#define APPS_CODE_TTL_S 600

/* The mask of a scope parameter ("likes comments", "likes+comments" once
 * decoded, or comma-separated; empty: basic), basic always in it. False if
 * a name is unknown: bad gets them, space-separated. */
bool scopes_parse(const char *s, unsigned *out, char *bad, size_t badlen);
/* ["basic","likes",...] */
void scopes_json(buf_t *b, unsigned mask);
/* The name of the one scope in mask (for messages). */
const char *scope_name(unsigned one);

/* The key that seals app secrets, from the server secret. */
typedef struct apps_key {
    unsigned char k[32];
} apps_key_t;
void apps_key_derive(apps_key_t *key, const unsigned char secret[32]);

typedef struct app {
    int64_t id, owner, created_at;
    char client_id[APP_CLIENT_ID_LEN + 1];
    char secret[APP_SECRET_LEN + 1]; /* opened; "" if it would not open (another server secret) */
    char *name, *description, *website;
    char *redirect_uris; /* one per line */
    bool enforce_signed;
} app_t;
void app_free(app_t *a);

/* What an app is registered with. redirect_uris: one or more, separated by
 * whitespace. NULL, or a message for the client. On success *uris is the
 * list one per line (xmalloc'd). */
const char *app_validate(const char *name, const char *description, const char *website, const char *redirect_uris,
                         char **uris);
/* A redirect URI's origin, as a CSP source ("https://host:port", or
 * "scheme:" for an app's own scheme), into out. */
void app_redirect_origin(const char *uri, char *out, size_t cap);
/* Whether uri is one of the app's, byte for byte. */
bool app_redirect_ok(const app_t *a, const char *uri);
/* Whether secret is the app's (constant time). */
bool app_secret_ok(const app_t *a, const char *secret);

/* The signature of a request as v1 defined it: the lower-case hex
 * HMAC-SHA256, keyed with the client secret, of the endpoint (the path
 * without /v1 and the query) followed by "|key=value" for each parameter
 * sent (query and body, decoded; the first of a repeated key), sorted by
 * key, but sig itself. */
void apps_sign(const char *secret, const char *endpoint, size_t elen, const params_t *p, char out[65]);

/* Registers an app of owner; out gets it, its secret open. USERS_TAKEN if
 * the owner has APPS_PER_OWNER_MAX apps. */
int apps_create(db_ctx_t *db, const apps_key_t *key, int64_t owner, const char *name, const char *description,
                const char *website, const char *uris, bool enforce_signed, app_t *out);
/* The app of a client_id (any string; USERS_NOT_FOUND if it names none). */
int apps_get(db_ctx_t *db, const apps_key_t *key, const char *client_id, app_t *out);
int apps_get_id(db_ctx_t *db, const apps_key_t *key, int64_t id, app_t *out);
/* owner's apps, newest first (*out xmalloc'd; app_free each, then free). */
int apps_of(db_ctx_t *db, const apps_key_t *key, int64_t owner, app_t **out, int *n);
/* Deletes owner's app `id` and then every token and code it holds on
 * every database; the token hashes in *revoked (xmalloc'd, n of
 * TOKEN_HASH_BYTES each) for the caller to drop from the object cache. */
int apps_delete(db_ctx_t *db, int64_t owner, int64_t id, unsigned char **revoked, int *n);
/* Stores a's name, description, website, redirect_uris and
 * enforce_signed (checked by the caller) for its owner. */
int apps_update(db_ctx_t *db, const app_t *a);
/* A new secret for owner's app `id`, into secret. */
int apps_reset_secret(db_ctx_t *db, const apps_key_t *key, int64_t owner, int64_t id,
                      char secret[APP_SECRET_LEN + 1]);

/* A new code for user, granting app `scopes`, for redirect_uri. */
int apps_code_issue(db_ctx_t *db, int64_t user, int64_t app, const char *redirect_uri, unsigned scopes,
                    char out[TOKEN_MAX_LEN + 1]);
/* Trades a code made for app and redirect_uri for a token (into token),
 * once. USERS_NOT_FOUND if there is no such live code; a code used before
 * also revokes the token it made (its hash into revoked, *was_used set). */
int apps_code_redeem(db_ctx_t *db, const char *code, int64_t app, const char *redirect_uri,
                     char token[TOKEN_MAX_LEN + 1], int64_t *user, unsigned *scopes,
                     unsigned char revoked[TOKEN_HASH_BYTES], bool *was_used);

/* The apps user authorised: an entry per app, with the scopes of all its
 * tokens and the first one's time. */
typedef struct user_app {
    int64_t app, since;
    unsigned scopes;
} user_app_t;
int apps_authorized(db_ctx_t *db, int64_t user, user_app_t **out, int *n);
/* Revokes user's tokens of app (their hashes into *revoked as above);
 * USERS_NOT_FOUND if there were none. */
int apps_revoke_user(db_ctx_t *db, int64_t user, int64_t app, unsigned char **revoked, int *n);

#endif
