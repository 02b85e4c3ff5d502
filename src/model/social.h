/*
 * social: likes, comments and the activity feed, above the db interface.
 *
 * Placement: likes and comments live on the media's shard, the "liked by
 * me" list on the liker's shard, activity on the recipient's shard. In the
 * embedded topology they are one database, so a like (its row, the liker's
 * list row, the media's count and the owner's activity) is one transaction.
 * Likes and unlikes are idempotent; counts are exact.
 *
 * Return SOCIAL_OK, SOCIAL_NOT_FOUND or SOCIAL_ERROR.
 */
#ifndef PICOGRAM_SOCIAL_H
#define PICOGRAM_SOCIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/text.h"
#include "db/db.h"
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

/* Adds c (id, media_id, user_id, text set; created_at made here); notifies
 * the media owner and the mentioned users. */
int social_comment_add(db_ctx_t *db, comment_t *c, int64_t media_owner, const text_mention_t *mentions, size_t nm);
int social_comment_get(db_ctx_t *db, int64_t media, int64_t id, comment_t *out);
int social_comment_delete(db_ctx_t *db, const comment_t *c);
/* The latest comments, newest first. */
int social_comments(db_ctx_t *db, int64_t media, int limit, comment_t *out, int *n);

/* Activity: inside the caller's open transaction on c. */
int social_notify(db_conn_t *c, int64_t recipient, int64_t actor, const char *kind, int64_t media, const char *text,
                  int64_t ref);
/* Notifies each mentioned user who exists (not the actor). */
int social_notify_mentions(db_ctx_t *db, db_conn_t *c, int64_t actor, int64_t media, const char *text, int64_t ref,
                           const text_mention_t *mentions, size_t nm);
/* Takes back the news that ref (a like, a comment, a photo's caption) caused. */
int social_unnotify(db_conn_t *c, int64_t ref);

typedef struct activity {
    int64_t id, actor_id, media_id;
    char kind[16];
    char text[CAPTION_MAX * 4 + 1];
} activity_t;

int social_activity(db_ctx_t *db, int64_t user, int64_t before, int limit, activity_t *out, int *n);

#endif
