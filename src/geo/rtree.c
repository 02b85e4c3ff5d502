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

#define SCALE 1e7
#define T_EPOCH 1293840000LL /* 2011-01-01, the ID epoch */

static int64_t fixed(double deg)
{
    return llround(deg * SCALE);
}

/* seconds since T_EPOCH, within the tree's 32 bits */
static int64_t t_fixed(int64_t unix_s)
{
    int64_t t = unix_s - T_EPOCH;
    return t < INT32_MIN ? INT32_MIN : t > INT32_MAX ? INT32_MAX : t;
}

static int put(db_conn_t *c, unsigned q, int64_t id, double lat, double lng, int64_t t)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, fixed(lat));
    db_bind_i64(s, 3, fixed(lng));
    if (q == Q_GEO_MEDIA_PUT)
        db_bind_i64(s, 4, t_fixed(t));
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

/* Runs the box query q over each box of h's circle (widened to whole
 * units); offers every row. */
static int near(db_conn_t *c, unsigned q, int64_t t0, int64_t t1, geo_hits_t *h)
{
    geo_box_t boxes[2];
    int nb = geo_boxes(h->lat, h->lng, h->r, boxes);
    for (int b = 0; b < nb; b++) {
        db_stmt_t *s = db_q(c, q);
        db_bind_i64(s, 1, (int64_t)floor(boxes[b].lat0 * SCALE));
        db_bind_i64(s, 2, (int64_t)ceil(boxes[b].lat1 * SCALE));
        db_bind_i64(s, 3, (int64_t)floor(boxes[b].lng0 * SCALE));
        db_bind_i64(s, 4, (int64_t)ceil(boxes[b].lng1 * SCALE));
        if (q == Q_GEO_MEDIA_BOX) {
            db_bind_i64(s, 5, t_fixed(t0));
            db_bind_i64(s, 6, t_fixed(t1));
        }
        int rc;
        while ((rc = db_step(s)) == DB_ROW)
            geo_hits_offer(h, db_col_i64(s, 0), (double)db_col_i64(s, 1) / SCALE, (double)db_col_i64(s, 2) / SCALE);
        db_reset(s);
        if (rc != DB_DONE)
            return -1;
    }
    return 0;
}

static int media_near(db_conn_t *c, int64_t t0, int64_t t1, geo_hits_t *h)
{
    return near(c, Q_GEO_MEDIA_BOX, t0, t1, h);
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
    .place_put = place_put,
    .place_near = place_near,
};
