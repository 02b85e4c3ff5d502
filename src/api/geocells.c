/*
 * Geo search through the object cache.
 *
 * DESIGN
 * The media index's points are cached in cells of 0.1 by 0.1 degrees and
 * one day (CACHE_GEOCELL; at most 11 km by 11 km), each entry the points
 * of its cell posted that day. A search reads the entries of the cells and
 * days its box and window cover (in one batch), keeps the points in its
 * box and window exactly as the index's query would, and offers them to
 * its hits as before: the same hits, in the same order. Searches near
 * where others searched (a city, a place's page) then read a few cache
 * entries, not the index.
 *
 * The missing entries of a search are filled from one index query over the
 * cells and days they span. A post with a place drops its cell's entry
 * through this process (and, through the bus or a shared cache, in the
 * others) after its commit; every entry also expires after a short TTL,
 * for the index's other writers (a reindex, an import). A delete drops
 * nothing: a deleted photo's point read from a stale entry is not shown,
 * as the page renders only media that exist.
 *
 * A search over more cells and days than CELLS_MAX (near a pole, or very
 * wide) asks the index directly, as do searches on an event loop with a
 * shared cache (api_cache_prefetch says so).
 */
#include "api/handlers.h"
#include "cache/cache.h"
#include "geo/geo.h"

#include <stdlib.h>
#include <string.h>

#define CELL 1000000LL /* 0.1 degree, in the index's units */
#define DAY 86400LL
#define CELLS_MAX 64
#define POINT_BYTES 20 /* a cached point: its ID (8 bytes), lat, lng and t (4 each) */

/* The cells' edges: -90 and -180 degrees, in the index's units, negated. */
#define LAT_EDGE 900000000LL
#define LNG_EDGE 1800000000LL

/* A cell-day's key: its day, lat (0..1800) and lng (0..3600) cells in 20,
 * 12 and 12 bits, under a bit that keeps every key above 0 (the object
 * cache's IDs are). */
#define KEY_BIT (1LL << 60)
static int64_t cell_key(int64_t la, int64_t ln, int64_t day)
{
    return KEY_BIT | day << 24 | la << 12 | ln;
}

static void key_cell(int64_t k, int64_t *la, int64_t *ln, int64_t *day)
{
    *day = (k & ~KEY_BIT) >> 24, *la = k >> 12 & 0xfff, *ln = k & 0xfff;
}

/* The key of the cell-day a point falls in (the index's units, t >= 0). */
static int64_t point_key(int64_t lat, int64_t lng, int64_t t)
{
    return cell_key((lat + LAT_EDGE) / CELL, (lng + LNG_EDGE) / CELL, t / DAY);
}

void api_geo_posted(cache_t *cache, double lat, double lng, int64_t created_at)
{
    int64_t t = geo_t_fixed(created_at);
    if (t >= 0)
        cache_del(cache, CACHE_GEOCELL, point_key(geo_fixed(lat), geo_fixed(lng), t));
}

typedef struct search {
    geo_hits_t *h;
    geo_fixed_box_t box[2];
    int nb;
    int64_t t0, t1;
} search_t;

/* Offers a point if the index's query for the search would return it. */
static void consider(search_t *s, const geo_point_t *p)
{
    if (p->t < s->t0 || p->t > s->t1)
        return;
    for (int b = 0; b < s->nb; b++) {
        const geo_fixed_box_t *x = &s->box[b];
        if (p->lat >= x->lat0 && p->lat <= x->lat1 && p->lng >= x->lng0 && p->lng <= x->lng1) {
            geo_hits_offer_point(s->h, p);
            return;
        }
    }
}

static void put_point(buf_t *b, const geo_point_t *p)
{
    int32_t v[3] = {(int32_t)p->lat, (int32_t)p->lng, (int32_t)p->t};
    buf_append(b, &p->id, sizeof(p->id));
    buf_append(b, v, sizeof(v));
}

/* Considers every point of a cached cell's value. */
static void consider_value(search_t *s, const char *v, size_t len)
{
    for (size_t at = 0; at + POINT_BYTES <= len; at += POINT_BYTES) {
        int64_t id;
        int32_t x[3];
        memcpy(&id, v + at, sizeof(id));
        memcpy(x, v + at + sizeof(id), sizeof(x));
        consider(s, &(geo_point_t){id, x[0], x[1], x[2]});
    }
}

/* The fill of the missing cells: each point of the index query goes to
 * its cell's entry, if that one is missing. */
typedef struct fill {
    const int64_t *keys;
    int n;
    buf_t *vals;
} fill_t;

