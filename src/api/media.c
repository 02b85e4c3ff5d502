/*
 * Media: POST /v1/media/upload, GET /v1/media/{id}, GET
 * /v1/media/shortcode/{code}, DELETE /v1/media/{id}, and GET
 * /v1/users/{id}/media/recent.
 *
 * The upload is synchronous and all-or-nothing: the photo is decoded and
 * its renditions made on a worker thread, every file is durable in the
 * photo store before the row is committed, and only the commit makes the
 * post visible. Any failure removes the files it wrote. Files orphaned by a
 * crash between the two are swept at the next start.
 */
#include "api/handlers.h"
#include "api/render.h"
#include "blob/blob.h"
#include "core/ids.h"
#include "model/discovery.h"
#include "model/media.h"
#include "model/users.h"
#include "obs/log.h"

#include <math.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "MEDIAID_OWNERID" or "MEDIAID": the media ID, and the owner if given. */
int64_t parse_media_id(const char *s, size_t n, int64_t *owner)
{
    const char *us = memchr(s, '_', n);
    *owner = 0;
    if (us == NULL)
        return ids_parse(s, n);
    *owner = ids_parse(us + 1, (size_t)(s + n - us - 1));
    return *owner ? ids_parse(s, (size_t)(us - s)) : 0;
}

/* Answers with the media object. */
static void reply_media(api_req_t *ar, const media_t *m, bool m_from_this_request)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    api_render_media(ar, &b, m, m_from_this_request);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

/* ---- upload ---- */

typedef struct upload_work {
    api_work_t super;
    blob_store_t *store;
    cache_t *cache;
    atomic_int *in_flight;
    img_opts_t opts;
    long long celebrity;
    void *photo;
    size_t photo_len;
    int64_t location_id_new; /* a place to find or make by name, with this ID if new */
    text_tag_t tags[TEXT_MAX_TAGS];
    text_mention_t mentions[TEXT_MAX_MENTIONS];
    size_t ntags, nmentions;
    int status; /* 0, or the HTTP status of the failure */
    const char *err;
    media_t m;
    user_t owner;
} upload_work_t;

/* What uploads came to (API_UPLOAD_*), and the image pipeline's time. */
static _Atomic uint64_t upload_outcomes[API_UPLOAD_N], pipeline_us, pipeline_runs;

void api_upload_stats(api_upload_stats_t *out)
{
    for (int i = 0; i < API_UPLOAD_N; i++)
        out->outcomes[i] = atomic_load_explicit(&upload_outcomes[i], memory_order_relaxed);
    out->pipeline_us = atomic_load_explicit(&pipeline_us, memory_order_relaxed);
    out->pipeline_runs = atomic_load_explicit(&pipeline_runs, memory_order_relaxed);
}

static void upload_counted(int status)
{
    int k = status == 0     ? API_UPLOAD_STORED
            : status == 503 ? API_UPLOAD_UNAVAILABLE
            : status >= 500 ? API_UPLOAD_FAILED
                            : API_UPLOAD_REJECTED;
    atomic_fetch_add_explicit(&upload_outcomes[k], 1, memory_order_relaxed);
}

static void upload_run(api_work_t *w_, worker_ctx_t *wc)
{
    upload_work_t *w = (upload_work_t *)w_;
    img_result_t r;
    int64_t t0 = ids_mono_us();
    w->status = images_process(w->photo, w->photo_len, &w->opts, &r, &w->err);
    int64_t took = ids_mono_us() - t0;
    atomic_fetch_add_explicit(&pipeline_us, took > 0 ? (uint64_t)took : 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&pipeline_runs, 1, memory_order_relaxed);
    free(w->photo);
    w->photo = NULL;
    if (w->status != 0) {
        upload_counted(w->status);
        return;
    }
    w->status =
        media_post(wc->db, w->store, &w->m, &r, w->location_id_new, w->celebrity, w->mentions, w->nmentions, &w->owner);
    images_result_free(&r);
    upload_counted(w->status);
    if (w->m.location_id) /* after the commit, or a failed one that may have landed */
        api_geo_posted(w->cache, w->m.lat, w->m.lng, w->m.created_at);
    if (w->status != 0) {
        w->err = w->status == 503 ? "the photo store is unavailable; please retry" : "the photo could not be stored";
        return;
    }
    api_posts_changed(w->cache, w->m.user_id);
}

