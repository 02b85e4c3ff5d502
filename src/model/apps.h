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

#include "core/appcheck.h"
#include "core/buf.h"
#include "core/token.h"
#include "db/db.h"

/* The key that seals app secrets, from the server secret. */
typedef struct apps_key {
    unsigned char k[32];
} apps_key_t;
void apps_key_derive(apps_key_t *key, const unsigned char secret[32]);
/* Seals n bytes with key into out (APPS_SEAL_OVERHEAD + n bytes: a random
 * nonce, then XSalsa20-Poly1305); opens a sealed value of n bytes into out
 * (n - APPS_SEAL_OVERHEAD bytes), false if it is not one of key's. */
#define APPS_SEAL_OVERHEAD 40 /* crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES */
void apps_seal(const apps_key_t *key, const void *plain, size_t n, unsigned char *out);
bool apps_open(const apps_key_t *key, const unsigned char *sealed, size_t n, void *out);

typedef struct app {
    int64_t id, owner, created_at;
    char client_id[APP_CLIENT_ID_LEN + 1];
    char secret[APP_SECRET_LEN + 1]; /* opened; "" if it would not open (another server secret) */
    char *name, *description, *website;
    char *redirect_uris; /* one per line */
    bool enforce_signed;
} app_t;
void app_free(app_t *a);

/* Whether uri is one of the app's, byte for byte. */
bool app_redirect_ok(const app_t *a, const char *uri);
/* Whether secret is the app's (constant time). */
bool app_secret_ok(const app_t *a, const char *secret);

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
/* Revokes user's tokens of app (their hashes into *revoked as above, also
 * on a USERS_ERROR from the commit, whose outcome is unknown);
 * USERS_NOT_FOUND if there were none. */
int apps_revoke_user(db_ctx_t *db, int64_t user, int64_t app, unsigned char **revoked, int *n);

#endif
