/* The geo index: calls go to the backend in use. */
#include "geo/geo.h"

#include <string.h>

static const geo_backend_t *be = &geo_backend_sqlite;

int geo_init(const char *backend)
{
    if (strcmp(backend, geo_backend_sqlite.name) == 0) {
        be = &geo_backend_sqlite;
        return 0;
    }
    return -1;
}

int geo_media_put(db_conn_t *c, int64_t id, double lat, double lng, int64_t t)
{
    return be->media_put(c, id, lat, lng, t);
}

int geo_media_del(db_conn_t *c, int64_t id)
{
    return be->media_del(c, id);
}

int geo_media_near(db_conn_t *c, int64_t t0, int64_t t1, geo_hits_t *h)
{
    int rc = be->media_near(c, t0, t1, h);
    geo_hits_sort(h);
    return rc;
}

/* Each database indexes the points of its own shards: a search asks each
 * and keeps the nearest of all. */
int geo_media_near_all(db_ctx_t *db, int64_t t0, int64_t t1, geo_hits_t *h)
{
    for (size_t i = 0; i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL || be->media_near(c, t0, t1, h) != 0)
            return -1;
    }
    geo_hits_sort(h);
    return 0;
}

int geo_media_points_all(db_ctx_t *db, const geo_fixed_box_t *b, int64_t t0, int64_t t1, geo_point_fn fn, void *arg)
{
    for (size_t i = 0; i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL || be->media_points(c, b, t0, t1, fn, arg) != 0)
            return -1;
    }
    return 0;
}

int geo_place_near_all(db_ctx_t *db, geo_hits_t *h)
{
    for (size_t i = 0; i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL || be->place_near(c, h) != 0)
            return -1;
    }
    geo_hits_sort(h);
    return 0;
}

int geo_place_put(db_conn_t *c, int64_t id, double lat, double lng)
{
    return be->place_put(c, id, lat, lng);
}

int geo_place_near(db_conn_t *c, geo_hits_t *h)
{
    int rc = be->place_near(c, h);
    geo_hits_sort(h);
    return rc;
}