static void fill_point(void *arg, const geo_point_t *p)
{
    fill_t *f = arg;
    if (p->t < 0)
        return;
    int64_t k = point_key(p->lat, p->lng, p->t);
    for (int i = 0; i < f->n; i++)
        if (f->keys[i] == k) {
            put_point(&f->vals[i], p);
            return;
        }
}

/* The missing cells from the index, cached, and the search's points among
 * them offered. 0; -1 if the index failed; 1 if a cell held more than a
 * value may (then nothing is offered). */
static int fill_missing(api_req_t *ar, search_t *s, const int64_t *miss, int nm)
{
    int64_t la0 = INT64_MAX, la1 = INT64_MIN, ln0 = INT64_MAX, ln1 = INT64_MIN, d0 = INT64_MAX, d1 = INT64_MIN;
    for (int i = 0; i < nm; i++) {
        int64_t d, la, ln;
        key_cell(miss[i], &la, &ln, &d);
        la0 = la < la0 ? la : la0, la1 = la > la1 ? la : la1;
        ln0 = ln < ln0 ? ln : ln0, ln1 = ln > ln1 ? ln : ln1;
        d0 = d < d0 ? d : d0, d1 = d > d1 ? d : d1;
    }
    geo_fixed_box_t b = {la0 * CELL - LAT_EDGE, (la1 + 1) * CELL - LAT_EDGE - 1, ln0 * CELL - LNG_EDGE,
                         (ln1 + 1) * CELL - LNG_EDGE - 1};
    buf_t *vals = xcalloc((size_t)nm, sizeof(buf_t));
    for (int i = 0; i < nm; i++)
        buf_init(&vals[i], 64u << 20);
    fill_t f = {miss, nm, vals};
    int rc = geo_media_points_all(ar->db, &b, d0 * DAY, (d1 + 1) * DAY - 1, fill_point, &f);
    for (int i = 0; rc == 0 && i < nm; i++)
        rc = vals[i].overflow ? 1 : 0;
    for (int i = 0; i < nm; i++) {
        if (rc == 0) {
            /* (an empty cell is cached too: a buffer never written has no data) */
            api_cache_set(ar, CACHE_GEOCELL, miss[i], vals[i].len ? vals[i].data : "", vals[i].len, CACHE_SHORT_TTL_MS);
            consider_value(s, vals[i].data, vals[i].len);
        }
        buf_free(&vals[i]);
    }
    free(vals);
    return rc;
}

int api_geo_media_near(api_req_t *ar, int64_t t0, int64_t t1, geo_hits_t *h)
{
    search_t s = {.h = h, .t0 = geo_t_fixed(t0), .t1 = geo_t_fixed(t1)};
    geo_box_t boxes[2];
    s.nb = geo_boxes(h->lat, h->lng, h->r, boxes);
    int64_t keys[CELLS_MAX];
    int nk = 0;
    bool direct = s.t0 < 0; /* (t1's day fits its 20 bits: t is 31 bits of seconds) */
    for (int b = 0; b < s.nb && !direct; b++) {
        s.box[b] = geo_box_fixed(&boxes[b]);
        int64_t la0 = (s.box[b].lat0 + LAT_EDGE) / CELL, la1 = (s.box[b].lat1 + LAT_EDGE) / CELL;
        int64_t ln0 = (s.box[b].lng0 + LNG_EDGE) / CELL, ln1 = (s.box[b].lng1 + LNG_EDGE) / CELL;
        for (int64_t la = la0; la <= la1 && !direct; la++)
            for (int64_t ln = ln0; ln <= ln1 && !direct; ln++)
                for (int64_t d = s.t0 / DAY; d <= s.t1 / DAY && !direct; d++) {
                    if (nk == CELLS_MAX)
                        direct = true;
                    else
                        keys[nk++] = cell_key(la, ln, d);
                }
    }
    if (direct || !api_cache_prefetch(ar, CACHE_GEOCELL, keys, nk))
        return geo_media_near_all(ar->db, t0, t1, h);
    int64_t miss[CELLS_MAX];
    int nm = 0;
    buf_t scratch;
    buf_init(&scratch, 64u << 20);
    for (int i = 0; i < nk; i++) {
        const char *v;
        size_t len;
        buf_reset(&scratch);
        if (api_cache_view(ar, CACHE_GEOCELL, keys[i], &scratch, &v, &len) && len % POINT_BYTES == 0)
            consider_value(&s, v, len);
        else
            miss[nm++] = keys[i];
    }
    buf_free(&scratch);
    int rc = nm > 0 ? fill_missing(ar, &s, miss, nm) : 0;
    if (rc > 0) { /* a cell too full to cache: the index alone */
        geo_hits_init(h, h->lat, h->lng, h->r);
        return geo_media_near_all(ar->db, t0, t1, h);
    }
    if (rc == 0)
        geo_hits_sort(h);
    return rc;
}
