/*
 * Discovery: GET /v1/tags/{name}, /v1/tags/{name}/media/recent,
 * /v1/tags/search, /v1/locations/{id}, /v1/locations/{id}/media/recent,
 * /v1/locations/search, /v1/media/search (geo) and /v1/media/popular.
 *
 * Every list of media goes through api_emit_visible_media, so private
 * accounts and blocks hide media here exactly as on the feed: an index
 * entry is only a candidate until the viewer may see it.
 */
#include "api/handlers.h"
#include "api/render.h"
#include "core/ids.h"
#include "geo/geo.h"
#include "model/discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIST_MAX 100

/* ---- tags ---- */

/* The tag named by path argument i (percent-encoded, any case, '#' allowed).
 * False after answering 400. */
static bool tag_arg(api_req_t *ar, size_t i, text_tag_t out)
{
    const route_arg_t *a = &ar->match.args[i];
    char *dec = xmalloc(a->len + 1);
    long n = params_pct_decode(dec, a->base, a->len, false);
    bool ok = n > 0 && text_tag_name(dec, (size_t)n, out);
    free(dec);
    if (!ok)
        api_error(ar, 400, E_INVALID, "not a tag name: letters, digits and _ in any script, at most 100");
    return ok;
}

static void render_tag(buf_t *b, const char *name, int64_t count)
{
    buf_puts(b, "{\"name\":");
    buf_json_cstr(b, name);
    buf_printf(b, ",\"media_count\":%lld}", (long long)count);
}

