#include "model/media.h"
#include "model/hooks.h"
#include "model/share.h"
#include "blob/blob.h"
#include "core/buf.h"
#include "core/ids.h"
#include "model/timeline.h"
#include "geo/geo.h"
#include "model/discovery.h"
#include "model/far.h"
#include "model/social.h"
#include "model/users.h"

#include <stdio.h>
#include <stdlib.h>
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

static int write_all(far_t *f, media_t *m, const text_mention_t *mentions, size_t nmentions)
{
    db_conn_t *c = f->tx;
    char dims[128];
    snprintf(dims, sizeof(dims), "%dx%d,%dx%d,%dx%d,%dx%d", m->width[0], m->height[0], m->width[1], m->height[1],
             m->width[2], m->height[2], m->width[3], m->height[3]);
    db_stmt_t *s = db_q(c, Q_MEDIA_INSERT);
    db_bind_i64(s, 1, m->id);
    db_bind_i64(s, 2, m->user_id);
    if (m->has_caption)
        db_bind_cstr(s, 3, m->caption);
    else
        db_bind_null(s, 3);
    db_bind_cstr(s, 4, m->filter);
    db_bind_cstr(s, 6, m->tags_json);
    db_bind_cstr(s, 7, dims);
    db_bind_i64(s, 8, m->created_at);
    db_bind_i64(s, 9, m->fanned);
    db_bind_i64(s, 10, m->file_key);
    if (m->location_id) { /* the place, as it is (places never change) */
        db_bind_i64(s, 5, m->location_id);
        db_bind_cstr(s, 11, m->location_name);
        db_bind_double(s, 12, m->lat);
        db_bind_double(s, 13, m->lng);
    } else {
        db_bind_null(s, 5);
        db_bind_null(s, 11);
        db_bind_null(s, 12);
        db_bind_null(s, 13);
    }
    if (db_exec_stmt(s) != DB_DONE)
        return MEDIA_ERROR;
    /* a celebrity's post: feeds merge it at read time, from the list of
     * celebrities every database holds */
    if (!m->fanned && far_do(f, "celeb", FAR_ALL_SHARDS, "%lld", (long long)m->user_id) != DB_DONE)
        return MEDIA_ERROR;
    /* the caption's tags, applied now: their tag IDs are the media's */
    if (tags_sync(f, m->id, m->id, 0) != DB_DONE)
        return MEDIA_ERROR;
    if (m->location_id &&
        (geo_media_put(c, m->id, m->lat, m->lng, m->created_at) != DB_DONE ||
         far_do(f, "place", ids_shard(m->location_id), "%lld %lld", (long long)m->id, (long long)m->location_id) !=
             DB_DONE))
        return MEDIA_ERROR;
    for (size_t i = 0; i < nmentions; i++) {
        s = db_q(c, Q_MEDIA_MENTION_INSERT);
        db_bind_i64(s, 1, m->id);
        db_bind_cstr(s, 2, mentions[i]);
        if (db_exec_stmt(s) != DB_DONE)
            return MEDIA_ERROR;
    }
    if (social_mention_effects(f, m->id, m->id, mentions, nmentions) != 0)
        return MEDIA_ERROR;
    s = db_q(c, Q_USER_MEDIA_COUNT_ADD);
    db_bind_i64(s, 1, m->user_id);
    db_bind_i64(s, 2, 1);
    if (db_exec_stmt(s) != DB_DONE)
        return MEDIA_ERROR;
    /* the fan-out to followers' timelines, and the real-time updates to
     * apps' subscriptions, committed with the post */
    if (hooks_enqueue(f->db, c, m->id) != DB_DONE)
        return MEDIA_ERROR;
    for (int i = 0; i < m->nshare; i++)
        if (share_enqueue(c, m->id, m->share_to[i]) != DB_DONE)
            return MEDIA_ERROR;
    return timeline_enqueue_fanout(c, m->id, m->user_id) == DB_DONE ? MEDIA_OK : MEDIA_ERROR;
}

