#include "model/media.h"
#include "core/buf.h"
#include "core/ids.h"
#include "feeds/feeds.h"
#include "geo/geo.h"
#include "model/discovery.h"
#include "model/social.h"

#include <stdio.h>
#include <string.h>

static void row_to_media(db_stmt_t *s, media_t *m)
{
    memset(m, 0, sizeof(*m));
    m->id = db_col_i64(s, 0);
    m->user_id = db_col_i64(s, 1);
    m->has_caption = !db_col_null(s, 2);
    db_col_copy(s, 2, m->caption, sizeof(m->caption));
    db_col_copy(s, 3, m->filter, sizeof(m->filter));
    m->location_id = db_col_null(s, 4) ? 0 : db_col_i64(s, 4);
    db_col_copy(s, 5, m->tags_json, sizeof(m->tags_json));
    char dims[128];
    db_col_copy(s, 6, dims, sizeof(dims));
    sscanf(dims, "%dx%d,%dx%d,%dx%d,%dx%d", &m->width[0], &m->height[0], &m->width[1], &m->height[1], &m->width[2],
           &m->height[2], &m->width[3], &m->height[3]);
    m->like_count = db_col_i64(s, 7);
    m->comment_count = db_col_i64(s, 8);
    m->created_at = db_col_i64(s, 9);
    m->fanned = db_col_i64(s, 13) != 0;
    m->file_key = db_col_i64(s, 14);
    if (m->location_id) {
        db_col_copy(s, 10, m->location_name, sizeof(m->location_name));
        m->lat = db_col_double(s, 11);
        m->lng = db_col_double(s, 12);
    }
}

static int write_all(db_ctx_t *db, db_conn_t *c, media_t *m, int64_t loc_new, const text_mention_t *mentions,
                     size_t nmentions)
{
    db_stmt_t *s;
    if (loc_new) {
        if (location_find_or_make(c, m->location_name, m->lat, m->lng, loc_new, &m->location_id) != DB_DONE)
            return MEDIA_ERROR;
        location_t l;
        if (m->location_id != loc_new) { /* an existing place: show it as it is */
            if (location_get(db, m->location_id, &l) != DISC_OK)
                return MEDIA_ERROR;
            memcpy(m->location_name, l.name, sizeof(m->location_name));
            m->lat = l.lat;
            m->lng = l.lng;
        }
    }
    char dims[128];
    snprintf(dims, sizeof(dims), "%dx%d,%dx%d,%dx%d,%dx%d", m->width[0], m->height[0], m->width[1], m->height[1],
             m->width[2], m->height[2], m->width[3], m->height[3]);
    s = db_q(c, Q_MEDIA_INSERT);
    db_bind_i64(s, 1, m->id);
    db_bind_i64(s, 2, m->user_id);
    if (m->has_caption)
        db_bind_cstr(s, 3, m->caption);
    else
        db_bind_null(s, 3);
    db_bind_cstr(s, 4, m->filter);
    if (m->location_id)
        db_bind_i64(s, 5, m->location_id);
    else
        db_bind_null(s, 5);
    db_bind_cstr(s, 6, m->tags_json);
    db_bind_cstr(s, 7, dims);
    db_bind_i64(s, 8, m->created_at);
    db_bind_i64(s, 9, m->fanned);
    db_bind_i64(s, 10, m->file_key);
    if (db_exec_stmt(s) != DB_DONE)
        return MEDIA_ERROR;
    if (!m->fanned) { /* a celebrity's post: feeds merge it at read time */
        s = db_q(c, Q_CELEB_PUT);
        db_bind_i64(s, 1, m->user_id);
        if (db_exec_stmt(s) != DB_DONE)
            return MEDIA_ERROR;
    }
    /* the caption's tags, applied now: their tag IDs are the media's */
    if (tags_sync(c, m->id, m->id, 0) != DB_DONE)
        return MEDIA_ERROR;
    if (m->location_id && geo_media_put(c, m->id, m->lat, m->lng, m->created_at) != DB_DONE)
        return MEDIA_ERROR;
    for (size_t i = 0; i < nmentions; i++) {
        s = db_q(c, Q_MEDIA_MENTION_INSERT);
        db_bind_i64(s, 1, m->id);
        db_bind_cstr(s, 2, mentions[i]);
        if (db_exec_stmt(s) != DB_DONE)
            return MEDIA_ERROR;
    }
    if (social_notify_mentions(db, c, m->user_id, m->id, m->caption, m->id, mentions, nmentions) != 0)
        return MEDIA_ERROR;
    s = db_q(c, Q_USER_MEDIA_COUNT_ADD);
    db_bind_i64(s, 1, m->user_id);
    db_bind_i64(s, 2, 1);
    if (db_exec_stmt(s) != DB_DONE)
        return MEDIA_ERROR;
    /* the fan-out to followers' timelines, committed with the post */
    return feeds_enqueue_fanout(c, m->id, m->user_id) == DB_DONE ? MEDIA_OK : MEDIA_ERROR;
}

