/*
 * cursor: opaque page cursors, and the server secret they are keyed from.
 *
 * A list page whose scan stopped on items the viewer may not see (a private
 * account's photo on a tag page, say) must still hand back a position to go
 * on from, and that position is the hidden item's key. Handing it out as it
 * is would tell a stranger the ID of a photo they may not see. So such a
 * position is sealed: "s" followed by 32 base64url characters, a
 * deterministic authenticated encryption (SIV style) of the 64-bit position:
 *
 *   tag = BLAKE2b-128(mac key, position)        16 bytes, also the nonce
 *   ct  = position XOR ChaCha20(enc key, tag[0..12])   8 bytes
 *   cursor = "s" base64url(tag || ct)
 *
 * Without the key a cursor reveals nothing of the position, and it cannot be
 * altered into another valid one (a flipped bit fails the tag), so it is no
 * oracle either. Positions of items the viewer was shown stay plain IDs.
 *
 * The keys come from the server secret: 32 random bytes in a file (by
 * default DATA/secret, made on first start), the same on every server of a
 * cluster. Pure functions, thread safe.
 */
#ifndef PICOGRAM_CURSOR_H
#define PICOGRAM_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_BYTES 32
#define CURSOR_SEALED_LEN 33 /* 's' + 32 characters */

typedef struct cursor_key {
    unsigned char mac[32], enc[32];
} cursor_key_t;

/* Derives the cursor keys from the server secret. */
void cursor_key_derive(cursor_key_t *k, const unsigned char secret[SECRET_BYTES]);
/* Writes the sealed cursor of pos (NUL-terminated) into out. */
void cursor_seal(const cursor_key_t *k, int64_t pos, char out[CURSOR_SEALED_LEN + 1]);
/* Whether s looks like a sealed cursor ("s" and 32 base64url characters). */
bool cursor_is_sealed(const char *s, size_t n);
/* The position sealed in s; false if s is not a cursor made with this key. */
bool cursor_open(const cursor_key_t *k, const char *s, size_t n, int64_t *pos);

/* Reads the server secret from path; if the file does not exist, makes it
 * (32 random bytes, mode 0600, written atomically: two processes starting
 * at once end up with the same secret). Returns 0, or -1 with err. */
int secret_load(const char *path, unsigned char out[SECRET_BYTES], char *err, size_t errlen);

#endif