static int create_once(far_t *f, db_ctx_t *db, media_t *m, const text_mention_t *mentions, size_t nmentions)
{
    /* The post on its owner's shard; its tags, place list and mentions on
     * theirs (model/far.h). */
    far_init(f, db);
    if (far_begin(f, ids_shard(m->id)) != DB_OK)
        return MEDIA_ERROR;
    int rc = write_all(f, m, mentions, nmentions);
    rc = far_end(f, rc) == 0 ? MEDIA_OK : MEDIA_ERROR;
    if (rc == MEDIA_OK && !m->fanned)
        timeline_celebrity_posted(); /* after the commit (and the celebrity lists' writes) */
    return rc;
}

int media_create(db_ctx_t *db, media_t *m, const text_mention_t *mentions, size_t nmentions)
{
    far_t f;
    int rc, tries = 0;
    do
        rc = create_once(&f, db, m, mentions, nmentions);
    while (far_again(&f, &tries));
    return rc;
}

/* The far effect "celeb USER", on every database: USER is on each one's
 * list of celebrities, for feed reads there. */
int far_celeb(far_t *f, char *payload)
{
    long long user;
    if (sscanf(payload, "%lld", &user) != 1)
        return JOB_DONE;
    for (size_t i = 0; i < db_count(f->db); i++) {
        db_conn_t *c = db_physical(f->db, i);
        if (c == NULL)
            return JOB_RETRY;
        db_stmt_t *s = db_q(c, Q_CELEB_PUT);
        db_bind_i64(s, 1, user);
        if (db_exec_stmt(s) != DB_DONE)
            return JOB_RETRY;
    }
    return JOB_DONE;
}

long long media_delete_files(blob_store_t *store, int64_t id, int64_t file_key)
{
    long long n = 0;
    for (int i = 0; i < IMG_NRENDITIONS; i++) {
        char key[BLOB_KEY_MAX];
        blob_media_key(key, sizeof(key), id, file_key, img_renditions[i].suffix);
        n += blob_del(store, key) == 0;
    }
    return n;
}

int media_each_key(db_ctx_t *db, int (*fn)(void *arg, size_t d, int64_t id, int64_t file_key), void *arg)
{
    enum { PAGE = 256 };
    for (size_t d = 0; d < db_count(db); d++) {
        int64_t after = 0, ids[PAGE], keys[PAGE];
        int k = PAGE;
        while (k == PAGE) {
            db_conn_t *c = db_physical(db, d);
            if (c == NULL)
                return -1;
            db_stmt_t *s = db_q(c, Q_MEDIA_KEYED_RANGE);
            db_bind_i64(s, 1, after);
            db_bind_i64(s, 2, INT64_MAX);
            db_bind_i64(s, 3, PAGE);
            if (db_read_id_pairs(s, PAGE, ids, keys, &k) != DB_DONE)
                return -1;
            for (int i = 0; i < k; i++) {
                int rc = fn(arg, d, ids[i], keys[i]);
                if (rc != 0)
                    return rc;
            }
            if (k > 0)
                after = ids[k - 1];
            db_ctx_release(db);
        }
    }
    return 0;
}

