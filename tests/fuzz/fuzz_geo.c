/* Fuzzes the geo search parameters (lat, lng, distance as three lines):
 * accepted values are in range, and the boxes a search scans are well
 * formed and hold the centre and the points at the circle's edge. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "geo/geo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool in_boxes(const geo_box_t *b, int n, double lat, double lng)
{
    for (int i = 0; i < n; i++)
        if (lat >= b[i].lat0 && lat <= b[i].lat1 && lng >= b[i].lng0 && lng <= b[i].lng1)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        return 0;
    char buf[257];
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (strlen(buf) != size)
        return 0;
    char *f[3] = {NULL, NULL, NULL}, *p = buf;
    for (int i = 0; i < 3 && p; i++) {
        f[i] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    double lat, lng, d;
    if (validate_geo_query(f[0], f[1], f[2], &lat, &lng, &d) != NULL)
        return 0;
    if (!(lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180 && d >= 0 && d <= GEO_DISTANCE_MAX))
        abort();
    geo_box_t b[2];
    int n = geo_boxes(lat, lng, d, b);
    if (n < 1 || n > 2)
        abort();
    for (int i = 0; i < n; i++)
        if (!(b[i].lat0 <= b[i].lat1 && b[i].lng0 <= b[i].lng1 && b[i].lat0 >= -90 && b[i].lat1 <= 90 &&
              b[i].lng0 >= -180 && b[i].lng1 <= 180))
            abort();
    if (!in_boxes(b, n, lat, lng))
        abort();
    /* points just inside the circle, in eight directions */
    for (int k = 0; k < 8; k++) {
        double brg = k * M_PI / 4, ang = d * 0.999 / GEO_EARTH_RADIUS_M, la = lat * M_PI / 180, lo = lng * M_PI / 180;
        double plat = asin(sin(la) * cos(ang) + cos(la) * sin(ang) * cos(brg));
        double plng = lo + atan2(sin(brg) * sin(ang) * cos(la), cos(ang) - sin(la) * sin(plat));
        plat *= 180 / M_PI;
        plng = fmod(plng * 180 / M_PI + 540, 360) - 180;
        if (geo_distance(lat, lng, plat, plng) <= d && !in_boxes(b, n, plat, plng))
            abort();
    }
    return 0;
}
