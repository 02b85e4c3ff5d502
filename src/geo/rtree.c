/*
 * The geo index's embedded backend: SQLite R*Tree tables (made by schema
 * migration 6). The tree holds 32-bit float boxes rounded outwards, so a
 * box query finds a superset; the exact coordinates and time sit beside
 * them as auxiliary columns and decide. Time is in days in the tree: on
 * the scale of the places, the tree splits on where as well as when
 * (measured on the small dataset: a 3 km, 7-day search took about 30%
 * less time than with seconds).
 */
#include "geo/geo.h"

static int put(db_conn_t *c, unsigned q, int64_t id, double lat, double lng, int64_t t)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, id);
    db_bind_double(s, 2, lat);
    db_bind_double(s, 3, lng);
    if (q == Q_GEO_MEDIA_PUT)
        db_bind_i64(s, 4, t);
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

/* Runs the box query q over each box of h's circle; offers every row. */
static int near(db_conn_t *c, unsigned q, int64_t t0, int64_t t1, geo_hits_t *h)
{
    geo_box_t boxes[2];
    int nb = geo_boxes(h->lat, h->lng, h->r, boxes);
    for (int b = 0; b < nb; b++) {
        db_stmt_t *s = db_q(c, q);
        db_bind_double(s, 1, boxes[b].lat0);
        db_bind_double(s, 2, boxes[b].lat1);
        db_bind_double(s, 3, boxes[b].lng0);
        db_bind_double(s, 4, boxes[b].lng1);
        if (q == Q_GEO_MEDIA_BOX) {
            db_bind_i64(s, 5, t0);
            db_bind_i64(s, 6, t1);
        }
        int rc;
        while ((rc = db_step(s)) == DB_ROW)
            geo_hits_offer(h, db_col_i64(s, 0), db_col_double(s, 1), db_col_double(s, 2));
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
