/*
 * discovery: hashtags, places and the popular ranking, above the db
 * interface (the geo index is geo/).
 *
 * A media's tags are the hashtags of its caption and of its owner's first
 * TAGS_OWNER_COMMENTS comments (the original had the owner's comments;
 * the bound keeps each sync's reading small, whatever the owner writes
 * after), caption first, at most TEXT_MAX_TAGS.
 * Each (tag, media) row gets an ID when the tag is applied, so a tag's page
 * lists media newest-applied first; `tags` keeps each tag's media count.
 * tags_sync recomputes the set after any change to that text and applies
 * the difference, all in the caller's transaction.
 *
 * Return DISC_OK, DISC_NOT_FOUND or DISC_ERROR unless said otherwise.
 */
#ifndef PICOGRAM_DISCOVERY_H
#define PICOGRAM_DISCOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/text.h"
#include "db/db.h"
#include "feeds/feeds.h"
#include "jobs/jobs.h"
#include "model/far.h"
#include "model/media.h"

enum { DISC_OK = 0, DISC_NOT_FOUND = 1, DISC_ERROR = -1 };

#define LOCATION_DEDUP_M 10.0 /* a new place this near one of the same name is that place */
#define POPULAR_KEEP 200      /* ranked media kept by the popular job */
#define POPULAR_WINDOW_S (7 * 86400)

typedef struct tag_info {
    text_tag_t name;
    int64_t media_count;
} tag_info_t;

typedef struct location {
    int64_t id;
    char name[LOCATION_NAME_MAX * 4 + 1];
    double lat, lng;
} location_t;

#define TAGS_OWNER_COMMENTS 30

/* The JSON array of tags a media object shows. */
void tags_json(buf_t *b, const text_tag_t *tags, size_t n);

/* Within f's transaction on the media's shard. Sets the media's tags
 * (media_tags, and media.tags as shown) from its caption and owner's
 * comments; tags new to it get tag_id. If author is not 0 and is not the
 * media's owner, does nothing (another user's comment never changes tags).
 * The tag index and counts, on each tag's shard, follow (the far effect
 * "tag"). DB_DONE or DB_ERROR. */
int tags_sync(far_t *f, int64_t media, int64_t tag_id, int64_t author);
/* Within f's transaction: takes every tag off a deleted media. */
int tags_unapply(far_t *f, int64_t media);
/* The logical shard of a tag's index and count (a hash of its name). */
unsigned tag_shard(db_ctx_t *db, const char *tag);

/* The tag's media count (0 for a tag nobody used). */
int tag_get(db_ctx_t *db, const char *name, int64_t *count);
/* Tags starting with prefix (lower-cased), most used first. */
int tags_search(db_ctx_t *db, const char *prefix, int limit, tag_info_t *out, int *n);
/* The tag's (tag ID, media ID) pairs with after < tag ID < before, newest first. */
int tag_media(db_ctx_t *db, const char *tag, int64_t before, int64_t after, int limit, int64_t *tag_ids,
              int64_t *media_ids, int *n);

/* Edits the owner's caption (NULL removes it) and what follows from it:
 * tags (new ones get edit_id), mentions (new ones are notified). */
int media_set_caption(db_ctx_t *db, int64_t media, int64_t owner, const char *caption, int64_t edit_id,
                      const text_mention_t *mentions, size_t nmentions);

int location_get(db_ctx_t *db, int64_t id, location_t *out);
/* The logical shard a new place of this name goes on (a hash of its name,
 * in any case): make its ID there, so that places of one name are made one
 * at a time. */
unsigned place_shard(db_ctx_t *db, const char *name);
/* The place of this name (any case) within LOCATION_DEDUP_M of (lat, lng),
 * or a new one with id new_id (made on place_shard), in *out. Its own
 * transaction. DISC_OK or DISC_ERROR. */
int location_find_or_make(db_ctx_t *db, const char *name, double lat, double lng, int64_t new_id, location_t *out);
/* Places whose name starts with prefix (any case). */
int locations_by_name(db_ctx_t *db, const char *prefix, int limit, location_t *out, int *n);
/* The place's media with after < id < before, newest first. */
int location_media(db_ctx_t *db, int64_t location, int64_t before, int64_t after, int limit, int64_t *ids, int *n);

/* Far effects (model/far.h): "tag MEDIA TAG" and "place MEDIA LOCATION". */
int far_tag(far_t *f, char *payload);
int far_place(far_t *f, char *payload);

/* The popular job's context: its period, and the store that keeps a copy
 * of its ranking (feeds.h; may be NULL). */
typedef struct popular_ctx {
    long long interval; /* seconds */
    feeds_t *feeds;
} popular_ctx_t;
/* The popular ranking, best first (ranked by the "popular" job): the
 * store's copy (feeds may be NULL), or the database's. */
int popular_list(db_ctx_t *db, feeds_t *feeds, int limit, int64_t *ids, int *n);
/* Enqueues the first "popular" job unless one is waiting. DISC_OK or DISC_ERROR. */
int popular_schedule(db_ctx_t *db);
/* Job handler "popular": ranks recent public media by likes and comments
 * with time decay, keeps the best POPULAR_KEEP, and enqueues its next run
 * after *(long long *)ctx seconds. */
int popular_job(db_ctx_t *db, char *payload, void *ctx);

/* picogram admin reindex. Tags: every (photo, tag) applied and every entry
 * of the tags' index, reconciled by the far effect "tag" (a missing entry
 * made, a stale one dropped), then every tag's count recounted from its
 * index. Geo: every placed photo's point put again and its place's list
 * of photos reconciled (far effect "place"), and points of photos that are
 * gone dropped. Safe to run any time, on a running server. 0 or -1. */
int tags_reindex(db_ctx_t *db, long long *checked, long long *counts_fixed);
int geo_reindex(db_ctx_t *db, long long *points, long long *dropped);

#endif
