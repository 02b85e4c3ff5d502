/*
 * token: access tokens of the shape "<user id>.<random>", as v1 clients
 * expect (some take the user ID from the part before the first dot).
 *
 * The random part is 32 bytes (256 bits) from libsodium, base64url without
 * padding. The server stores only token_hash() of the whole token, so a
 * leaked database does not leak usable tokens.
 */
#ifndef PICOGRAM_TOKEN_H
#define PICOGRAM_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_RANDOM_BYTES 32
#define TOKEN_HASH_BYTES 32
#define TOKEN_MAX_LEN 80 /* 19 digits + '.' + 43 base64url chars, with room to spare */

/* Writes a new NUL-terminated token for user_id into out (TOKEN_MAX_LEN+1 bytes). */
void token_generate(int64_t user_id, char *out);
/* The user id before the dot, or 0 if the token is not well-formed. */
int64_t token_user_id(const char *tok, size_t n);
void token_hash(const char *tok, size_t n, unsigned char out[TOKEN_HASH_BYTES]);

#endif
