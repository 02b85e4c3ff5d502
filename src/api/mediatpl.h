/*
 * mediatpl: a media object as the object cache holds it, a template.
 *
 * The JSON of a media with holes where the viewer or other cached objects
 * come in. A hole is a NUL byte (which JSON output never contains), a
 * type, and for 'U' and 'S' the 8 bytes of a user ID:
 *   'U' id   the user's short JSON, from the user cache (so a profile edit
 *            shows at once without touching the media entries);
 *   'L'      user_has_liked, for the viewer;
 *   'S' id   the start of a list element by that user (a liker, a
 *            comment): left out, to its 'E', for a viewer a block
 *            stands between them and the user, either way;
 *   'E'      the end of an element.
 * Elements carry no commas: the fill puts one before each element it
 * keeps that does not open its array.
 *
 * The value starts with a head: the owner's ID, the like count, how many
 * user IDs follow it, and how many holes. The user IDs are those of the
 * 'U' holes (the owner, likers, commenters), so a page finds the users to
 * ask for in one batch without scanning the templates. Then the holes'
 * offsets in the template (4 bytes each, in order), so that the fill goes
 * from hole to hole without looking for them. Then the template.
 *
 * The bytes come back from the object cache, memcached in the cluster:
 * mediatpl_read and mediatpl_fill take any bytes without reading outside
 * them (tests/fuzz/fuzz_mediatpl.c). A value they cannot make sense of
 * fails the read (the caller renders the media again), or is copied as it
 * is from the first hole that is not one; but where a hidden element's end
 * is not a hole, or lies before its start, the rest is left out.
 */
#ifndef PICOGRAM_MEDIATPL_H
#define PICOGRAM_MEDIATPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct media_head {
    int64_t owner, like_count;
    int64_t users; /* the IDs after the head */
    int64_t holes; /* the offsets after them */
} media_head_t;

/* A cached value, read: its head, its users' IDs, its holes, its template. */
typedef struct media_tpl {
    media_head_t head;
    const char *users; /* head.users IDs, 8 bytes each (unaligned) */
    const char *holes; /* head.holes offsets in body, 4 bytes each (unaligned) */
    const char *body;
    size_t len;
} media_tpl_t;

/* Writing a template's body: a hole with a user ID ('U' or 'S'), and an
 * element's end. */
void mediatpl_hole_id(buf_t *b, char type, int64_t id);
void mediatpl_element_end(buf_t *b);

/* The whole value into t: the head, the users, the holes found in body (a
 * body of 4 GiB or more is refused: t->overflow). */
void mediatpl_write(buf_t *t, int64_t owner, int64_t like_count, const int64_t *users, int64_t nusers, const char *body,
                    size_t len);

/* Reads a value's parts (pointing into v). False if its counts do not fit
 * its length. */
bool mediatpl_read(const char *v, size_t len, media_tpl_t *tp);

/* What the fill asks of its caller. */
typedef struct mediatpl_ops {
    void (*user)(void *ctx, int64_t id, buf_t *out); /* a 'U' hole: the user's JSON */
    bool (*hidden)(void *ctx, int64_t id);           /* an 'S' hole: leave the element out? */
    bool (*liked)(void *ctx);                        /* an 'L' hole: true or false */
} mediatpl_ops_t;

/* Appends the template to out with its holes filled. */
void mediatpl_fill(const media_tpl_t *tp, const mediatpl_ops_t *ops, void *ctx, buf_t *out);

#endif
