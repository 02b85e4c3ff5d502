/*
 * media: photo posts, above the db interface.
 *
 * A media row lives on its owner's logical shard: its ID is made on that
 * shard, so `media id -> shard` is arithmetic. Creating a post writes the
 * row, its tags and mentions, its place, and the owner's media count in one
 * transaction; deleting undoes all of it in one transaction.
 *
 * Return MEDIA_OK, MEDIA_NOT_FOUND or MEDIA_ERROR.
 */
#ifndef PICOGRAM_MEDIA_H
#define PICOGRAM_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "core/text.h"
#include "db/db.h"
#include "images/images.h"

enum { MEDIA_OK = 0, MEDIA_NOT_FOUND = 1, MEDIA_ERROR = -1 };

#define CAPTION_MAX 2200 /* characters */
#define FILTER_MAX 40
#define LOCATION_NAME_MAX 100

#define MEDIA_SHARE_MAX 5 /* SHARE_ACCOUNTS_MAX */

typedef struct media {
    int64_t id, user_id;
    bool has_caption;
    char caption[CAPTION_MAX * 4 + 1];
    char filter[FILTER_MAX * 4 + 1]; /* 40 characters of UTF-8 */
    int64_t location_id; /* 0: none */
    char location_name[LOCATION_NAME_MAX * 4 + 1];
    double lat, lng;
    char tags_json[TEXT_MAX_TAGS * (TAG_MAX_BYTES + 3) + 3]; /* ["a","b"] */
    int width[IMG_NRENDITIONS], height[IMG_NRENDITIONS];
    int64_t like_count, comment_count;
    int64_t created_at; /* unix seconds */
    bool fanned;        /* fanned out to timelines; false if posted as a celebrity (merged at read) */
    int64_t file_key;   /* the random part of its file names (blob/blob.h); 0 for photos stored before */
    /* on a new post: the owner's connected accounts it goes to (model/share.h) */
    int64_t share_to[MEDIA_SHARE_MAX];
    int nshare;
} media_t;

/* Writes m (id, user_id, caption, filter, place, sizes, created_at,
 * fanned and file_key set by the caller) with its caption's tags, its
 * mentions and its place in the geo index, and counts it on the owner. A
 * place is m->location_id with its name and coordinates in m (an existing
 * place, found or made by location_find_or_make), or 0. The tag and place
 * indexes and the mention news on other shards follow (model/far.h). */
int media_create(db_ctx_t *db, media_t *m, const text_mention_t *mentions, size_t nmentions);
int media_get(db_ctx_t *db, int64_t id, media_t *out);

struct blob_store;
struct user;
/* A new post, as an upload makes it (picogram admin import too): m as for
 * media_create (id, user_id, file_key, caption, filter, created_at), with
 * its place by name and coordinates in m if place_new_id is not 0 (found,
 * or made with that ID); its renditions r go into the store first, then
 * its row, fanned out unless the owner has more than celebrity followers.
 * 0 (m and *owner as stored), 503 (the photo store failed: try again) or
 * 500 (a database); on failure nothing of it is left, files included. */
int media_post(db_ctx_t *db, struct blob_store *store, media_t *m, const img_result_t *r, int64_t place_new_id,
               long long celebrity, const text_mention_t *mentions, size_t nmentions, struct user *owner);
/* Calls fn(arg, d, id, file_key) for every photo of every physical
 * database d of db, a page at a time in ID order: 0; -1 on a database
 * error; or the first non-zero fn returned (which stops it). */
int media_each_key(db_ctx_t *db, int (*fn)(void *arg, size_t d, int64_t id, int64_t file_key), void *arg);
/* Deletes the renditions of a photo from the store (absent ones count as
 * gone); how many went. A failure leaves orphans for the sweep. */
long long media_delete_files(struct blob_store *store, int64_t id, int64_t file_key);
/* Deletes the owner's media; *file_key is the file key its files had.
 * MEDIA_NOT_FOUND if it is not theirs or gone. */
int media_delete(db_ctx_t *db, int64_t id, int64_t owner, int64_t *file_key);
/* The file key of media id: MEDIA_OK, MEDIA_NOT_FOUND or MEDIA_ERROR. */
int media_file_key(db_ctx_t *db, int64_t id, int64_t *file_key);
/* The owner's media IDs with min_id < id < max_id, newest first. */
int media_ids_by_user(db_ctx_t *db, int64_t user_id, int64_t max_id, int64_t min_id, int limit, int64_t *out, int *n);
bool media_exists(db_ctx_t *db, int64_t id);

/* Far effects (model/far.h): "celeb USER" and "media_gone MEDIA PLACE PHASE". */
typedef struct far far_t;
int far_celeb(far_t *f, char *payload);
int far_media_gone(far_t *f, char *payload);

/* For a photo store's sweep: whether a stored key is in use. A key is
 * kept if its row exists with the file key of its name; keys that are not
 * media keys, and any key when in doubt (a database error), are kept.
 * arg is a db_ctx_t. */
bool media_file_in_use(const char *key, void *arg);

#endif
