/*
 * render: the JSON shapes of the v1 API, written straight into a buf
 * (no JSON tree is built on the read path).
 */
#ifndef PICOGRAM_RENDER_H
#define PICOGRAM_RENDER_H

#include "core/buf.h"
#include "model/media.h"
#include "model/social.h"
#include "model/users.h"

/* Where links and photos live: public_url for /p/CODE/ links, photo_url as
 * the base of the photo store's keys (a CDN in the cluster). */
typedef struct render_urls {
    const char *public_url;
    const char *photo_url;
} render_urls_t;

/* {"id","username","full_name","profile_picture"} */
void render_user_short(buf_t *b, const user_t *u);
/* the short form plus bio, website, is_private and counts */
void render_user_full(buf_t *b, const user_t *u);

#define RENDER_LIKERS 4
#define RENDER_COMMENTS 4

/* What a media object shows beyond its row, rendered per request: the
 * latest likers and comments (comma-separated JSON values) and whether the
 * viewer has liked it. Never cached with the media. */
typedef struct media_extras {
    bool user_has_liked;
    const char *user_has_liked_raw; /* if set, written in its place (a template hole) */
    size_t user_has_liked_raw_len;
    buf_t likers;   /* short users */
    buf_t comments; /* comment objects, oldest first */
} media_extras_t;

/* The v1 media object. owner is the owner's short-user JSON; x may be NULL. */
void render_media(buf_t *b, const media_t *m, const char *owner, size_t owner_len, const render_urls_t *urls,
                  const media_extras_t *x);
/* {"id","text","created_time","from"}, with from given as short-user JSON */
void render_comment(buf_t *b, const comment_t *c, const char *from, size_t from_len);
/* {"id","name","latitude","longitude"} */
void render_location(buf_t *b, int64_t id, const char *name, double lat, double lng);
/* "MEDIAID_OWNERID" */
void render_media_id(buf_t *b, const media_t *m);

#endif