static void upload_done(api_work_t *w_, api_req_t *ar)
{
    upload_work_t *w = (upload_work_t *)w_;
    if (w->status == 503) {
        log_warn("POST /v1/media/upload: %s", w->err);
        api_error(ar, 503, E_UNAVAILABLE, w->err);
        return;
    }
    if (w->status >= 500) {
        api_internal_error(ar, w->err);
        return;
    }
    if (w->status != 0) {
        api_error(ar, w->status, E_INVALID, w->err);
        return;
    }
    reply_media(ar, &w->m, false);
}

static void upload_cleanup(api_work_t *w_)
{
    upload_work_t *w = (upload_work_t *)w_;
    free(w->photo);
    atomic_fetch_sub(w->in_flight, 1);
}

/* caption= into m (has_caption false if absent or empty) with its
 * mentions. False after answering 400. */
static bool caption_param(api_req_t *ar, media_t *m, text_mention_t *mentions, size_t *nmentions)
{
    const param_t *cap = params_get(&ar->params, "caption");
    m->has_caption = false;
    *nmentions = 0;
    if (cap == NULL || cap->vlen == 0)
        return true;
    if (cap->vlen >= sizeof(m->caption)) {
        api_error(ar, 400, E_INVALID, "caption must be at most 2200 characters");
        return false;
    }
    memcpy(m->caption, cap->val, cap->vlen + 1);
    text_normalize_newlines(m->caption);
    size_t len = strlen(m->caption);
    const char *err = validate_caption(m->caption, len);
    if (err) {
        api_error(ar, 400, E_INVALID, err);
        return false;
    }
    m->has_caption = true;
    *nmentions = text_mentions(m->caption, len, mentions, TEXT_MAX_MENTIONS);
    return true;
}

/* The place: location_id (an existing place), or lat and lng with an
 * optional location_name (found or made at commit). False after answering 400. */
static bool upload_place(api_req_t *ar, upload_work_t *w)
{
    const char *lat = api_param(ar, "lat"), *lng = api_param(ar, "lng"), *name = api_param(ar, "location_name");
    const char *lid = api_param(ar, "location_id");
    if (lid && *lid) {
        location_t *l = xmalloc(sizeof(*l));
        int64_t id = ids_parse(lid, strlen(lid));
        int rc = id ? location_get(ar->db, id, l) : DISC_NOT_FOUND;
        if (rc == DISC_ERROR) {
            free(l);
            api_internal_error(ar, "place lookup failed");
            return false;
        }
        if (rc == DISC_NOT_FOUND || lat || lng || name) {
            free(l);
            api_error(ar, 400, E_INVALID,
                      rc == DISC_NOT_FOUND ? "location_id names no place"
                                           : "give location_id, or lat and lng with location_name, not both");
            return false;
        }
        w->m.location_id = l->id;
        snprintf(w->m.location_name, sizeof(w->m.location_name), "%s", l->name);
        w->m.lat = l->lat;
        w->m.lng = l->lng;
        free(l);
        return true;
    }
    if (lat || lng) {
        if (!parse_number(lat, -90, 90, &w->m.lat) || !parse_number(lng, -180, 180, &w->m.lng)) {
            api_error(ar, 400, E_INVALID, "lat must be a number from -90 to 90 and lng from -180 to 180, both given");
            return false;
        }
        if (name && (utf8_len(name, strlen(name)) > LOCATION_NAME_MAX || validate_full_name(name, strlen(name)))) {
            api_error(ar, 400, E_INVALID, "location_name must be at most 100 characters of text");
            return false;
        }
        snprintf(w->m.location_name, sizeof(w->m.location_name), "%s", name ? name : "");
        w->location_id_new = ids_next(ar->srv->ids, place_shard(ar->db, w->m.location_name));
    } else if (name && *name) {
        api_error(ar, 400, E_INVALID, "location_name needs lat and lng");
        return false;
    }
    return true;
}

/* Reads and checks the text fields into w. False after answering 400. */
static bool upload_fields(api_req_t *ar, upload_work_t *w)
{
    if (!caption_param(ar, &w->m, w->mentions, &w->nmentions))
        return false;
    if (w->m.has_caption)
        w->ntags = text_hashtags(w->m.caption, strlen(w->m.caption), w->tags, TEXT_MAX_TAGS);
    const char *filter = api_param(ar, "filter");
    const char *ferr = filter ? validate_filter(filter, strlen(filter)) : NULL;
    if (ferr) {
        api_error(ar, 400, E_INVALID, ferr);
        return false;
    }
    snprintf(w->m.filter, sizeof(w->m.filter), "%s", filter ? filter : "Normal");
    if (!upload_place(ar, w) || !share_param(ar, &w->m))
        return false;
    /* tags as the JSON array the media object shows */
    buf_t t;
    buf_init(&t, sizeof(w->m.tags_json) - 1);
    tags_json(&t, w->tags, w->ntags);
    if (t.overflow) {
        buf_free(&t);
        api_error(ar, 400, E_INVALID, "caption has too many long hashtags");
        return false;
    }
    memcpy(w->m.tags_json, t.data, t.len);
    w->m.tags_json[t.len] = '\0';
    buf_free(&t);
    return true;
}