int media_post(db_ctx_t *db, blob_store_t *store, media_t *m, const img_result_t *r, int64_t place_new_id,
               long long celebrity, const text_mention_t *mentions, size_t nmentions, user_t *owner)
{
    if (place_new_id) {
        location_t *place = xmalloc(sizeof(*place));
        int rc = location_find_or_make(db, m->location_name, m->lat, m->lng, place_new_id, place);
        if (rc == DISC_OK) {
            m->location_id = place->id; /* the place as it is, if one of that name was there */
            snprintf(m->location_name, sizeof(m->location_name), "%s", place->name);
            m->lat = place->lat;
            m->lng = place->lng;
        }
        free(place);
        if (rc != DISC_OK)
            return 500;
    }
    if (users_get_any(db, m->user_id, owner) != USERS_OK)
        return 500;
    /* a post by a celebrity is merged into feeds at read time, not fanned out */
    m->fanned = owner->followed_by_count <= celebrity;
    int status = 0;
    for (int i = 0; i < IMG_NRENDITIONS && status == 0; i++) {
        char key[BLOB_KEY_MAX];
        blob_media_key(key, sizeof(key), m->id, m->file_key, img_renditions[i].suffix);
        if (blob_put(store, key, r->data[i], r->len[i]) != 0)
            status = 503; /* the store is down or full: the client may retry */
        m->width[i] = r->width[i];
        m->height[i] = r->height[i];
    }
    if (status == 0 && media_create(db, m, mentions, nmentions) != MEDIA_OK)
        status = 500;
    if (status != 0) {
        media_delete_files(store, m->id, m->file_key); /* nothing of a failed post stays behind */
        return status;
    }
    owner->media_count++;
    return 0;
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

static int delete_once(far_t *f, db_ctx_t *db, int64_t id, int64_t owner, int64_t *file_key)
{
    far_init(f, db);
    if (far_begin(f, ids_shard(id)) != DB_OK)
        return MEDIA_ERROR;
    db_conn_t *c = f->tx;
    db_stmt_t *s = db_q(c, Q_MEDIA_DELETE);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, owner);
    int step = db_step(s);
    int rc = step == DB_ROW ? MEDIA_OK : step == DB_DONE ? MEDIA_NOT_FOUND : MEDIA_ERROR;
    int64_t place = 0;
    if (step == DB_ROW) {
        *file_key = db_col_i64(s, 0);
        place = db_col_null(s, 1) ? 0 : db_col_i64(s, 1);
        if (db_step(s) != DB_DONE)
            rc = MEDIA_ERROR;
    }
    db_reset(s);
    if (rc == MEDIA_OK && geo_media_del(c, id) != DB_DONE)
        rc = MEDIA_ERROR;
    if (rc == MEDIA_OK) { /* its news here, and the owner's count */
        s = db_q(c, Q_ACTIVITY_DELETE_MEDIA);
        db_bind_i64(s, 1, id);
        if (db_exec_stmt(s) != DB_DONE)
            rc = MEDIA_ERROR;
        s = db_q(c, Q_USER_MEDIA_COUNT_ADD);
        db_bind_i64(s, 1, owner);
        db_bind_i64(s, 2, -1);
        if (rc == MEDIA_OK && db_exec_stmt(s) != DB_DONE)
            rc = MEDIA_ERROR;
    }
    /* timelines; then what it left on its shard and elsewhere */
    if (rc == MEDIA_OK &&
        (timeline_enqueue_media_gone(c, id) != DB_DONE ||
         far_do(f, "media_gone", ids_shard(id), "%lld %lld 0", (long long)id, (long long)place) != DB_DONE))
        rc = MEDIA_ERROR;
    int end = far_end(f, rc);
    return end == 0 ? MEDIA_OK : rc == MEDIA_OK ? MEDIA_ERROR : rc;
}

int media_delete(db_ctx_t *db, int64_t id, int64_t owner, int64_t *file_key)
{
    far_t f;
    int rc, tries = 0;
    do
        rc = delete_once(&f, db, id, owner, file_key);
    while (far_again(&f, &tries));
    return rc;
}

#define GONE_BATCH 200

/* One batch of a deleted photo's likes: the rows go, then the likers' lists follow. */
static int gone_likes(far_t *h, int64_t media, int *n)
{
    int64_t users[GONE_BATCH];
    db_stmt_t *s = db_q(h->tx, Q_LIKES_OF_MEDIA);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, GONE_BATCH);
    if (db_read_ids(s, GONE_BATCH, users, n) != DB_DONE)
        return -1;
    for (int i = 0; i < *n; i++) {
        s = db_q(h->tx, Q_LIKE_DELETE);
        db_bind_i64(s, 1, media);
        db_bind_i64(s, 2, users[i]);
        if (db_exec_stmt(s) != DB_DONE ||
            far_do(h, "liked", ids_shard(users[i]), "%lld %lld", (long long)users[i], (long long)media) != DB_DONE)
            return -1;
    }
    return 0;
}