void tags_show(api_req_t *ar)
{
    text_tag_t tag;
    int64_t count;
    if (!tag_arg(ar, 0, tag))
        return;
    if (tag_get(ar->db, tag, &count) != DISC_OK) {
        api_internal_error(ar, "tag read failed");
        return;
    }
    buf_t b;
    buf_init(&b, 4096);
    render_tag(&b, tag, count);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

void tags_search_handler(api_req_t *ar)
{
    const char *q = api_param(ar, "q");
    int count;
    if (q && *q == '#')
        q++;
    if (q == NULL || *q == '\0') {
        api_error(ar, 400, E_INVALID, "q is required");
        return;
    }
    if (strlen(q) > TAG_MAX_BYTES) {
        api_error(ar, 400, E_INVALID, "q is longer than any tag");
        return;
    }
    if (!api_count(ar, 20, LIST_MAX, &count))
        return;
    tag_info_t *tags = xcalloc((size_t)count, sizeof(*tags));
    int n = 0;
    if (tags_search(ar->db, q, count, tags, &n) != DISC_OK) {
        free(tags);
        api_internal_error(ar, "tag search failed");
        return;
    }
    buf_t b;
    buf_init(&b, 1 << 20);
    buf_putc(&b, '[');
    for (int i = 0; i < n; i++) {
        if (i)
            buf_putc(&b, ',');
        render_tag(&b, tags[i].name, tags[i].media_count);
    }
    buf_putc(&b, ']');
    free(tags);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

typedef struct tag_src {
    page_src_t super;
    const char *tag;
    int64_t after;     /* min_tag_id */
    int64_t *media;    /* beside super.keys (the tag IDs) */
    int64_t newest;    /* the tag ID of the first item shown */
} tag_src_t;

static int tag_fetch(api_req_t *ar, page_src_t *src, int64_t before, int limit, int *n)
{
    tag_src_t *ts = (tag_src_t *)src;
    free(ts->media);
    ts->media = xcalloc((size_t)limit, sizeof(int64_t));
    if (tag_media(ar->db, ts->tag, before, ts->after, limit, src->keys, ts->media, n) != DISC_OK)
        return -1;
    api_prefetch_liked(ar, ts->media, *n);
    return 0;
}

static bool tag_emit(api_req_t *ar, page_src_t *src, int i, buf_t *b)
{
    tag_src_t *ts = (tag_src_t *)src;
    if (!api_emit_visible_media(ar, ts->media[i], b))
        return false;
    if (ts->newest == 0)
        ts->newest = src->keys[i];
    return true;
}

void tags_recent(api_req_t *ar)
{
    text_tag_t tag;
    int count;
    int64_t before = INT64_MAX, after = 0;
    if (!tag_arg(ar, 0, tag) || !api_count(ar, 20, LIST_MAX, &count) ||
        !api_id_param(ar, "max_tag_id", &before) || !api_id_param(ar, "min_tag_id", &after))
        return;
    tag_src_t src = {.super = {.fetch = tag_fetch, .emit = tag_emit}, .tag = tag, .after = after};
    buf_t b, pg;
    buf_init(&b, 16u << 20);
    buf_init(&pg, 8192);
    page_next_t next;
    int rc = api_page(ar, &src.super, count, before, &b, &next);
    free(src.media);
    if (rc != 0) {
        api_internal_error(ar, "tag list failed");
    } else {
        /* next_max_tag_id to go on; min_tag_id to ask later for what is newer */
        char v[PAGE_CURSOR_MAX];
        api_cursor_text(ar, &next, v);
        buf_putc(&pg, '{');
        if (*v) {
            buf_puts(&pg, "\"next_url\":");
            api_next_url(ar, &pg, "max_tag_id", v);
            buf_puts(&pg, ",\"next_max_tag_id\":");
            buf_json_cstr(&pg, v);
        }
        if (src.newest) {
            snprintf(v, sizeof(v), "%lld", (long long)src.newest);
            buf_puts(&pg, next.pos ? ",\"min_tag_id\":" : "\"min_tag_id\":");
            buf_json_cstr(&pg, v);
        }
        buf_putc(&pg, '}');
        api_ok(ar, &b, &pg);
    }
    buf_free(&b);
    buf_free(&pg);
}

/* ---- places ---- */

/* The place named by the first path argument. False after answering 404. */
static bool location_arg(api_req_t *ar, location_t *l)
{
    const route_arg_t *a = &ar->match.args[0];
    int64_t id = ids_parse(a->base, a->len);
    int rc = id ? location_get(ar->db, id, l) : DISC_NOT_FOUND;
    if (rc == DISC_NOT_FOUND)
        api_error(ar, 404, E_NOT_FOUND, "this location does not exist");
    else if (rc != DISC_OK)
        api_internal_error(ar, "location read failed");
    return rc == DISC_OK;
}

void locations_show(api_req_t *ar)
{
    location_t *l = xmalloc(sizeof(*l));
    if (location_arg(ar, l)) {
        buf_t b;
        buf_init(&b, 4096);
        render_location(&b, l->id, l->name, l->lat, l->lng);
        api_ok(ar, &b, NULL);
        buf_free(&b);
    }
    free(l);
}

typedef struct place_src {
    page_src_t super;
    int64_t location, after;
} place_src_t;

static int place_fetch(api_req_t *ar, page_src_t *src, int64_t before, int limit, int *n)
{
    place_src_t *ps = (place_src_t *)src;
    if (location_media(ar->db, ps->location, before, ps->after, limit, src->keys, n) != DISC_OK)
        return -1;
    api_prefetch_liked(ar, src->keys, *n);
    return 0;
}

static bool place_emit(api_req_t *ar, page_src_t *src, int i, buf_t *b)
{
    return api_emit_visible_media(ar, src->keys[i], b);
}

void locations_recent(api_req_t *ar)
{
    location_t *l = xcalloc(1, sizeof(*l));
    bool found = location_arg(ar, l);
    int64_t id = found ? l->id : 0;
    free(l);
    int count;
    int64_t before = INT64_MAX, after = 0;
    if (!found || !api_count(ar, 20, LIST_MAX, &count) || !api_media_id_param(ar, "max_id", &before) ||
        !api_media_id_param(ar, "min_id", &after) || !api_time_bounds(ar, &after, &before))
        return;
    place_src_t src = {.super = {.fetch = place_fetch, .emit = place_emit}, .location = id, .after = after};
    api_page_reply(ar, &src.super, count, before, "max_id", "next_max_id");
}

/* lat, lng and distance into the circle of a search. False after answering 400. */
static bool geo_params(api_req_t *ar, geo_hits_t *h)
{
    double lat, lng, dist;
    const char *err =
        validate_geo_query(api_param(ar, "lat"), api_param(ar, "lng"), api_param(ar, "distance"), &lat, &lng, &dist);
    if (err) {
        api_error(ar, 400, E_INVALID, err);
        return false;
    }
    geo_hits_init(h, lat, lng, dist);
    return true;
}

void locations_search(api_req_t *ar)
{
    int count;
    const char *q = api_param(ar, "q");
    bool near = api_param(ar, "lat") || api_param(ar, "lng") || api_param(ar, "distance");
    if (!near && (q == NULL || *q == '\0')) {
        api_error(ar, 400, E_INVALID, "give lat and lng (and distance), or q");
        return;
    }
    if (q && strlen(q) > LOCATION_NAME_MAX * 4) {
        api_error(ar, 400, E_INVALID, "q is longer than any place name");
        return;
    }
    geo_hits_t *h = xmalloc(sizeof(*h));
    if ((near && !geo_params(ar, h)) || !api_count(ar, 20, LIST_MAX, &count)) {
        free(h);
        return;
    }
    /* near a point, q narrows to names that start with it; places are read
     * only until count of them are shown */
    char ql[LOCATION_NAME_MAX * 4 + 1] = "", nl[LOCATION_NAME_MAX * 4 + 1];
    size_t qn = q ? text_lower(q, strlen(q), ql, sizeof(ql)) : 0;
    location_t *ls = xcalloc((size_t)count, sizeof(*ls));
    int n = 0, rc = DISC_OK;
    if (near) {
        rc = geo_place_near_all(ar->db, h) == 0 ? DISC_OK : DISC_ERROR;
        for (size_t i = 0; rc == DISC_OK && i < h->n && n < count; i++) {
            int got = location_get(ar->db, h->v[i].id, &ls[n]);
            if (got == DISC_ERROR)
                rc = DISC_ERROR;
            else if (got == DISC_OK &&
                     (qn == 0 || (text_lower(ls[n].name, strlen(ls[n].name), nl, sizeof(nl)) >= qn &&
                                  memcmp(nl, ql, qn) == 0)))
                n++;
        }
    } else {
        rc = locations_by_name(ar->db, q, count, ls, &n);
    }
    free(h);
    if (rc != DISC_OK) {
        free(ls);
        api_internal_error(ar, "location search failed");
        return;
    }
    buf_t b;
    buf_init(&b, 1 << 20);
    buf_putc(&b, '[');
    for (int i = 0; i < n; i++) {
        if (i)
            buf_putc(&b, ',');
        render_location(&b, ls[i].id, ls[i].name, ls[i].lat, ls[i].lng);
    }
    buf_putc(&b, ']');
    free(ls);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

/* ---- geo search ---- */

#define GEO_WINDOW_DEFAULT (5 * 86400LL)
#define GEO_WINDOW_MAX (7 * 86400LL)

void media_search(api_req_t *ar)
{
    int count;
    long long t0 = -1, t1 = -1;
    geo_hits_t *h = xmalloc(sizeof(*h));
    if (!geo_params(ar, h) || !api_count(ar, 20, LIST_MAX, &count) || !api_ts_param(ar, "min_timestamp", &t0) ||
        !api_ts_param(ar, "max_timestamp", &t1)) {
        free(h);
        return;
    }
    /* the window: the last 5 days by default, at most 7 */
    if (t1 < 0)
        t1 = t0 >= 0 ? t0 + GEO_WINDOW_DEFAULT : (long long)time(NULL);
    if (t0 < 0)
        t0 = t1 - GEO_WINDOW_DEFAULT;
    if (t0 > t1 || t1 - t0 > GEO_WINDOW_MAX) {
        free(h);
        api_error(ar, 400, E_INVALID, "min_timestamp must not be after max_timestamp, at most 7 days before it");
        return;
    }
    if (api_geo_media_near(ar, t0, t1, h) != 0) {
        free(h);
        api_internal_error(ar, "geo search failed");
        return;
    }
    api_geo_page(ar, h, count, 0);
    free(h);
}

static int newest_first(const void *a, const void *b)
{
    int64_t x = ((const geo_hit_t *)a)->id, y = ((const geo_hit_t *)b)->id;
    return (x < y) - (x > y);
}

void api_geo_page(api_req_t *ar, geo_hits_t *h, int count, int64_t min_id)
{
    if (min_id) { /* a geography's page: newest first, newer than min_id */
        qsort(h->v, h->n, sizeof(h->v[0]), newest_first);
        size_t k = 0;
        for (size_t i = 0; i < h->n; i++)
            if (h->v[i].id > min_id || min_id < 0)
                h->v[k++] = h->v[i];
        h->n = k;
    }
    int64_t near[LIST_MAX];
    int nnear = 0;
    for (size_t i = 0; i < h->n && nnear < count; i++)
        near[nnear++] = h->v[i].id;
    api_prefetch_liked(ar, near, nnear); /* the first, which are shown unless hidden */
    buf_t b, one;
    buf_init(&b, 16u << 20);
    buf_init(&one, 16u << 20);
    buf_putc(&b, '[');
    int shown = 0;
    for (size_t i = 0; i < h->n && shown < count; i++) {
        buf_reset(&one);
        if (!api_emit_visible_media(ar, h->v[i].id, &one) || one.len == 0)
            continue;
        if (shown++)
            buf_putc(&b, ',');
        /* the media object with its distance: {..., "distance": metres} */
        buf_append(&b, one.data, one.len - 1);
        buf_printf(&b, ",\"distance\":%.1f}", h->v[i].dist);
    }
    buf_putc(&b, ']');
    api_ok(ar, &b, NULL);
    buf_free(&b);
    buf_free(&one);
}

/* ---- popular ---- */

void media_popular(api_req_t *ar)
{
    int count;
    if (!api_count(ar, 20, LIST_MAX, &count))
        return;
    int64_t ids[POPULAR_KEEP];
    int n = 0;
    if (popular_list(ar->db, &ar->srv->feeds, POPULAR_KEEP, ids, &n) != DISC_OK) {
        api_internal_error(ar, "popular read failed");
        return;
    }
    api_prefetch_liked(ar, ids, n < count ? n : count);
    buf_t b, one;
    buf_init(&b, 16u << 20);
    buf_init(&one, 16u << 20);
    buf_putc(&b, '[');
    int shown = 0;
    for (int i = 0; i < n && shown < count; i++) {
        buf_reset(&one);
        if (!api_emit_visible_media(ar, ids[i], &one))
            continue;
        if (shown++)
            buf_putc(&b, ',');
        buf_append(&b, one.data, one.len);
    }
    buf_putc(&b, ']');
    api_ok(ar, &b, NULL);
    buf_free(&b);
    buf_free(&one);
}