int media_create(db_ctx_t *db, media_t *m, int64_t location_id_new, const text_mention_t *mentions,
                 size_t nmentions)
{
    /* Embedded: one database holds every shard, so the post, its indexes and
     * its place commit together. (The cluster moves tag and place indexes to
     * their own shards as outbox jobs.) */
    db_conn_t *c = db_shard(db, ids_shard(m->id));
    if (c == NULL || db_begin(c) != DB_OK)
        return MEDIA_ERROR;
    int rc = write_all(db, c, m, location_id_new, mentions, nmentions);
    if (rc != MEDIA_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        return MEDIA_ERROR;
    }
    jobs_kick();
    return MEDIA_OK;
}

int media_get(db_ctx_t *db, int64_t id, media_t *out)
{
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL)
        return MEDIA_ERROR;
    db_stmt_t *s = db_q(c, Q_MEDIA_BY_ID);
    db_bind_i64(s, 1, id);
    int rc = db_step(s);
    if (rc == DB_ROW)
        row_to_media(s, out);
    db_reset(s);
    return rc == DB_ROW ? MEDIA_OK : rc == DB_DONE ? MEDIA_NOT_FOUND : MEDIA_ERROR;
}

int media_delete(db_ctx_t *db, int64_t id, int64_t owner, int64_t *file_key)
{
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL || db_begin(c) != DB_OK)
        return MEDIA_ERROR;
    db_stmt_t *s = db_q(c, Q_MEDIA_DELETE);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, owner);
    int step = db_step(s);
    int rc = step == DB_ROW ? MEDIA_OK : step == DB_DONE ? MEDIA_NOT_FOUND : MEDIA_ERROR;
    if (step == DB_ROW) {
        *file_key = db_col_i64(s, 0);
        if (db_step(s) != DB_DONE)
            rc = MEDIA_ERROR;
    }
    db_reset(s);
    if (rc == MEDIA_OK && (tags_unindex(c, id) != DB_DONE || geo_media_del(c, id) != DB_DONE))
        rc = MEDIA_ERROR;
    const unsigned cleanup[] = {Q_MEDIA_MENTIONS_DELETE, Q_MEDIA_LIKES_DELETE, Q_MEDIA_LIKED_DELETE,
                                Q_MEDIA_COMMENTS_DELETE, Q_ACTIVITY_DELETE_MEDIA};
    for (size_t i = 0; rc == MEDIA_OK && i < sizeof(cleanup) / sizeof(cleanup[0]); i++) {
        s = db_q(c, cleanup[i]);
        db_bind_i64(s, 1, id);
        if (db_exec_stmt(s) != DB_DONE)
            rc = MEDIA_ERROR;
    }
    if (rc == MEDIA_OK) {
        s = db_q(c, Q_USER_MEDIA_COUNT_ADD);
        db_bind_i64(s, 1, owner);
        db_bind_i64(s, 2, -1);
        if (db_exec_stmt(s) != DB_DONE || feeds_enqueue_media_gone(c, id) != DB_DONE)
            rc = MEDIA_ERROR;
    }
    if (rc != MEDIA_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        return rc == MEDIA_OK ? MEDIA_ERROR : rc;
    }
    jobs_kick();
    return MEDIA_OK;
}

int media_ids_by_user(db_ctx_t *db, int64_t user_id, int64_t max_id, int64_t min_id, int limit, int64_t *out, int *n)
{
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user_id));
    if (c == NULL)
        return MEDIA_ERROR;
    db_stmt_t *s = db_q(c, Q_MEDIA_IDS_BY_USER);
    db_bind_i64(s, 1, user_id);
    db_bind_i64(s, 2, max_id);
    db_bind_i64(s, 3, min_id);
    db_bind_i64(s, 4, limit);
    return db_read_ids(s, limit, out, n) == DB_DONE ? MEDIA_OK : MEDIA_ERROR;
}

int media_file_key(db_ctx_t *db, int64_t id, int64_t *file_key)
{
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL)
        return MEDIA_ERROR;
    db_stmt_t *s = db_q(c, Q_MEDIA_FILE_KEY);
    db_bind_i64(s, 1, id);
    int rc = db_step(s);
    if (rc == DB_ROW)
        *file_key = db_col_i64(s, 0);
    db_reset(s);
    return rc == DB_ROW ? MEDIA_OK : rc == DB_DONE ? MEDIA_NOT_FOUND : MEDIA_ERROR;
}

bool media_exists(db_ctx_t *db, int64_t id)
{
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL)
        return true; /* when in doubt, keep files */
    db_stmt_t *s = db_q(c, Q_MEDIA_EXISTS);
    db_bind_i64(s, 1, id);
    int rc = db_step(s);
    db_reset(s);
    return rc != DB_DONE;
}