/* One batch of its comments: the rows and their news go. */
static int gone_comments(far_t *h, int64_t media, int *n)
{
    comment_t *cs = xcalloc(GONE_BATCH, sizeof(*cs));
    db_stmt_t *s = db_q(h->tx, Q_COMMENTS_OF_MEDIA);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, GONE_BATCH);
    int rc, k = 0;
    while (k < GONE_BATCH && (rc = db_step(s)) == DB_ROW) {
        cs[k].id = db_col_i64(s, 0);
        db_col_copy(s, 1, cs[k].text, sizeof(cs[k].text));
        k++;
    }
    db_reset(s);
    *n = k;
    rc = rc == DB_ERROR ? -1 : 0;
    for (int i = 0; rc == 0 && i < k; i++) {
        s = db_q(h->tx, Q_COMMENT_DELETE);
        db_bind_i64(s, 1, cs[i].id);
        text_mention_t mentions[TEXT_MAX_MENTIONS];
        size_t nm = text_mentions(cs[i].text, strlen(cs[i].text), mentions, TEXT_MAX_MENTIONS);
        rc = db_exec_stmt(s) == DB_DONE && social_unnotify(h->tx, cs[i].id) == 0 &&
                     social_mention_effects(h, cs[i].id, media, mentions, nm) == 0
                 ? 0
                 : -1;
    }
    free(cs);
    return rc;
}

/* Its caption's mentions: the rows go, and the news follows. */
static int gone_mentions(far_t *h, int64_t media)
{
    text_mention_t names[TEXT_MAX_MENTIONS];
    size_t n = 0;
    db_stmt_t *s = db_q(h->tx, Q_MEDIA_MENTION_LIST);
    db_bind_i64(s, 1, media);
    int rc;
    while ((rc = db_step(s)) == DB_ROW && n < TEXT_MAX_MENTIONS)
        db_col_copy(s, 0, names[n++], sizeof(text_mention_t));
    db_reset(s);
    if (rc == DB_ERROR)
        return -1;
    s = db_q(h->tx, Q_MEDIA_MENTIONS_DELETE);
    db_bind_i64(s, 1, media);
    return db_exec_stmt(s) == DB_DONE ? social_mention_effects(h, media, media, names, n) : -1;
}

static int gone_step(far_t *h, int64_t media, int64_t place, int *phase)
{
    int n = 0, rc = 0;
    switch (*phase) {
    case 0:
        rc = gone_likes(h, media, &n);
        break;
    case 1:
        rc = gone_comments(h, media, &n);
        break;
    case 2:
        rc = gone_mentions(h, media);
        break;
    case 3:
        rc = tags_unapply(h, media) == DB_DONE ? 0 : -1;
        break;
    default:
        if (place && far_do(h, "place", ids_shard(place), "%lld %lld", (long long)media, (long long)place) != DB_DONE)
            return JOB_RETRY;
        return JOB_DONE;
    }
    if (rc != 0)
        return JOB_RETRY;
    if (n == 0)
        (*phase)++; /* this kind is done: the next */
    return JOB_CONTINUE;
}

/* The far effect "media_gone MEDIA PLACE PHASE", on the media's shard,
 * after the photo's row went: in batches, its likes (and the likers'
 * lists), its comments (and their mention news), its caption's mentions,
 * its tags and its place's list. */
int far_media_gone(far_t *f, char *payload)
{
    long long media, place;
    int phase;
    if (sscanf(payload, "%lld %lld %d", &media, &place, &phase) != 3)
        return JOB_DONE;
    far_t own;
    far_t *h = far_enter(f, ids_shard(media), &own);
    if (h == NULL)
        return JOB_RETRY;
    int rc = gone_step(h, media, place, &phase);
    snprintf(payload, JOB_PAYLOAD_MAX + 1, "%lld %lld %d", media, place, phase);
    return far_leave(h, rc);
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

bool media_file_in_use(const char *key, void *arg)
{
    int64_t fk, row_fk = 0;
    int64_t id = blob_media_key_id(key, &fk);
    if (id == 0)
        return true;
    int rc = media_file_key(arg, id, &row_fk);
    return rc == MEDIA_ERROR || (rc == MEDIA_OK && row_fk == fk);
}
