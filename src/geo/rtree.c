/*
 * The geo index's embedded backend: SQLite R*Tree tables (made by schema
 * migration 6), of 32-bit integers: degrees x 10^7 (about a centimetre)
 * and, for media, seconds since 2011-01-01. A point is stored exactly, as
 * its own box, so a search reads nothing beside the tree: measured, reading
 * exact values from auxiliary columns instead cost 2.5 us per hit, most of
 * a search's time.
 *
 * The searches bound each point's one coordinate from both sides (lat0
 * between lo and hi, not lat1 >= lo and lat0 <= hi: the same for points).
 * The R*Tree prunes on either form; PostgreSQL's B-tree on (lat0, lng0),
 * the cluster's, reads one band of latitude with the first and the whole
 * table with the second (bench/geo.sh: 0.39 ms a search against 269 ms,
 * a million points).
 */
#include "geo/geo.h"

#include <math.h>

#define T_EPOCH 1293840000LL /* 2011-01-01, the ID epoch */

int64_t geo_fixed(double deg)
{
    return llround(deg * GEO_SCALE);
}

/* seconds since T_EPOCH, within the tree's 32 bits */
int64_t geo_t_fixed(int64_t unix_s)
{
    int64_t t = unix_s - T_EPOCH;
    return t < INT32_MIN ? INT32_MIN : t > INT32_MAX ? INT32_MAX : t;
}

geo_fixed_box_t geo_box_fixed(const geo_box_t *b)
{
    return (geo_fixed_box_t){(int64_t)floor(b->lat0 * GEO_SCALE), (int64_t)ceil(b->lat1 * GEO_SCALE),
                             (int64_t)floor(b->lng0 * GEO_SCALE), (int64_t)ceil(b->lng1 * GEO_SCALE)};
}

static int put(db_conn_t *c, unsigned q, int64_t id, double lat, double lng, int64_t t)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, geo_fixed(lat));
    db_bind_i64(s, 3, geo_fixed(lng));
    if (q == Q_GEO_MEDIA_PUT)
        db_bind_i64(s, 4, geo_t_fixed(t));
    return db_exec_stmt(s) == DB_DONE ? DB_DONE : DB_ERROR;
}

static int media_put(db_conn_t *c, int64_t id, double lat, double lng, int64_t t)
{
    return put(c, Q_GEO_MEDIA_PUT, id, lat, lng, t);
}

static int place_put(db_conn_t *c, int64_t id, double lat, double lng)
{
    return put(c, Q_GEO_PLACE_PUT, id, lat, lng, 0);
}

static int media_del(db_conn_t *c, int64_t id)
{
    db_stmt_t *s = db_q(c, Q_GEO_MEDIA_DEL);
    db_bind_i64(s, 1, id);
    return db_exec_stmt(s) == DB_DONE ? DB_DONE : DB_ERROR;
}

/* Runs the box query q over b (and, for media, [t0, t1]), each row to fn. */
static int box_rows(db_conn_t *c, unsigned q, const geo_fixed_box_t *b, int64_t t0, int64_t t1, geo_point_fn fn,
                    void *arg)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, b->lat0);
    db_bind_i64(s, 2, b->lat1);
    db_bind_i64(s, 3, b->lng0);
    db_bind_i64(s, 4, b->lng1);
    if (q == Q_GEO_MEDIA_BOX) {
        db_bind_i64(s, 5, t0);
        db_bind_i64(s, 6, t1);
    }
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        geo_point_t p = {db_col_i64(s, 0), db_col_i64(s, 1), db_col_i64(s, 2),
                         q == Q_GEO_MEDIA_BOX ? db_col_i64(s, 3) : 0};
        fn(arg, &p);
    }
    db_reset(s);
    return rc == DB_DONE ? 0 : -1;
}

static void offer(void *arg, const geo_point_t *p)
{
    geo_hits_offer_point(arg, p);
}

/* Runs the box query q over each box of h's circle (widened to whole
 * units); offers every row. */
static int near(db_conn_t *c, unsigned q, int64_t t0, int64_t t1, geo_hits_t *h)
{
    geo_box_t boxes[2];
    int nb = geo_boxes(h->lat, h->lng, h->r, boxes);
    for (int b = 0; b < nb; b++) {
        geo_fixed_box_t fb = geo_box_fixed(&boxes[b]);
        if (box_rows(c, q, &fb, geo_t_fixed(t0), geo_t_fixed(t1), offer, h) != 0)
            return -1;
    }
    return 0;
}

static int media_near(db_conn_t *c, int64_t t0, int64_t t1, geo_hits_t *h)
{
    return near(c, Q_GEO_MEDIA_BOX, t0, t1, h);
}

static int media_points(db_conn_t *c, const geo_fixed_box_t *b, int64_t t0, int64_t t1, geo_point_fn fn, void *arg)
{
    return box_rows(c, Q_GEO_MEDIA_BOX, b, t0, t1, fn, arg);
}

static int place_near(db_conn_t *c, geo_hits_t *h)
{
    return near(c, Q_GEO_PLACE_BOX, 0, 0, h);
}

const geo_backend_t geo_backend_sqlite = {
    .name = "sqlite",
    .media_put = media_put,
    .media_del = media_del,
    .media_near = media_near,
    .media_points = media_points,
    .place_put = place_put,
    .place_near = place_near,
};
