#include "model/discovery.h"
#include "core/buf.h"
#include "core/ids.h"
#include "geo/geo.h"
#include "model/social.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- tags ---- */

void tags_json(buf_t *b, const text_tag_t *tags, size_t n)
{
    buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(b, ',');
        buf_json_cstr(b, tags[i]);
    }
    buf_putc(b, ']');
}

typedef struct tag_set {
    text_tag_t v[TEXT_MAX_TAGS];
    size_t n;
} tag_set_t;

static bool set_has(const tag_set_t *t, const char *tag)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i], tag) == 0)
            return true;
    return false;
}

/* Adds the hashtags of s not yet in t, while there is room. */
static void set_add_text(tag_set_t *t, const char *s, size_t n)
{
    text_tag_t found[TEXT_MAX_TAGS];
    size_t k = text_hashtags(s, n, found, TEXT_MAX_TAGS);
    for (size_t i = 0; i < k && t->n < TEXT_MAX_TAGS; i++)
        if (!set_has(t, found[i]))
            memcpy(t->v[t->n++], found[i], sizeof(text_tag_t));
}

static int count_add(db_conn_t *c, const char *tag, int64_t d)
{
    db_stmt_t *s = db_q(c, Q_TAG_COUNT_ADD);
    db_bind_cstr(s, 1, tag);
    db_bind_i64(s, 2, d);
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

/* The media's tags as they should be. 1 if the media is gone, 0, or -1. */
static int wanted_tags(db_conn_t *c, int64_t media, int64_t author, tag_set_t *want)
{
    db_stmt_t *s = db_q(c, Q_MEDIA_TEXT_SOURCE);
    db_bind_i64(s, 1, media);
    int rc = db_step(s);
    if (rc != DB_ROW) {
        db_reset(s);
        return rc == DB_DONE ? 1 : -1;
    }
    int64_t owner = db_col_i64(s, 1);
    size_t len = 0;
    const char *cap = db_col_null(s, 0) ? NULL : db_col_text(s, 0, &len);
    if (author != 0 && author != owner) {
        db_reset(s);
        return 1;
    }
    if (cap != NULL)
        set_add_text(want, cap, len);
    db_reset(s);
    s = db_q(c, Q_MEDIA_OWNER_COMMENTS);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, owner);
    while (want->n < TEXT_MAX_TAGS && (rc = db_step(s)) == DB_ROW) {
        const char *t = db_col_text(s, 0, &len);
        set_add_text(want, t, len);
    }
    db_reset(s);
    return rc == DB_ERROR ? -1 : 0;
}

int tags_sync(db_conn_t *c, int64_t media, int64_t tag_id, int64_t author)
{
    tag_set_t *want = xcalloc(1, sizeof(*want)), *have = xcalloc(1, sizeof(*have));
    int rc = wanted_tags(c, media, author, want);
    if (rc != 0)
        goto out;
    /* what the index holds now (at most TEXT_MAX_TAGS: it only ever holds a wanted set) */
    db_stmt_t *s = db_q(c, Q_MEDIA_TAG_LIST);
    db_bind_i64(s, 1, media);
    int st;
    while ((st = db_step(s)) == DB_ROW && have->n < TEXT_MAX_TAGS)
        db_col_copy(s, 0, have->v[have->n++], sizeof(text_tag_t));
    db_reset(s);
    if (st == DB_ERROR) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < have->n; i++) {
        if (set_has(want, have->v[i]))
            continue;
        s = db_q(c, Q_MEDIA_TAG_DELETE);
        db_bind_i64(s, 1, media);
        db_bind_cstr(s, 2, have->v[i]);
        rc = db_exec_stmt(s) == DB_DONE ? count_add(c, have->v[i], -1) : -1;
    }
    for (size_t i = 0; rc == 0 && i < want->n; i++) {
        if (set_has(have, want->v[i]))
            continue;
        s = db_q(c, Q_MEDIA_TAG_INSERT);
        db_bind_cstr(s, 1, want->v[i]);
        db_bind_i64(s, 2, tag_id);
        db_bind_i64(s, 3, media);
        rc = db_exec_stmt(s) != DB_DONE ? -1 : c->drv->changes(c) == 1 ? count_add(c, want->v[i], 1) : 0;
    }
    if (rc == 0) { /* the tags as the media object shows them */
        buf_t j;
        buf_init(&j, 1 << 20);
        tags_json(&j, want->v, want->n);
        s = db_q(c, Q_MEDIA_SET_TAGS);
        db_bind_i64(s, 1, media);
        db_bind_text(s, 2, j.data, j.len);
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
        buf_free(&j);
    }
out:
    free(want);
    free(have);
    return rc < 0 ? DB_ERROR : DB_DONE;
}

