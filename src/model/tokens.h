/*
 * tokens: access tokens, stored as token_hash() on the user's shard (the
 * user ID is the part before the dot, so the shard is known from the token).
 * Revocation deletes the row. Return USERS_OK, USERS_NOT_FOUND or USERS_ERROR.
 */
#ifndef PICOGRAM_TOKENS_H
#define PICOGRAM_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "core/token.h"
#include "db/db.h"

/* Makes a token for user_id, stores its hash, and writes it to out. */
int tokens_issue(db_ctx_t *db, int64_t user_id, char out[TOKEN_MAX_LEN + 1]);
/* The user a token belongs to, if it is valid and not revoked. */
int tokens_check(db_ctx_t *db, const char *tok, size_t n, int64_t *user_id);
int tokens_revoke(db_ctx_t *db, const char *tok, size_t n);

#endif
