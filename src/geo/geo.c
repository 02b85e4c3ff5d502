#include "geo/geo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEG (M_PI / 180.0)

double geo_distance(double lat1, double lng1, double lat2, double lng2)
{
    double dlat = (lat2 - lat1) * DEG, dlng = (lng2 - lng1) * DEG;
    double a = sin(dlat / 2) * sin(dlat / 2) + cos(lat1 * DEG) * cos(lat2 * DEG) * sin(dlng / 2) * sin(dlng / 2);
    if (a > 1)
        a = 1;
    return 2 * GEO_EARTH_RADIUS_M * asin(sqrt(a));
}

int geo_boxes(double lat, double lng, double r, geo_box_t out[2])
{
    const double pad = 1e-6; /* degrees, about 10 cm: rounding never loses a point on the edge */
    double ang = r / GEO_EARTH_RADIUS_M;
    double dlat = ang / DEG;
    double lat0 = lat - dlat - pad, lat1 = lat + dlat + pad;
    if (lat0 <= -90 || lat1 >= 90 || ang >= M_PI / 2) {
        /* the circle reaches a pole: every longitude */
        out[0] = (geo_box_t){lat0 < -90 ? -90 : lat0, lat1 > 90 ? 90 : lat1, -180, 180};
        return 1;
    }
    /* the widest longitude span of a spherical cap not holding a pole */
    double s = sin(ang) / cos(lat * DEG);
    double dlng = s >= 1 ? 180 : asin(s) / DEG + pad;
    if (dlng >= 180) {
        out[0] = (geo_box_t){lat0, lat1, -180, 180};
        return 1;
    }
    double lng0 = lng - dlng, lng1 = lng + dlng;
    if (lng0 < -180) {
        out[0] = (geo_box_t){lat0, lat1, lng0 + 360, 180};
        out[1] = (geo_box_t){lat0, lat1, -180, lng1};
        return 2;
    }
    if (lng1 > 180) {
        out[0] = (geo_box_t){lat0, lat1, lng0, 180};
        out[1] = (geo_box_t){lat0, lat1, -180, lng1 - 360};
        return 2;
    }
    out[0] = (geo_box_t){lat0, lat1, lng0, lng1};
    return 1;
}

void geo_hits_init(geo_hits_t *h, double lat, double lng, double r)
{
    h->n = 0;
    h->lat = lat;
    h->lng = lng;
    h->r = r;
}

/* a is a worse hit than b: farther, or as far and older */
static bool worse(const geo_hit_t *a, const geo_hit_t *b)
{
    return a->dist > b->dist || (a->dist == b->dist && a->id < b->id);
}

/* h->v is a heap with the worst kept hit at the root */
static void sift_down(geo_hits_t *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < h->n && worse(&h->v[l], &h->v[w]))
            w = l;
        if (r < h->n && worse(&h->v[r], &h->v[w]))
            w = r;
        if (w == i)
            return;
        geo_hit_t t = h->v[i];
        h->v[i] = h->v[w];
        h->v[w] = t;
        i = w;
    }
}

void geo_hits_offer(geo_hits_t *h, int64_t id, double lat, double lng)
{
    /* to the 0.1 m the API shows, so hits shown as equally far are ordered newest first */
    geo_hit_t x = {id, round(geo_distance(h->lat, h->lng, lat, lng) * 10) / 10};
    if (!(x.dist <= h->r))
        return;
    if (h->n < GEO_MAX_HITS) {
        size_t i = h->n++;
        h->v[i] = x;
        while (i > 0 && worse(&h->v[i], &h->v[(i - 1) / 2])) {
            geo_hit_t t = h->v[i];
            h->v[i] = h->v[(i - 1) / 2];
            h->v[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
        return;
    }
    if (!worse(&x, &h->v[0])) {
        h->v[0] = x;
        sift_down(h, 0);
    }
}

void geo_hits_offer_point(geo_hits_t *h, const geo_point_t *p)
{
    geo_hits_offer(h, p->id, (double)p->lat / GEO_SCALE, (double)p->lng / GEO_SCALE);
}

static int cmp_hits(const void *a, const void *b)
{
    const geo_hit_t *x = a, *y = b;
    return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

void geo_hits_sort(geo_hits_t *h)
{
    qsort(h->v, h->n, sizeof(h->v[0]), cmp_hits);
}
