/*
 * social: likes, comments and the activity feed, above the db interface.
 *
 * Placement: likes and comments live on the media's shard, with the
 * photo's counters and its owner's news; the liker's "liked" list lives on
 * the liker's shard and mention news on the mentioned user's: those mirror
 * the truth (model/far.h). Likes and unlikes are idempotent; counts are
 * exact.
 *
 * Return SOCIAL_OK, SOCIAL_NOT_FOUND or SOCIAL_ERROR.
 */
#ifndef PICOGRAM_SOCIAL_H
#define PICOGRAM_SOCIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/text.h"
#include "db/db.h"
#include "model/far.h"
#include "model/media.h"

enum { SOCIAL_OK = 0, SOCIAL_NOT_FOUND = 1, SOCIAL_ERROR = -1 };

int social_like(db_ctx_t *db, int64_t media, int64_t owner, int64_t user);
int social_unlike(db_ctx_t *db, int64_t media, int64_t user);
int social_has_liked(db_ctx_t *db, int64_t media, int64_t user, bool *yes);
/* The media with lo <= id <= hi that user has liked, up to limit of them
 * (ascending); *n == limit means there may be more. */
int social_liked_between(db_ctx_t *db, int64_t user, int64_t lo, int64_t hi, int limit, int64_t *out, int *n);
/* The latest likers, newest first. */
int social_likers(db_ctx_t *db, int64_t media, int limit, int64_t *out, int *n);
/* The user's likes below like ID `before`, newest first. */
int social_liked(db_ctx_t *db, int64_t user, int64_t before, int limit, int64_t *like_ids, int64_t *media_ids, int *n);

typedef struct comment {
    int64_t id, media_id, user_id, created_at;
    char text[CAPTION_MAX * 4 + 1];
} comment_t;

/* Adds c (id, media_id, user_id, text set; created_at from its ID unless
 * set: an import keeps the original's); notifies
 * the media owner and the mentioned users. */
int social_comment_add(db_ctx_t *db, comment_t *c, int64_t media_owner, const text_mention_t *mentions, size_t nm);
int social_comment_get(db_ctx_t *db, int64_t media, int64_t id, comment_t *out);
int social_comment_delete(db_ctx_t *db, const comment_t *c);
/* A page of the comments user made that are on physical database d (a
 * comment lives with its photo): IDs after `after`, oldest first, with
 * their photos. */
int social_comments_by_user(db_ctx_t *db, size_t d, int64_t user, int64_t after, int limit, int64_t *media,
                            int64_t *ids, int *n);
/* The latest comments, newest first. */
int social_comments(db_ctx_t *db, int64_t media, int limit, comment_t *out, int *n);

/* Activity: inside the caller's open transaction on c (the recipient's
 * shard). Made once per (ref, recipient, kind). */
int social_notify(db_conn_t *c, int64_t recipient, int64_t actor, const char *kind, int64_t media, const char *text,
                  int64_t ref);
/* Inside f's transaction, after ref's text changed (a comment of media
 * added or deleted, or media's caption when ref is media): each mentioned
 * user who exists gets their news made or taken back (the far effect
 * "mention"). -1 on error. */
int social_mention_effects(far_t *f, int64_t ref, int64_t media, const text_mention_t *mentions, size_t nm);
/* Takes back the news that ref (a like, a comment) caused, on c's database. */
int social_unnotify(db_conn_t *c, int64_t ref);

/* Job "block_purge" (payload "A B [BEFORE]"), enqueued by a new block of
 * B by A (graph_block): B's likes and comments on A's photos are taken off,
 * SOCIAL_PURGE_BATCH photos a run, newest first, with their news and
 * counts, for as long as the block stands. ctx: the object cache, or NULL. */
#define SOCIAL_PURGE_BATCH 200
int social_block_purge_job(db_ctx_t *db, char *payload, void *ctx);

/* Far effects (model/far.h): "liked USER MEDIA" and "mention REF MEDIA USER". */
int far_liked(far_t *f, char *payload);
int far_mention(far_t *f, char *payload);

typedef struct activity {
    int64_t id, actor_id, media_id;
    char kind[16];
    char text[CAPTION_MAX * 4 + 1];
} activity_t;

int social_activity(db_ctx_t *db, int64_t user, int64_t before, int limit, activity_t *out, int *n);

#endif