void media_upload(api_req_t *ar)
{
    if (ar->photo.base == NULL) {
        api_error(ar, 400, E_INVALID, "send the photo as a multipart/form-data file field named 'photo'");
        return;
    }
    upload_work_t *w = xcalloc(1, sizeof(*w));
    if (!upload_fields(ar, w)) {
        free(w);
        return;
    }
    if (atomic_fetch_add(&ar->srv->uploads_in_flight, 1) >= ar->cfg->max_concurrent_uploads) {
        atomic_fetch_sub(&ar->srv->uploads_in_flight, 1);
        free(w);
        api_error(ar, 503, E_SERVER, "too many uploads at once; please retry");
        return;
    }
    w->super.run = upload_run;
    w->super.done = upload_done;
    w->super.cleanup = upload_cleanup;
    w->store = ar->srv->photos;
    w->cache = ar->srv->cache;
    w->in_flight = &ar->srv->uploads_in_flight;
    w->opts.max_pixels = ar->cfg->max_pixels;
    w->opts.quality = (int)ar->cfg->jpeg_quality;
    w->celebrity = ar->cfg->celebrity;
    /* The request body may go away with the client; the worker gets its own copy. */
    w->photo_len = ar->photo.len;
    w->photo = xmalloc(ar->photo.len);
    memcpy(w->photo, ar->photo.base, ar->photo.len);
    w->m.user_id = ar->viewer;
    w->m.id = ids_next(ar->srv->ids, ids_shard(ar->viewer)); /* on the owner's shard */
    w->m.created_at = ids_unix_ms(w->m.id) / 1000;
    w->m.file_key = blob_new_file_key(); /* the unguessable part of its file names */
    api_defer(ar, &w->super);
}

/* ---- reads ---- */

/* Loads a media and its owner and checks the viewer may see it. False after answering. */
bool api_load_media(api_req_t *ar, int64_t id, int64_t owner_hint, media_t *m, user_t *owner)
{
    return api_find_media(ar, id, owner_hint, m, owner) && api_can_view(ar, owner, "this media does not exist");
}

bool api_find_media(api_req_t *ar, int64_t id, int64_t owner_hint, media_t *m, user_t *owner)
{
    int rc = id ? media_get(ar->db, id, m) : MEDIA_NOT_FOUND;
    if (rc == MEDIA_OK && owner_hint && owner_hint != m->user_id)
        rc = MEDIA_NOT_FOUND;
    return api_media_answer(ar, rc, rc == MEDIA_OK ? users_get(ar->db, m->user_id, owner) : USERS_ERROR);
}

bool api_media_answer(api_req_t *ar, int rc, int urc)
{
    if (rc == MEDIA_NOT_FOUND || urc == USERS_NOT_FOUND) { /* (an owner suspended: hidden with them) */
        api_error(ar, 404, E_NOT_FOUND, "this media does not exist");
        return false;
    }
    if (rc != MEDIA_OK || urc != USERS_OK) {
        api_internal_error(ar, "media lookup failed");
        return false;
    }
    return true;
}

static void show(api_req_t *ar, int64_t id, int64_t owner_hint)
{
    if (api_show_media_cached(ar, id, owner_hint))
        return;
    media_t *m = xmalloc(sizeof(*m));
    user_t owner;
    if (api_load_media(ar, id, owner_hint, m, &owner))
        reply_media(ar, m, true);
    free(m);
}

void media_show(api_req_t *ar)
{
    int64_t owner;
    int64_t id = parse_media_id(ar->match.args[0].base, ar->match.args[0].len, &owner);
    show(ar, id, owner);
}

void media_show_shortcode(api_req_t *ar)
{
    show(ar, ids_from_shortcode(ar->match.args[0].base, ar->match.args[0].len), 0);
}

/* ---- caption edit: POST /v1/media/{id} caption= ---- */

typedef struct caption_work {
    api_work_t super;
    cache_t *cache;
    int64_t id, owner, edit_id;
    text_mention_t mentions[TEXT_MAX_MENTIONS];
    size_t nmentions;
    int result;
    media_t m; /* the caption in; the media as it is after, out */
} caption_work_t;

