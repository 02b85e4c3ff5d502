/*
 * export: an account's archive, for its owner to keep or to take to
 * another picogram (GET /v1/users/self/export, picogram admin export; the
 * way back in is picogram admin import).
 *
 * The archive is a zip:
 *   manifest.json   the format ("picogram-export", version 1), when, the
 *                   account, what it holds, and photos the store did not have
 *   profile.json    the account
 *   media.json      its photos, oldest first: caption, filter, tags, place,
 *                   time, counts, size, its photo file, and every comment
 *                   and like it received
 *   comments.json   the comments it made, on anyone's photos
 *   likes.json      the photos it liked
 *   follows.json, followers.json   the accounts, {id, username}
 *   photos/ID.jpg   each photo at the largest size kept (the "h" rendition),
 *                   stored as it is (a JPEG does not deflate)
 * Each JSON list is an array with one item a line, so a reader can take it
 * an item at a time (import does).
 *
 * DESIGN: memory stays flat, however many photos
 * libzip writes the whole archive in zip_close, from the sources it was
 * given, so nothing large is given to it as a buffer. Each JSON list is
 * written an item at a time, as the databases are read a page at a time,
 * to an unlinked temporary file beside the archive, which libzip reads
 * back. Each photo is a source that fetches its bytes from the photo store
 * only when libzip reads it, and lets go of them when it has. What stays in
 * memory is libzip's list of entries (a few hundred bytes a photo) and one
 * photo at a time. The archive is written under a temporary name beside
 * path and renamed to it when whole.
 */
#ifndef PICOGRAM_EXPORT_H
#define PICOGRAM_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "blob/blob.h"
#include "db/db.h"

enum { EXPORT_OK = 0, EXPORT_NOT_FOUND = 1, EXPORT_ERROR = -1, EXPORT_IO = -2 };

#define EXPORT_FORMAT "picogram-export"
#define EXPORT_VERSION 1

typedef struct export_counts {
    long long media, photos_missing, comments_received, likes_received, comments, likes, follows, followers;
    long long bytes; /* the archive's size */
} export_counts_t;

/* Writes user's archive (suspended or not) to path. EXPORT_OK;
 * EXPORT_NOT_FOUND (no such user); EXPORT_ERROR (a database or the photo
 * store failed: try again); EXPORT_IO (the archive could not be written
 * there: no space, no such directory). err says what, for a log. Nothing is
 * left at path unless it is EXPORT_OK. */
int export_user(db_ctx_t *db, blob_store_t *store, int64_t user, const char *path, export_counts_t *n, char *err,
                size_t errlen);

#endif
