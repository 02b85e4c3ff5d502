/*
 * render: the JSON shapes of the v1 API, written straight into a buf
 * (no JSON tree is built on the read path).
 */
#ifndef PICOGRAM_RENDER_H
#define PICOGRAM_RENDER_H

#include "core/buf.h"
#include "model/users.h"

/* {"id","username","full_name","profile_picture"} */
void render_user_short(buf_t *b, const user_t *u);
/* the short form plus bio, website, is_private and counts */
void render_user_full(buf_t *b, const user_t *u);

#endif