static void caption_run(api_work_t *w_, worker_ctx_t *wc)
{
    caption_work_t *w = (caption_work_t *)w_;
    w->result = media_set_caption(wc->db, w->id, w->owner, w->m.has_caption ? w->m.caption : NULL, w->edit_id,
                                  w->mentions, w->nmentions);
    if (w->result == DISC_OK || w->result == DISC_ERROR) /* as in like_run (social.c) */
        cache_del(w->cache, CACHE_MEDIA, w->id);
    if (w->result == DISC_OK) {
        int rc = media_get(wc->db, w->id, &w->m);
        w->result = rc == MEDIA_OK ? DISC_OK : rc == MEDIA_NOT_FOUND ? DISC_NOT_FOUND : DISC_ERROR;
    }
}

static void caption_done(api_work_t *w_, api_req_t *ar)
{
    caption_work_t *w = (caption_work_t *)w_;
    if (w->result == DISC_NOT_FOUND) {
        api_error(ar, 404, E_NOT_FOUND, "this media does not exist");
        return;
    }
    if (w->result != DISC_OK) {
        api_internal_error(ar, "caption edit failed");
        return;
    }
    reply_media(ar, &w->m, false);
}

void media_edit(api_req_t *ar)
{
    int64_t hint;
    int64_t id = parse_media_id(ar->match.args[0].base, ar->match.args[0].len, &hint);
    media_t *m = xmalloc(sizeof(*m));
    user_t owner;
    bool ok = api_load_media(ar, id, hint, m, &owner);
    free(m);
    if (!ok)
        return;
    if (owner.id != ar->viewer) {
        api_error(ar, 400, E_NOT_ALLOWED, "only the photo's owner can edit its caption");
        return;
    }
    if (params_get(&ar->params, "caption") == NULL) {
        api_error(ar, 400, E_INVALID, "caption is required (empty removes it)");
        return;
    }
    caption_work_t *w = xcalloc(1, sizeof(*w));
    if (!caption_param(ar, &w->m, w->mentions, &w->nmentions)) {
        free(w);
        return;
    }
    w->super.run = caption_run;
    w->super.done = caption_done;
    w->cache = ar->srv->cache;
    w->id = id;
    w->owner = ar->viewer;
    w->edit_id = ids_next(ar->srv->ids, ids_shard(id));
    api_defer(ar, &w->super);
}

/* ---- delete ---- */

typedef struct delete_work {
    api_work_t super;
    blob_store_t *store;
    cache_t *cache;
    int64_t id, owner;
    int result;
} delete_work_t;

static void delete_run(api_work_t *w_, worker_ctx_t *wc)
{
    delete_work_t *w = (delete_work_t *)w_;
    int64_t file_key = 0;
    w->result = media_delete(wc->db, w->id, w->owner, &file_key);
    if (w->result == MEDIA_OK || w->result == MEDIA_ERROR) { /* as in like_run (social.c) */
        cache_del(w->cache, CACHE_MEDIA, w->id);
        api_posts_changed(w->cache, w->owner); /* the media count, the newest IDs */
    }
    if (w->result == MEDIA_OK) {
        /* after the commit: a crash here leaves orphans the next start sweeps */
        media_delete_files(w->store, w->id, file_key);
    }
}

static void delete_done(api_work_t *w_, api_req_t *ar)
{
    delete_work_t *w = (delete_work_t *)w_;
    if (w->result == MEDIA_OK)
        api_ok_null(ar);
    else if (w->result == MEDIA_NOT_FOUND)
        api_error(ar, 404, E_NOT_FOUND, "this media does not exist");
    else
        api_internal_error(ar, "media delete failed");
}

void media_delete_handler(api_req_t *ar)
{
    int64_t owner_hint;
    int64_t id = parse_media_id(ar->match.args[0].base, ar->match.args[0].len, &owner_hint);
    media_t *m = xmalloc(sizeof(*m));
    int rc = id ? media_get(ar->db, id, m) : MEDIA_NOT_FOUND;
    int64_t owner = rc == MEDIA_OK ? m->user_id : 0;
    free(m);
    if (rc == MEDIA_OK && owner_hint && owner_hint != owner)
        rc = MEDIA_NOT_FOUND;
    if (rc == MEDIA_NOT_FOUND) {
        api_error(ar, 404, E_NOT_FOUND, "this media does not exist");
        return;
    }
    if (rc != MEDIA_OK) {
        api_internal_error(ar, "media lookup failed");
        return;
    }
    if (owner != ar->viewer) {
        api_error(ar, 400, E_NOT_ALLOWED, "only the owner can delete this media");
        return;
    }
    delete_work_t *w = xcalloc(1, sizeof(*w));
    w->super.run = delete_run;
    w->super.done = delete_done;
    w->store = ar->srv->photos;
    w->cache = ar->srv->cache;
    w->id = id;
    w->owner = owner;
    api_defer(ar, &w->super);
}