int tags_unindex(db_conn_t *c, int64_t media)
{
    db_stmt_t *s = db_q(c, Q_MEDIA_TAGS_UNCOUNT);
    db_bind_i64(s, 1, media);
    if (db_exec_stmt(s) != DB_DONE)
        return DB_ERROR;
    s = db_q(c, Q_MEDIA_TAGS_DELETE);
    db_bind_i64(s, 1, media);
    return db_exec_stmt(s) == DB_DONE ? DB_DONE : DB_ERROR;
}

/* The tag index, embedded, is in the one database; the cluster puts a tag
 * on the shard of a hash of its name. */
static db_conn_t *index_conn(db_ctx_t *db)
{
    return db_physical(db, 0);
}

int tag_get(db_ctx_t *db, const char *name, int64_t *count)
{
    db_conn_t *c = index_conn(db);
    if (c == NULL)
        return DISC_ERROR;
    db_stmt_t *s = db_q(c, Q_TAG_GET);
    db_bind_cstr(s, 1, name);
    int rc = db_step(s);
    *count = rc == DB_ROW ? db_col_i64(s, 0) : 0;
    db_reset(s);
    return rc == DB_ERROR ? DISC_ERROR : DISC_OK;
}

/* [lo, hi): every string that starts with prefix, in byte order */
static void prefix_range(const char *prefix, char *lo, char *hi, size_t cap)
{
    size_t n = text_lower(prefix, strlen(prefix), lo, cap - 5);
    memcpy(hi, lo, n);
    memcpy(hi + n, "\xf4\x8f\xbf\xbf", 5);
}

int tags_search(db_ctx_t *db, const char *prefix, int limit, tag_info_t *out, int *n)
{
    *n = 0;
    db_conn_t *c = index_conn(db);
    if (c == NULL)
        return DISC_ERROR;
    char lo[TAG_MAX_BYTES + 8], hi[TAG_MAX_BYTES + 8];
    prefix_range(prefix, lo, hi, sizeof(lo));
    db_stmt_t *s = db_q(c, Q_TAG_SEARCH);
    db_bind_cstr(s, 1, lo);
    db_bind_cstr(s, 2, hi);
    db_bind_i64(s, 3, limit);
    int rc;
    while (*n < limit && (rc = db_step(s)) == DB_ROW) {
        db_col_copy(s, 0, out[*n].name, sizeof(out[*n].name));
        out[(*n)++].media_count = db_col_i64(s, 1);
    }
    db_reset(s);
    return rc == DB_ERROR ? DISC_ERROR : DISC_OK;
}

int tag_media(db_ctx_t *db, const char *tag, int64_t before, int64_t after, int limit, int64_t *tag_ids,
              int64_t *media_ids, int *n)
{
    *n = 0;
    db_conn_t *c = index_conn(db);
    if (c == NULL)
        return DISC_ERROR;
    db_stmt_t *s = db_q(c, Q_TAG_MEDIA_PAGE);
    db_bind_cstr(s, 1, tag);
    db_bind_i64(s, 2, before);
    db_bind_i64(s, 3, after);
    db_bind_i64(s, 4, limit);
    return db_read_id_pairs(s, limit, tag_ids, media_ids, n) == DB_DONE ? DISC_OK : DISC_ERROR;
}

/* ---- captions ---- */

static bool mentioned(db_conn_t *c, int64_t media, const char *name, int *err)
{
    db_stmt_t *s = db_q(c, Q_MEDIA_MENTION_LIST);
    db_bind_i64(s, 1, media);
    int rc;
    bool found = false;
    while (!found && (rc = db_step(s)) == DB_ROW) {
        size_t l;
        const char *t = db_col_text(s, 0, &l);
        found = l == strlen(name) && memcmp(t, name, l) == 0;
    }
    if (!found && rc == DB_ERROR)
        *err = -1;
    db_reset(s);
    return found;
}

