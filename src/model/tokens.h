/*
 * tokens: access tokens, stored as token_hash() on the user's shard (the
 * user ID is the part before the dot, so the shard is known from the token).
 * Revocation deletes the row. Return USERS_OK, USERS_NOT_FOUND or USERS_ERROR.
 */
#ifndef PICOGRAM_TOKENS_H
#define PICOGRAM_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/token.h"
#include "db/db.h"

/* Makes a token for user_id, stores its hash, and writes it to out. */
int tokens_issue(db_ctx_t *db, int64_t user_id, char out[TOKEN_MAX_LEN + 1]);
/* The same on c, the user's shard's connection (inside a caller's
 * transaction: a sign-up's user and first token are one write). */
int tokens_issue_on(db_conn_t *c, int64_t user_id, char out[TOKEN_MAX_LEN + 1]);
/* A token of an app (app_id; 0: first party) holding `scopes`
 * (model/apps.h), on c, the user's shard's connection. */
int tokens_issue_app(db_conn_t *c, int64_t user_id, int64_t app_id, unsigned scopes, char out[TOKEN_MAX_LEN + 1]);
/* What a valid, unrevoked token grants: its user, its app (0: first
 * party), and its scopes. */
typedef struct token_grant {
    int64_t user, app;
    unsigned scopes;
    bool signed_only; /* its app enforces signed requests (sig=) */
} token_grant_t;
/* The grant of a token. An app's token is valid only while its app exists. */
int tokens_check(db_ctx_t *db, const char *tok, size_t n, token_grant_t *grant);
int tokens_revoke(db_ctx_t *db, const char *tok, size_t n);

/* A token as its owner sees it: its stored hash, and when it was made. */
typedef struct token_info {
    unsigned char hash[TOKEN_HASH_BYTES];
    int64_t created_at; /* seconds */
} token_info_t;

/* Every token of user, newest first, into *out (xmalloc'd; free it). */
int tokens_list(db_ctx_t *db, int64_t user, token_info_t **out, int *n);
/* Revokes user's token with this hash: USERS_OK, or USERS_NOT_FOUND if
 * user has none such. */
int tokens_revoke_hash(db_ctx_t *db, int64_t user, const unsigned char hash[TOKEN_HASH_BYTES]);
/* Revokes every token of user but `keep` (NULL: every one), in one
 * transaction with the new password hash if `password_hash` is not NULL.
 * The revoked ones in *revoked (xmalloc'd; free it), for the caller to
 * drop from the object cache after the commit; also on a USERS_ERROR from
 * the commit itself, whose outcome is unknown. */
int tokens_revoke_all(db_ctx_t *db, int64_t user, const char *password_hash, const unsigned char *keep,
                      token_info_t **revoked, int *n);
/* The object cache's key of a token (CACHE_TOKEN), from its hash. */
int64_t tokens_cache_key(const unsigned char hash[TOKEN_HASH_BYTES]);

#endif
