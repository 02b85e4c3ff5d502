/*
 * geo: great-circle geometry and the geo index interface.
 *
 * DESIGN
 * The index holds points: media (a place's coordinates and the post's
 * time) and places. A search is a circle of r metres on a sphere of the
 * Earth's mean radius (great-circle distance by haversine), plus for media
 * a time window. The backend answers with the boxes that hold the circle
 * (one, or two across the antimeridian; every longitude near a pole) and
 * this module keeps the exact hits: the GEO_MAX_HITS nearest, nearest
 * first, ties newest (highest ID) first.
 *
 * Backends are const vtables: `sqlite` (R*Tree tables geo_media and
 * geo_places, in the embedded database) now; Redis GEO or PostGIS in the
 * cluster later. Writes run inside the caller's transaction on c, so a post
 * and its index entry commit together.
 */
#ifndef PICOGRAM_GEO_H
#define PICOGRAM_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#define GEO_EARTH_RADIUS_M 6371000.0
#define GEO_MAX_HITS 1000 /* nearest kept per search; pages hide some for privacy */

/* Great-circle distance in metres (haversine). */
double geo_distance(double lat1, double lng1, double lat2, double lng2);

typedef struct geo_box {
    double lat0, lat1, lng0, lng1;
} geo_box_t;
/* The boxes (in degrees) that together hold every point within r metres of
 * (lat, lng): 1, or 2 when the circle crosses the antimeridian. */
int geo_boxes(double lat, double lng, double r, geo_box_t out[2]);

typedef struct geo_hit {
    int64_t id;
    double dist; /* metres, to 0.1 m */
} geo_hit_t;

/* The nearest hits of a search, at most GEO_MAX_HITS. */
typedef struct geo_hits {
    geo_hit_t v[GEO_MAX_HITS];
    size_t n;
    double lat, lng, r;
} geo_hits_t;
/* Starts a search around (lat, lng) within r metres. */
void geo_hits_init(geo_hits_t *h, double lat, double lng, double r);
/* Offers a point found in a box; kept if inside the circle and among the nearest. */
void geo_hits_offer(geo_hits_t *h, int64_t id, double lat, double lng);
/* Sorts the kept hits nearest first, ties highest ID first. */
void geo_hits_sort(geo_hits_t *h);

/* The index's units: degrees x 10^7 (about a centimetre), and seconds
 * since 2011-01-01 within 32 bits. */
#define GEO_SCALE 1e7
int64_t geo_fixed(double deg);
int64_t geo_t_fixed(int64_t unix_s);
/* A box in those units, as a search asks the index: [lat0, lat1] x
 * [lng0, lng1], the degrees widened to whole units. */
typedef struct geo_fixed_box {
    int64_t lat0, lat1, lng0, lng1;
} geo_fixed_box_t;
geo_fixed_box_t geo_box_fixed(const geo_box_t *b);

/* A point of the media index, in its units. */
typedef struct geo_point {
    int64_t id, lat, lng, t;
} geo_point_t;
typedef void (*geo_point_fn)(void *arg, const geo_point_t *p);
/* geo_hits_offer for a point in the index's units. */
void geo_hits_offer_point(geo_hits_t *h, const geo_point_t *p);

typedef struct geo_backend {
    const char *name;
    int (*media_put)(db_conn_t *c, int64_t id, double lat, double lng, int64_t t);
    int (*media_del)(db_conn_t *c, int64_t id);
    /* media posted in [t0, t1] (unix seconds) within h's circle into h */
    int (*media_near)(db_conn_t *c, int64_t t0, int64_t t1, geo_hits_t *h);
    /* every media point in box b posted in [t0, t1] (the index's units) to fn */
    int (*media_points)(db_conn_t *c, const geo_fixed_box_t *b, int64_t t0, int64_t t1, geo_point_fn fn, void *arg);
    int (*place_put)(db_conn_t *c, int64_t id, double lat, double lng);
    int (*place_near)(db_conn_t *c, geo_hits_t *h);
} geo_backend_t;

extern const geo_backend_t geo_backend_sqlite;

/* The backend in use; every function below goes through it. 0 or -1. */
int geo_init(const char *backend);

/* Writes return DB_DONE or DB_ERROR; searches 0 or -1 (sorted on success). */
int geo_media_put(db_conn_t *c, int64_t id, double lat, double lng, int64_t t);
int geo_media_del(db_conn_t *c, int64_t id);
int geo_media_near(db_conn_t *c, int64_t t0, int64_t t1, geo_hits_t *h);
int geo_place_put(db_conn_t *c, int64_t id, double lat, double lng);
int geo_place_near(db_conn_t *c, geo_hits_t *h);
/* The same searches over every database of db (each holds its own shards' points). */
int geo_media_near_all(db_ctx_t *db, int64_t t0, int64_t t1, geo_hits_t *h);
/* Every media point in b posted in [t0, t1] (the index's units), from every database. */
int geo_media_points_all(db_ctx_t *db, const geo_fixed_box_t *b, int64_t t0, int64_t t1, geo_point_fn fn, void *arg);
int geo_place_near_all(db_ctx_t *db, geo_hits_t *h);

#endif