int media_set_caption(db_ctx_t *db, int64_t media, int64_t owner, const char *caption, int64_t edit_id,
                      const text_mention_t *mentions, size_t nmentions)
{
    db_conn_t *c = db_shard(db, ids_shard(media));
    if (c == NULL || db_begin(c) != DB_OK)
        return DISC_ERROR;
    int rc = 0;
    db_stmt_t *s = db_q(c, Q_MEDIA_TEXT_SOURCE);
    db_bind_i64(s, 1, media);
    int st = db_step(s);
    if (st == DB_ROW && db_col_i64(s, 1) != owner)
        st = DB_DONE; /* not theirs: as if gone */
    db_reset(s);
    rc = st == DB_ROW ? 0 : st == DB_DONE ? DISC_NOT_FOUND : -1;
    /* newly mentioned users hear of it; the mention list becomes the caption's */
    text_mention_t *fresh = xcalloc(nmentions + 1, sizeof(text_mention_t));
    size_t nfresh = 0;
    for (size_t i = 0; rc == 0 && i < nmentions; i++)
        if (!mentioned(c, media, mentions[i], &rc))
            memcpy(fresh[nfresh++], mentions[i], sizeof(text_mention_t));
    if (rc == 0) {
        s = db_q(c, Q_MEDIA_SET_CAPTION);
        db_bind_i64(s, 1, media);
        if (caption)
            db_bind_cstr(s, 2, caption);
        else
            db_bind_null(s, 2);
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    }
    if (rc == 0) {
        s = db_q(c, Q_MEDIA_MENTIONS_DELETE);
        db_bind_i64(s, 1, media);
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    }
    for (size_t i = 0; rc == 0 && i < nmentions; i++) {
        s = db_q(c, Q_MEDIA_MENTION_INSERT);
        db_bind_i64(s, 1, media);
        db_bind_cstr(s, 2, mentions[i]);
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    }
    if (rc == 0 && caption)
        rc = social_notify_mentions(db, c, owner, media, caption, media, fresh, nfresh);
    if (rc == 0)
        rc = tags_sync(c, media, edit_id, 0) == DB_DONE ? 0 : -1;
    free(fresh);
    if (rc != 0 || db_commit(c) != DB_OK) {
        db_rollback(c);
        return rc > 0 ? rc : DISC_ERROR;
    }
    return DISC_OK;
}

/* ---- places ---- */

static void row_to_location(db_stmt_t *s, location_t *l)
{
    l->id = db_col_i64(s, 0);
    db_col_copy(s, 1, l->name, sizeof(l->name));
    l->lat = db_col_double(s, 2);
    l->lng = db_col_double(s, 3);
}

static int get_on(db_conn_t *c, int64_t id, location_t *out)
{
    db_stmt_t *s = db_q(c, Q_LOCATION_GET);
    db_bind_i64(s, 1, id);
    int rc = db_step(s);
    if (rc == DB_ROW)
        row_to_location(s, out);
    db_reset(s);
    return rc == DB_ROW ? DISC_OK : rc == DB_DONE ? DISC_NOT_FOUND : DISC_ERROR;
}

int location_get(db_ctx_t *db, int64_t id, location_t *out)
{
    db_conn_t *c = db_shard(db, ids_shard(id));
    return c ? get_on(c, id, out) : DISC_ERROR;
}

int location_find_or_make(db_conn_t *c, const char *name, double lat, double lng, int64_t new_id, int64_t *id)
{
    char lower[sizeof(((location_t *)0)->name)];
    text_lower(name, strlen(name), lower, sizeof(lower));
    geo_hits_t *h = xmalloc(sizeof(*h));
    geo_hits_init(h, lat, lng, LOCATION_DEDUP_M);
    int rc = geo_place_near(c, h) == 0 ? DB_DONE : DB_ERROR;
    location_t *l = xmalloc(sizeof(*l));
    for (size_t i = 0; rc == DB_DONE && i < h->n; i++) {
        int got = get_on(c, h->v[i].id, l);
        if (got == DISC_ERROR)
            rc = DB_ERROR;
        if (got != DISC_OK)
            continue;
        char other[sizeof(l->name)];
        text_lower(l->name, strlen(l->name), other, sizeof(other));
        if (strcmp(other, lower) == 0) {
            *id = l->id;
            free(l);
            free(h);
            return DB_DONE;
        }
    }
    free(l);
    free(h);
    if (rc != DB_DONE)
        return rc;
    db_stmt_t *s = db_q(c, Q_LOCATION_INSERT);
    db_bind_i64(s, 1, new_id);
    db_bind_cstr(s, 2, name);
    db_bind_double(s, 3, lat);
    db_bind_double(s, 4, lng);
    db_bind_cstr(s, 5, lower);
    if (db_exec_stmt(s) != DB_DONE || geo_place_put(c, new_id, lat, lng) != DB_DONE)
        return DB_ERROR;
    *id = new_id;
    return DB_DONE;
}

int locations_by_name(db_ctx_t *db, const char *prefix, int limit, location_t *out, int *n)
{
    *n = 0;
    db_conn_t *c = index_conn(db);
    if (c == NULL)
        return DISC_ERROR;
    char lo[LOCATION_NAME_MAX * 4 + 8], hi[LOCATION_NAME_MAX * 4 + 8];
    prefix_range(prefix, lo, hi, sizeof(lo));
    db_stmt_t *s = db_q(c, Q_LOCATION_SEARCH_NAME);
    db_bind_cstr(s, 1, lo);
    db_bind_cstr(s, 2, hi);
    db_bind_i64(s, 3, limit);
    int rc = DB_DONE;
    while (*n < limit && (rc = db_step(s)) == DB_ROW)
        row_to_location(s, &out[(*n)++]);
    db_reset(s);
    return rc == DB_ERROR ? DISC_ERROR : DISC_OK;
}