/* ---- a user's recent media ---- */

bool api_media_id_param(api_req_t *ar, const char *key, int64_t *out)
{
    const param_t *p = params_get(&ar->params, key);
    if (p == NULL || p->vlen == 0)
        return true;
    int64_t owner;
    if (cursor_is_sealed(p->val, p->vlen))
        *out = cursor_open(&ar->srv->cursor_key, p->val, p->vlen, out) ? *out : 0;
    else
        *out = parse_media_id(p->val, p->vlen, &owner);
    if (*out == 0) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%s must be a media ID", key);
        api_error(ar, 400, E_INVALID, msg);
        return false;
    }
    return true;
}

#define RECENT_MAX 100

/* A user's media IDs from max_id down to min_id, count + 1 of them at
 * most. Those of the first page (no bounds) come from the object cache for
 * a short while: a post or a delete through this process drops them at
 * once (api_posts_changed), through another within CACHE_SHORT_TTL_MS.
 * The cached value: a byte, 1 if it holds every one of the user's media,
 * then the IDs, newest first. */
static int recent_ids(api_req_t *ar, int64_t uid, int64_t max_id, int64_t min_id, int count, int64_t *ids, int *n)
{
    bool first = max_id == INT64_MAX && min_id == 0;
    int want = count + 1;
    buf_t v;
    buf_init(&v, 1 + (RECENT_MAX + 1) * sizeof(int64_t));
    if (first && api_cache_get(ar, CACHE_RECENT, uid, &v) && v.len >= 1 && (v.len - 1) % sizeof(int64_t) == 0) {
        int k = (int)((v.len - 1) / sizeof(int64_t));
        if (v.data[0] == 1 || k >= want) {
            *n = k < want ? k : want;
            memcpy(ids, v.data + 1, (size_t)*n * sizeof(int64_t));
            buf_free(&v);
            return MEDIA_OK;
        }
    }
    int rc = media_ids_by_user(ar->db, uid, max_id, min_id, want, ids, n);
    if (rc == MEDIA_OK && first) {
        buf_reset(&v);
        buf_putc(&v, *n < want ? 1 : 0);
        buf_append(&v, ids, (size_t)*n * sizeof(int64_t));
        api_cache_set(ar, CACHE_RECENT, uid, v.data, v.len, CACHE_SHORT_TTL_MS);
    }
    buf_free(&v);
    return rc;
}

void users_media_recent(api_req_t *ar)
{
    int64_t uid;
    bool is_private;
    if (!api_user_arg_brief(ar, 0, &uid, &is_private) ||
        !api_can_view_id(ar, uid, is_private, "this user does not exist"))
        return;
    int count;
    int64_t max_id = INT64_MAX, min_id = 0;
    if (!api_count(ar, 20, RECENT_MAX, &count) || !api_media_id_param(ar, "max_id", &max_id) ||
        !api_media_id_param(ar, "min_id", &min_id) || !api_time_bounds(ar, &min_id, &max_id))
        return;
    /* IDs from the index; the objects from the object cache */
    int64_t *ids = xcalloc((size_t)count + 1, sizeof(int64_t));
    int n = 0;
    if (recent_ids(ar, uid, max_id, min_id, count, ids, &n) != MEDIA_OK) {
        free(ids);
        api_internal_error(ar, "media list failed");
        return;
    }
    bool more = n > count;
    if (more)
        n = count;
    api_prefetch_liked(ar, ids, n);
    buf_t b, pg;
    buf_init(&b, 16u << 20);
    buf_init(&pg, 8192);
    buf_reserve(&b, (size_t)n * 2048); /* about a photo's JSON each: the page is not moved as it grows */
    buf_putc(&b, '[');
    for (int i = 0, shown = 0; i < n; i++) {
        size_t mark = b.len;
        if (shown)
            buf_putc(&b, ',');
        if (api_emit_visible_media(ar, ids[i], &b))
            shown++;
        else
            b.len = mark; /* deleted since the index was read */
    }
    buf_putc(&b, ']');
    if (more) {
        char next[48];
        snprintf(next, sizeof(next), "%lld_%lld", (long long)ids[n - 1], (long long)uid);
        buf_puts(&pg, "{\"next_url\":");
        api_next_url(ar, &pg, "max_id", next);
        buf_puts(&pg, ",\"next_max_id\":");
        buf_json_cstr(&pg, next);
        buf_putc(&pg, '}');
    }
    free(ids);
    api_ok(ar, &b, &pg);
    buf_free(&b);
    buf_free(&pg);
}
