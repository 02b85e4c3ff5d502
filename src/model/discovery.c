#include "model/discovery.h"
#include "core/buf.h"
#include "core/ids.h"
#include "geo/geo.h"
#include "model/far.h"
#include "model/social.h"
#include "obs/log.h"
#include <stdio.h>

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

static int count_add(db_conn_t *c, const char *tag, unsigned shard, int64_t d)
{
    db_stmt_t *s = db_q(c, Q_TAG_COUNT_ADD);
    db_bind_cstr(s, 1, tag);
    db_bind_i64(s, 2, d);
    db_bind_i64(s, 3, shard);
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
    db_bind_i64(s, 3, TAGS_OWNER_COMMENTS);
    while (want->n < TEXT_MAX_TAGS && (rc = db_step(s)) == DB_ROW) {
        const char *t = db_col_text(s, 0, &len);
        set_add_text(want, t, len);
    }
    db_reset(s);
    return rc == DB_ERROR ? -1 : 0;
}

unsigned tag_shard(db_ctx_t *db, const char *tag)
{
    return db_key_shard(db, tag, strlen(tag));
}

/* The tags of media as applied (media_tags, on its shard) into have. */
static int applied_tags(db_conn_t *c, int64_t media, tag_set_t *have)
{
    db_stmt_t *s = db_q(c, Q_MEDIA_TAG_LIST);
    db_bind_i64(s, 1, media);
    int st;
    while ((st = db_step(s)) == DB_ROW && have->n < TEXT_MAX_TAGS)
        db_col_copy(s, 0, have->v[have->n++], sizeof(text_tag_t));
    db_reset(s);
    return st == DB_ERROR ? -1 : 0;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int tag_effect(far_t *f, int64_t media, const char *tag)
{
    return far_do(f, "tag", tag_shard(f->db, tag), "%lld %s", (long long)media, tag) == DB_DONE ? 0 : -1;
}

int tags_sync(far_t *f, int64_t media, int64_t tag_id, int64_t author)
{
    db_conn_t *c = f->tx;
    tag_set_t *want = xcalloc(1, sizeof(*want)), *have = xcalloc(1, sizeof(*have));
    int rc = db_lock(c, "tags", media, 0) == DB_OK ? wanted_tags(c, media, author, want) : -1;
    if (rc != 0)
        goto out;
    /* what is applied now (at most TEXT_MAX_TAGS: only ever a wanted set) */
    if (applied_tags(c, media, have) != 0) {
        rc = -1;
        goto out;
    }
    /* the changes in the tags' order: every writer takes the tags' count
     * rows in that one order, so two photos that take the same tags (in
     * any order in their text) never deadlock on them */
    const char *change[2 * TEXT_MAX_TAGS];
    size_t nchange = 0;
    for (size_t i = 0; i < have->n; i++)
        if (!set_has(want, have->v[i]))
            change[nchange++] = have->v[i];
    for (size_t i = 0; i < want->n; i++)
        if (!set_has(have, want->v[i]))
            change[nchange++] = want->v[i];
    qsort(change, nchange, sizeof(change[0]), cmp_cstr);
    for (size_t i = 0; rc == 0 && i < nchange; i++) {
        db_stmt_t *s;
        if (set_has(want, change[i])) {
            s = db_q(c, Q_MEDIA_TAG_INSERT);
            db_bind_cstr(s, 1, change[i]);
            db_bind_i64(s, 2, tag_id);
            db_bind_i64(s, 3, media);
        } else {
            s = db_q(c, Q_MEDIA_TAG_DELETE);
            db_bind_i64(s, 1, media);
            db_bind_cstr(s, 2, change[i]);
        }
        rc = db_exec_stmt(s) == DB_DONE ? tag_effect(f, media, change[i]) : -1;
    }
    if (rc == 0) { /* the tags as the media object shows them */
        buf_t j;
        buf_init(&j, 1 << 20);
        tags_json(&j, want->v, want->n);
        db_stmt_t *s = db_q(c, Q_MEDIA_SET_TAGS);
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

int tags_unapply(far_t *f, int64_t media)
{
    tag_set_t *have = xcalloc(1, sizeof(*have));
    int rc = applied_tags(f->tx, media, have);
    if (rc == 0) {
        db_stmt_t *s = db_q(f->tx, Q_MEDIA_TAGS_DELETE);
        db_bind_i64(s, 1, media);
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    }
    const char *order[TEXT_MAX_TAGS]; /* the tags' order, as tags_sync */
    for (size_t i = 0; i < have->n; i++)
        order[i] = have->v[i];
    qsort(order, have->n, sizeof(order[0]), cmp_cstr);
    for (size_t i = 0; rc == 0 && i < have->n; i++)
        rc = tag_effect(f, media, order[i]);
    free(have);
    return rc == 0 ? DB_DONE : DB_ERROR;
}

/* The far effect "tag MEDIA TAG", on the tag's shard: the tag's index
 * (tag_media) lists MEDIA under its tag ID exactly while the tag is applied
 * to it, and the tag's count moves with it. */
int far_tag(far_t *f, char *payload)
{
    long long media;
    text_tag_t tag;
    if (sscanf(payload, "%lld %400s", &media, tag) != 2)
        return JOB_DONE;
    far_t own;
    unsigned shard = tag_shard(f->db, tag);
    far_t *h = far_enter(f, shard, &own);
    if (h == NULL)
        return JOB_RETRY;
    db_conn_t *c = h->tx, *cm = db_shard(h->db, ids_shard(media));
    int rc = cm && db_lock(c, tag, media, 0) == DB_OK ? 0 : -1;
    int64_t truth = 0, mirror = 0;
    const unsigned qs[2] = {Q_MEDIA_TAG_GET, Q_TAG_INDEX_GET};
    int64_t *outs[2] = {&truth, &mirror};
    for (int i = 0; rc == 0 && i < 2; i++) {
        db_stmt_t *s = db_q(i == 0 ? cm : c, qs[i]);
        if (i == 0) {
            db_bind_i64(s, 1, media);
            db_bind_cstr(s, 2, tag);
        } else {
            db_bind_cstr(s, 1, tag);
            db_bind_i64(s, 2, media);
        }
        int st = db_step(s);
        *outs[i] = st == DB_ROW ? db_col_i64(s, 0) : 0;
        db_reset(s);
        rc = st == DB_ERROR ? -1 : 0;
    }
    if (rc == 0 && mirror != truth) {
        if (mirror) {
            db_stmt_t *s = db_q(c, Q_TAG_INDEX_DEL);
            db_bind_cstr(s, 1, tag);
            db_bind_i64(s, 2, media);
            rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
        }
        if (rc == 0 && truth) {
            db_stmt_t *s = db_q(c, Q_TAG_INDEX_PUT);
            db_bind_cstr(s, 1, tag);
            db_bind_i64(s, 2, truth);
            db_bind_i64(s, 3, media);
            db_bind_i64(s, 4, shard);
            rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
        }
        if (rc == 0 && (mirror == 0 || truth == 0))
            rc = count_add(c, tag, shard, truth ? 1 : -1);
    }
    return far_leave(h, rc == 0 ? JOB_DONE : JOB_RETRY);
}

int tag_get(db_ctx_t *db, const char *name, int64_t *count)
{
    db_conn_t *c = db_shard(db, tag_shard(db, name));
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

/* Whether a ranks before b in a tag search: most used first, then by name. */
static bool tag_before(const tag_info_t *a, const tag_info_t *b)
{
    if (a->media_count != b->media_count)
        return a->media_count > b->media_count;
    return strcmp(a->name, b->name) < 0;
}

int tags_search(db_ctx_t *db, const char *prefix, int limit, tag_info_t *out, int *n)
{
    *n = 0;
    char lo[TAG_MAX_BYTES + 8], hi[TAG_MAX_BYTES + 8];
    prefix_range(prefix, lo, hi, sizeof(lo));
    /* tags live on the shards of their names' hashes: each database answers
     * for its own, and the lists are merged in the order the query gives */
    tag_info_t t;
    for (size_t i = 0; i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL)
            return DISC_ERROR;
        db_stmt_t *s = db_q(c, Q_TAG_SEARCH);
        db_bind_cstr(s, 1, lo);
        db_bind_cstr(s, 2, hi);
        db_bind_i64(s, 3, limit);
        int rc;
        while ((rc = db_step(s)) == DB_ROW) {
            db_col_copy(s, 0, t.name, sizeof(t.name));
            t.media_count = db_col_i64(s, 1);
            int pos = *n;
            while (pos > 0 && tag_before(&t, &out[pos - 1]))
                pos--;
            if (pos >= limit)
                continue;
            int last = *n < limit ? *n : limit - 1;
            memmove(&out[pos + 1], &out[pos], (size_t)(last - pos) * sizeof(t));
            out[pos] = t;
            if (*n < limit)
                (*n)++;
        }
        db_reset(s);
        if (rc == DB_ERROR)
            return DISC_ERROR;
    }
    return DISC_OK;
}

int tag_media(db_ctx_t *db, const char *tag, int64_t before, int64_t after, int limit, int64_t *tag_ids,
              int64_t *media_ids, int *n)
{
    *n = 0;
    db_conn_t *c = db_shard(db, tag_shard(db, tag));
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

/* The users media's caption mentions now (media_mentions), into out. */
static int caption_mentions(db_conn_t *c, int64_t media, text_mention_t *out, size_t max, size_t *n)
{
    *n = 0;
    db_stmt_t *s = db_q(c, Q_MEDIA_MENTION_LIST);
    db_bind_i64(s, 1, media);
    int rc;
    while ((rc = db_step(s)) == DB_ROW && *n < max)
        db_col_copy(s, 0, out[(*n)++], sizeof(text_mention_t));
    db_reset(s);
    return rc == DB_ERROR ? -1 : 0;
}

static int set_caption_once(far_t *f, db_ctx_t *db, int64_t media, int64_t owner, const char *caption, int64_t edit_id,
                      const text_mention_t *mentions, size_t nmentions)
{
    far_init(f, db);
    if (far_begin(f, ids_shard(media)) != DB_OK)
        return DISC_ERROR;
    db_conn_t *c = f->tx;
    int rc = db_lock(c, "caption", media, 0) == DB_OK ? 0 : -1;
    db_stmt_t *s = db_q(c, Q_MEDIA_TEXT_SOURCE);
    db_bind_i64(s, 1, media);
    int st = rc == 0 ? db_step(s) : DB_ERROR;
    if (st == DB_ROW && db_col_i64(s, 1) != owner)
        st = DB_DONE; /* not theirs: as if gone */
    db_reset(s);
    rc = st == DB_ROW ? 0 : st == DB_DONE ? DISC_NOT_FOUND : -1;
    /* the users mentioned before and after: each one's news follows the new text */
    text_mention_t *all = xcalloc(TEXT_MAX_MENTIONS * 2, sizeof(text_mention_t));
    size_t nall = 0;
    if (rc == 0)
        rc = caption_mentions(c, media, all, TEXT_MAX_MENTIONS, &nall);
    for (size_t i = 0; i < nmentions; i++) {
        bool dup = false;
        for (size_t k = 0; k < nall && !dup; k++)
            dup = strcmp(all[k], mentions[i]) == 0;
        if (!dup)
            memcpy(all[nall++], mentions[i], sizeof(text_mention_t));
    }
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
    if (rc == 0)
        rc = social_mention_effects(f, media, media, all, nall);
    if (rc == 0)
        rc = tags_sync(f, media, edit_id, 0) == DB_DONE ? 0 : -1;
    free(all);
    int end = far_end(f, rc);
    return end == 0 ? DISC_OK : rc > 0 ? rc : DISC_ERROR;
}

int media_set_caption(db_ctx_t *db, int64_t media, int64_t owner, const char *caption, int64_t edit_id,
                      const text_mention_t *mentions, size_t nmentions)
{
    far_t f;
    int rc, tries = 0;
    do
        rc = set_caption_once(&f, db, media, owner, caption, edit_id, mentions, nmentions);
    while (far_again(&f, &tries));
    return rc;
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

unsigned place_shard(db_ctx_t *db, const char *name)
{
    char lower[LOCATION_NAME_MAX * 4 + 1];
    size_t n = text_lower(name, strlen(name), lower, sizeof(lower));
    return db_key_shard(db, lower, n);
}

/* The place of this lower-cased name within LOCATION_DEDUP_M of (lat,
 * lng), from every database (places made before they were placed by name
 * may be anywhere). 1 found, 0 none, -1 on error. */
static int find_place(db_ctx_t *db, const char *lower, double lat, double lng, location_t *out)
{
    for (size_t i = 0; i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL)
            return -1;
        db_stmt_t *s = db_q(c, Q_LOCATION_SAME_NAME);
        db_bind_cstr(s, 1, lower);
        db_bind_i64(s, 2, 1000);
        int rc;
        bool found = false;
        while (!found && (rc = db_step(s)) == DB_ROW) {
            row_to_location(s, out);
            found = geo_distance(lat, lng, out->lat, out->lng) <= LOCATION_DEDUP_M;
        }
        db_reset(s);
        if (found)
            return 1;
        if (rc == DB_ERROR)
            return -1;
    }
    return 0;
}

int location_find_or_make(db_ctx_t *db, const char *name, double lat, double lng, int64_t new_id, location_t *out)
{
    char lower[sizeof(out->name)];
    text_lower(name, strlen(name), lower, sizeof(lower));
    /* one writer at a time per name, on the name's shard (new_id's) */
    far_t f;
    far_init(&f, db);
    if (far_begin(&f, ids_shard(new_id)) != DB_OK)
        return DISC_ERROR;
    int rc = db_lock(f.tx, lower, 0, 0) == DB_OK ? find_place(db, lower, lat, lng, out) : -1;
    if (rc == 0) {
        db_stmt_t *s = db_q(f.tx, Q_LOCATION_INSERT);
        db_bind_i64(s, 1, new_id);
        db_bind_cstr(s, 2, name);
        db_bind_double(s, 3, lat);
        db_bind_double(s, 4, lng);
        db_bind_cstr(s, 5, lower);
        rc = db_exec_stmt(s) == DB_DONE && geo_place_put(f.tx, new_id, lat, lng) == DB_DONE ? 0 : -1;
        if (rc == 0) {
            out->id = new_id;
            snprintf(out->name, sizeof(out->name), "%s", name);
            out->lat = lat;
            out->lng = lng;
        }
    }
    return far_end(&f, rc < 0 ? -1 : 0) == 0 ? DISC_OK : DISC_ERROR;
}

/* The far effect "place MEDIA LOCATION", on the place's shard: the place's
 * list holds MEDIA exactly while MEDIA is at that place. */
int far_place(far_t *f, char *payload)
{
    long long media, loc;
    if (sscanf(payload, "%lld %lld", &media, &loc) != 2)
        return JOB_DONE;
    far_t own;
    far_t *h = far_enter(f, ids_shard(loc), &own);
    if (h == NULL)
        return JOB_RETRY;
    db_conn_t *cm = db_shard(h->db, ids_shard(media));
    int rc = cm && db_lock(h->tx, "place", media, loc) == DB_OK ? 0 : -1;
    bool there = false;
    if (rc == 0) {
        db_stmt_t *s = db_q(cm, Q_MEDIA_PLACE);
        db_bind_i64(s, 1, media);
        int st = db_step(s);
        there = st == DB_ROW && !db_col_null(s, 0) && db_col_i64(s, 0) == loc;
        db_reset(s);
        rc = st == DB_ERROR ? -1 : 0;
    }
    if (rc == 0) {
        db_stmt_t *s = db_q(h->tx, there ? Q_LOCATION_MEDIA_PUT : Q_LOCATION_MEDIA_DEL);
        db_bind_i64(s, 1, loc);
        db_bind_i64(s, 2, media);
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    }
    return far_leave(h, rc == 0 ? JOB_DONE : JOB_RETRY);
}

static bool place_before(const location_t *a, const location_t *b)
{
    char la[sizeof(a->name)], lb[sizeof(b->name)];
    text_lower(a->name, strlen(a->name), la, sizeof(la));
    text_lower(b->name, strlen(b->name), lb, sizeof(lb));
    int c = strcmp(la, lb);
    return c != 0 ? c < 0 : a->id < b->id;
}

int locations_by_name(db_ctx_t *db, const char *prefix, int limit, location_t *out, int *n)
{
    *n = 0;
    char lo[LOCATION_NAME_MAX * 4 + 8], hi[LOCATION_NAME_MAX * 4 + 8];
    prefix_range(prefix, lo, hi, sizeof(lo));
    location_t *l = xmalloc(sizeof(*l));
    int rc = DB_DONE;
    for (size_t i = 0; i < db_count(db) && rc != DB_ERROR; i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL) {
            rc = DB_ERROR;
            break;
        }
        db_stmt_t *s = db_q(c, Q_LOCATION_SEARCH_NAME);
        db_bind_cstr(s, 1, lo);
        db_bind_cstr(s, 2, hi);
        db_bind_i64(s, 3, limit);
        while ((rc = db_step(s)) == DB_ROW) {
            row_to_location(s, l);
            int pos = *n;
            while (pos > 0 && place_before(l, &out[pos - 1]))
                pos--;
            if (pos >= limit)
                continue;
            int last = *n < limit ? *n : limit - 1;
            memmove(&out[pos + 1], &out[pos], (size_t)(last - pos) * sizeof(*l));
            out[pos] = *l;
            if (*n < limit)
                (*n)++;
        }
        db_reset(s);
    }
    free(l);
    return rc == DB_ERROR ? DISC_ERROR : DISC_OK;
}

int location_media(db_ctx_t *db, int64_t location, int64_t before, int64_t after, int limit, int64_t *ids, int *n)
{
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(location));
    if (c == NULL)
        return DISC_ERROR;
    db_stmt_t *s = db_q(c, Q_LOCATION_MEDIA_PAGE);
    db_bind_i64(s, 1, location);
    db_bind_i64(s, 2, before);
    db_bind_i64(s, 3, after);
    db_bind_i64(s, 4, limit);
    return db_read_ids(s, limit, ids, n) == DB_DONE ? DISC_OK : DISC_ERROR;
}

/* ---- popular ----
 * The ranking is one list, kept on the first database, and copied to the
 * feed store where it keeps one (Redis), which reads try first; its job
 * scores the candidates of every database. */

static db_conn_t *index_conn(db_ctx_t *db)
{
    return db_physical(db, 0);
}

int popular_list(db_ctx_t *db, feeds_t *feeds, int limit, int64_t *ids, int *n)
{
    *n = 0;
    if (feeds != NULL && feeds_popular_get(feeds, db, ids, limit, n) == FEEDS_OK)
        return DISC_OK;
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
    long live = db_lock(c, "popular", 0, 0) == DB_OK ? jobs_live(c, "popular") : -1;
    int rc = live < 0 ? -1 : live > 0 ? 0 : jobs_enqueue(c, 0, "popular", "") == DB_DONE ? 0 : -1;
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
    const popular_ctx_t *pc = ctx;
    long long interval = pc->interval;
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
    int rc = DB_DONE;
    for (size_t i = 0; i < db_count(db) && rc == DB_DONE; i++) {
        db_conn_t *ci = db_physical(db, i);
        if (ci == NULL) {
            rc = DB_ERROR;
            break;
        }
        /* each database ranks its own by the square of the score (no pow in
         * SQLite's SQL) and sends its best POPULAR_KEEP: the best of all are
         * among them */
        db_stmt_t *s = db_q(ci, Q_POPULAR_CANDIDATES);
        db_bind_i64(s, 1, floor);
        db_bind_i64(s, 2, now_ms / 1000);
        db_bind_i64(s, 3, POPULAR_KEEP);
        while ((rc = db_step(s)) == DB_ROW) {
            if (n == cap)
                v = xrealloc(v, (cap *= 2) * sizeof(*v));
            v[n].id = db_col_i64(s, 0);
            v[n].score = score(db_col_i64(s, 1), db_col_i64(s, 2), (double)now_ms / 1000.0 - (double)db_col_i64(s, 3));
            n++;
        }
        db_reset(s);
    }
    qsort(v, n, sizeof(*v), by_score);
    int ok = rc == DB_DONE && db_begin(c) == DB_OK;
    if (!ok) {
        free(v);
        return JOB_RETRY;
    }
    ok = db_lock(c, "popular", 0, 0) == DB_OK; /* one ranking at a time */
    ok = ok && db_exec_stmt(db_q(c, Q_POPULAR_CLEAR)) == DB_DONE;
    size_t kept = n < POPULAR_KEEP ? n : POPULAR_KEEP;
    int64_t *ranked = xmalloc((kept ? kept : 1) * sizeof(int64_t));
    for (size_t i = 0; ok && i < kept; i++) {
        db_stmt_t *s = db_q(c, Q_POPULAR_PUT);
        db_bind_i64(s, 1, (int64_t)i);
        db_bind_i64(s, 2, v[i].id);
        db_bind_double(s, 3, v[i].score);
        ok = db_exec_stmt(s) == DB_DONE;
        ranked[i] = v[i].id;
    }
    free(v);
    /* The next run, committed with this one's result. If this run is a
     * repeat (killed before its job row was deleted), the next is queued. */
    long live = ok ? jobs_live(c, "popular") : -1;
    ok = live >= 1 && (live > 1 || jobs_enqueue_at(c, "popular", "", now_ms + interval * 1000) == DB_DONE);
    if (!ok || db_commit(c) != DB_OK) {
        db_rollback(c);
        free(ranked);
        return JOB_RETRY;
    }
    /* the copy that servers read; if the store is away, they read the
     * database's until the next run puts it */
    if (pc->feeds != NULL && feeds_popular_put(pc->feeds, db, ranked, kept) == FEEDS_DOWN)
        log_warn("popular: the feed store cannot be reached; its copy of the ranking waits for the next run");
    free(ranked);
    return JOB_DONE;
}

/* ---- reindex (picogram admin reindex) ---- */

#define REINDEX_BATCH 256

/* One far effect, run as a write of the shard's would run it. */
static int reindex_effect(db_ctx_t *db, unsigned primary, const char *kind, unsigned far_shard, const char *payload)
{
    far_t *f = xmalloc(sizeof(*f));
    far_init(f, db);
    int rc = far_begin(f, primary) == DB_OK ? 0 : -1;
    if (rc == 0)
        rc = far_do(f, kind, far_shard, "%s", payload) == DB_DONE ? 0 : -1;
    rc = far_end(f, rc);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Pairs (media, tag) from q on database d after (*media, tag), into ms and ts. */
static int tag_pairs(db_conn_t *c, unsigned q, int64_t media, const char *tag, int64_t *ms, text_tag_t *ts, int *n)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, media);
    db_bind_cstr(s, 2, tag);
    db_bind_i64(s, 3, REINDEX_BATCH);
    int st;
    *n = 0;
    while (*n < REINDEX_BATCH && (st = db_step(s)) == DB_ROW) {
        ms[*n] = db_col_i64(s, 0);
        db_col_copy(s, 1, ts[*n], sizeof(text_tag_t));
        (*n)++;
    }
    db_reset(s);
    return *n < REINDEX_BATCH && st == DB_ERROR ? -1 : 0;
}

int tags_reindex(db_ctx_t *db, long long *checked, long long *counts_fixed)
{
    *checked = *counts_fixed = 0;
    int64_t *ms = xmalloc(REINDEX_BATCH * sizeof(int64_t));
    text_tag_t *ts = xmalloc(REINDEX_BATCH * sizeof(text_tag_t));
    int rc = 0;
    /* every tag applied (the truth, on the media's shard), then every entry
     * of the tags' index (on the tag's): the far effect "tag" makes the
     * index match the truth for the pair, so both a missing entry and one
     * left by a photo gone are mended */
    static const unsigned passes[2] = {Q_MEDIA_TAGS_AFTER, Q_TAG_INDEX_AFTER};
    for (int p = 0; rc == 0 && p < 2; p++) {
        for (size_t d = 0; rc == 0 && d < db_count(db); d++) {
            int64_t media = 0;
            text_tag_t tag = "";
            int n = REINDEX_BATCH;
            while (rc == 0 && n == REINDEX_BATCH) {
                db_conn_t *c = db_physical(db, d);
                rc = c ? tag_pairs(c, passes[p], media, tag, ms, ts, &n) : -1;
                db_ctx_release(db);
                for (int i = 0; rc == 0 && i < n; i++) {
                    char payload[JOB_PAYLOAD_MAX + 1];
                    snprintf(payload, sizeof(payload), "%lld %s", (long long)ms[i], ts[i]);
                    rc = reindex_effect(db, ids_shard(ms[i]), "tag", tag_shard(db, ts[i]), payload);
                    (*checked)++;
                }
                if (n > 0) {
                    media = ms[n - 1];
                    memcpy(tag, ts[n - 1], sizeof(tag));
                }
            }
        }
    }
    /* and every tag's count, from its index: per tag, its row locked first
     * and counted after (in PostgreSQL a statement begun after the lock sees
     * every insert committed before it; one still open moves the count
     * after this commit, as far_tag does), so a running server's changes
     * are never counted over */
    for (size_t d = 0; rc == 0 && d < db_count(db); d++) {
        text_tag_t after = "";
        int n = REINDEX_BATCH;
        while (rc == 0 && n == REINDEX_BATCH) {
            db_conn_t *c = db_physical(db, d);
            n = 0;
            db_stmt_t *s = c ? db_q(c, Q_TAG_NAMES_AFTER) : NULL;
            if (s == NULL) {
                rc = -1;
                break;
            }
            db_bind_cstr(s, 1, after);
            db_bind_i64(s, 2, REINDEX_BATCH);
            int st = DB_DONE;
            while (n < REINDEX_BATCH && (st = db_step(s)) == DB_ROW)
                db_col_copy(s, 0, ts[n++], sizeof(text_tag_t));
            db_reset(s);
            if (n < REINDEX_BATCH && st == DB_ERROR)
                rc = -1;
            for (int i = 0; rc == 0 && i < n; i++) {
                int64_t have = 0, truth = 0;
                rc = db_begin(c) == DB_OK ? 0 : -1;
                for (int q = 0; rc == 0 && q < 2; q++) {
                    s = db_q(c, q == 0 ? Q_TAG_COUNT_LOCK : Q_TAG_INDEX_COUNT);
                    db_bind_cstr(s, 1, ts[i]);
                    st = db_step(s);
                    if (st == DB_ROW)
                        *(q == 0 ? &have : &truth) = db_col_i64(s, 0);
                    db_reset(s);
                    rc = st == DB_ERROR ? -1 : 0;
                }
                if (rc == 0 && have != truth) {
                    s = db_q(c, Q_TAG_COUNT_SET);
                    db_bind_cstr(s, 1, ts[i]);
                    db_bind_i64(s, 2, truth);
                    rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
                    *counts_fixed += rc == 0;
                }
                if (rc != 0 || db_commit(c) != DB_OK) {
                    db_rollback(c);
                    rc = -1;
                }
            }
            if (n > 0)
                memcpy(after, ts[n - 1], sizeof(after));
            db_ctx_release(db);
        }
    }
    free(ms);
    free(ts);
    db_ctx_release(db);
    return rc;
}

int geo_reindex(db_ctx_t *db, long long *points, long long *dropped)
{
    *points = *dropped = 0;
    int rc = 0;
    for (size_t d = 0; rc == 0 && d < db_count(db); d++) {
        int64_t after = 0;
        int n = REINDEX_BATCH;
        while (rc == 0 && n == REINDEX_BATCH) {
            db_conn_t *c = db_physical(db, d);
            if (c == NULL || db_begin(c) != DB_OK) {
                rc = -1;
                break;
            }
            /* the photos with a place: each one's point put again, and its
             * place's list of photos mended (far effect "place") */
            int64_t ids[REINDEX_BATCH], places[REINDEX_BATCH];
            db_stmt_t *s = db_q(c, Q_MEDIA_GEO_AFTER);
            db_bind_i64(s, 1, after);
            db_bind_i64(s, 2, REINDEX_BATCH);
            int st = DB_DONE;
            n = 0;
            double lat[REINDEX_BATCH], lng[REINDEX_BATCH];
            int64_t at[REINDEX_BATCH];
            while (n < REINDEX_BATCH && (st = db_step(s)) == DB_ROW) {
                ids[n] = db_col_i64(s, 0);
                lat[n] = db_col_double(s, 1);
                lng[n] = db_col_double(s, 2);
                at[n] = db_col_i64(s, 3);
                places[n] = db_col_i64(s, 4);
                n++;
            }
            db_reset(s);
            rc = n < REINDEX_BATCH && st == DB_ERROR ? -1 : 0;
            for (int i = 0; rc == 0 && i < n; i++)
                rc = geo_media_del(c, ids[i]) == DB_DONE && geo_media_put(c, ids[i], lat[i], lng[i], at[i]) == DB_DONE
                         ? 0
                         : -1;
            if (rc != 0 || db_commit(c) != DB_OK) {
                db_rollback(c);
                rc = -1;
            }
            db_ctx_release(db);
            for (int i = 0; rc == 0 && i < n; i++) {
                char payload[64];
                snprintf(payload, sizeof(payload), "%lld %lld", (long long)ids[i], (long long)places[i]);
                rc = reindex_effect(db, ids_shard(ids[i]), "place", ids_shard(places[i]), payload);
            }
            *points += n;
            if (n > 0)
                after = ids[n - 1];
        }
        /* points of photos that are gone */
        db_conn_t *c = rc == 0 ? db_physical(db, d) : NULL;
        db_stmt_t *s = c ? db_q(c, Q_GEO_ORPHANS_DEL) : NULL;
        if (s == NULL || db_exec_stmt(s) != DB_DONE)
            rc = -1;
        else
            *dropped += c->drv->changes(c);
        db_ctx_release(db);
    }
    return rc;
}