int location_media(db_ctx_t *db, int64_t location, int64_t before, int64_t after, int limit, int64_t *ids, int *n)
{
    *n = 0;
    db_conn_t *c = index_conn(db);
    if (c == NULL)
        return DISC_ERROR;
    db_stmt_t *s = db_q(c, Q_MEDIA_BY_LOCATION);
    db_bind_i64(s, 1, location);
    db_bind_i64(s, 2, before);
    db_bind_i64(s, 3, after);
    db_bind_i64(s, 4, limit);
    return db_read_ids(s, limit, ids, n) == DB_DONE ? DISC_OK : DISC_ERROR;
}

/* ---- popular ---- */

int popular_list(db_ctx_t *db, int limit, int64_t *ids, int *n)
{
    *n = 0;
    db_conn_t *c = index_conn(db);
    if (c == NULL)
        return DISC_ERROR;
    db_stmt_t *s = db_q(c, Q_POPULAR_LIST);
    db_bind_i64(s, 1, limit);
    return db_read_ids(s, limit, ids, n) == DB_DONE ? DISC_OK : DISC_ERROR;
}

int popular_schedule(db_ctx_t *db)
{
    db_conn_t *c = index_conn(db);
    if (c == NULL || db_begin(c) != DB_OK)
        return DISC_ERROR;
    long live = jobs_live(c, "popular");
    int rc = live < 0 ? -1 : live > 0 ? 0 : jobs_enqueue(c, "popular", "") == DB_DONE ? 0 : -1;
    if (rc != 0 || db_commit(c) != DB_OK) {
        db_rollback(c);
        return DISC_ERROR;
    }
    jobs_kick();
    return DISC_OK;
}

typedef struct scored {
    int64_t id;
    double score;
} scored_t;

static int by_score(const void *a, const void *b)
{
    const scored_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

/* Engagement with time decay: a like counts 1, a comment 2, and the sum
 * fades with age as (hours + 2)^1.5. */
static double score(int64_t likes, int64_t comments, double age_s)
{
    double hours = age_s > 0 ? age_s / 3600.0 : 0;
    return (1.0 + (double)likes + 2.0 * (double)comments) / pow(hours + 2.0, 1.5);
}

int popular_job(db_ctx_t *db, char *payload, void *ctx)
{
    (void)payload;
    long long interval = *(const long long *)ctx;
    db_conn_t *c = index_conn(db);
    if (c == NULL)
        return JOB_RETRY;
    /* Score the candidates from one read, outside the write transaction:
     * writers wait only for the short write below. */
    int64_t now_ms = ids_now_ms();
    int64_t since_ms = now_ms - (int64_t)POPULAR_WINDOW_S * 1000;
    int64_t floor = since_ms > PICOGRAM_EPOCH_MS ? ids_floor_for_ms(since_ms) : 0;
    size_t cap = 1024, n = 0;
    scored_t *v = xmalloc(cap * sizeof(*v));
    db_stmt_t *s = db_q(c, Q_POPULAR_CANDIDATES);
    db_bind_i64(s, 1, floor);
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        if (n == cap)
            v = xrealloc(v, (cap *= 2) * sizeof(*v));
        v[n].id = db_col_i64(s, 0);
        v[n].score = score(db_col_i64(s, 1), db_col_i64(s, 2), (double)now_ms / 1000.0 - (double)db_col_i64(s, 3));
        n++;
    }
    db_reset(s);
    qsort(v, n, sizeof(*v), by_score);
    int ok = rc == DB_DONE && db_begin(c) == DB_OK;
    if (!ok) {
        free(v);
        return JOB_RETRY;
    }
    ok = db_exec_stmt(db_q(c, Q_POPULAR_CLEAR)) == DB_DONE;
    for (size_t i = 0; ok && i < n && i < POPULAR_KEEP; i++) {
        s = db_q(c, Q_POPULAR_PUT);
        db_bind_i64(s, 1, (int64_t)i);
        db_bind_i64(s, 2, v[i].id);
        db_bind_double(s, 3, v[i].score);
        ok = db_exec_stmt(s) == DB_DONE;
    }
    free(v);
    /* The next run, committed with this one's result. If this run is a
     * repeat (killed before its job row was deleted), the next is queued. */
    long live = ok ? jobs_live(c, "popular") : -1;
    ok = live >= 1 && (live > 1 || jobs_enqueue_at(c, "popular", "", now_ms + interval * 1000) == DB_DONE);
    if (!ok || db_commit(c) != DB_OK) {
        db_rollback(c);
        return JOB_RETRY;
    }
    return JOB_DONE;
}
