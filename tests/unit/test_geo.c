/* Great-circle distances, the boxes a search scans (antimeridian, poles),
 * nearest-first selection, and the geo search parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/validate.h"
#include "geo/geo.h"

static void test_distance(void **state)
{
    (void)state;
    /* reference values computed independently (haversine, R = 6371000 m) */
    assert_true(fabs(geo_distance(48.8566, 2.3522, 51.5074, -0.1278) - 343556.06) < 0.5); /* Paris, London */
    assert_true(fabs(geo_distance(0, 179.9995, 0, -179.9995) - 111.195) < 0.01);           /* antimeridian */
    assert_true(fabs(geo_distance(89.999, 0, 89.999, 180) - 222.390) < 0.01);              /* over the pole */
    assert_true(geo_distance(10, 20, 10, 20) == 0);
    assert_true(fabs(geo_distance(0, 0, 0, 180) - M_PI * GEO_EARTH_RADIUS_M) < 1); /* antipodes */
}

static bool in_boxes(const geo_box_t *b, int n, double lat, double lng)
{
    for (int i = 0; i < n; i++)
        if (lat >= b[i].lat0 && lat <= b[i].lat1 && lng >= b[i].lng0 && lng <= b[i].lng1)
            return true;
    return false;
}

static void test_boxes(void **state)
{
    (void)state;
    geo_box_t b[2];
    int n = geo_boxes(0, 0, 1000, b);
    assert_int_equal(n, 1);
    assert_true(b[0].lat1 - b[0].lat0 < 0.02 && b[0].lng1 - b[0].lng0 < 0.02);
    n = geo_boxes(0, 179.9995, 1000, b); /* across the antimeridian: two boxes */
    assert_int_equal(n, 2);
    assert_true(in_boxes(b, n, 0, -179.9995));
    n = geo_boxes(-0.5, -179.999, 5000, b);
    assert_int_equal(n, 2);
    assert_true(in_boxes(b, n, -0.5, 179.99));
    n = geo_boxes(89.999, 90, 500, b); /* holds the pole: every longitude */
    assert_int_equal(n, 1);
    assert_true(b[0].lng0 == -180 && b[0].lng1 == 180 && b[0].lat1 == 90);
    n = geo_boxes(-89.9999, 0, 100, b);
    assert_true(n == 1 && b[0].lat0 == -90 && b[0].lng0 == -180);

    /* property: every point within r of the centre lies in a box */
    srand(7);
    for (int t = 0; t < 20000; t++) {
        double lat = (rand() / (double)RAND_MAX) * 180 - 90, lng = (rand() / (double)RAND_MAX) * 360 - 180;
        if (t % 4 == 0)
            lat = 89.9 + (rand() / (double)RAND_MAX) * 0.1 * (t % 8 ? 1 : -1) * (t % 8 ? 1 : 1);
        if (t % 4 == 1)
            lng = 179.95 * (t % 8 == 1 ? 1 : -1);
        double r = (rand() / (double)RAND_MAX) * 5000;
        n = geo_boxes(lat, lng, r, b);
        for (int k = 0; k < 20; k++) {
            double plat = lat + ((rand() / (double)RAND_MAX) - 0.5) * 0.2;
            double plng = lng + ((rand() / (double)RAND_MAX) - 0.5) * (fabs(lat) > 89 ? 360 : 0.2);
            if (plat > 90 || plat < -90)
                continue;
            if (plng > 180)
                plng -= 360;
            if (plng < -180)
                plng += 360;
            if (geo_distance(lat, lng, plat, plng) <= r)
                assert_true(in_boxes(b, n, plat, plng));
        }
    }
}

static void test_hits(void **state)
{
    (void)state;
    geo_hits_t *h = malloc(sizeof(*h));
    geo_hits_init(h, 0, 0, 2000);
    geo_hits_offer(h, 10, 0, 0.01);  /* ~1112 m */
    geo_hits_offer(h, 11, 0, -0.01); /* as far, newer */
    geo_hits_offer(h, 12, 0, 0.001); /* ~111 m */
    geo_hits_offer(h, 13, 0, 0.1);   /* outside */
    geo_hits_sort(h);
    assert_int_equal(h->n, 3);
    assert_int_equal(h->v[0].id, 12);
    assert_int_equal(h->v[1].id, 11); /* a tie goes to the newest */
    assert_int_equal(h->v[2].id, 10);

    /* more than GEO_MAX_HITS: the nearest are kept */
    geo_hits_init(h, 0, 0, 5000);
    for (int i = 0; i < 3 * GEO_MAX_HITS; i++) {
        int k = (i * 7919) % (3 * GEO_MAX_HITS); /* offered in a scrambled order */
        geo_hits_offer(h, k + 1, 0, k * 0.00001);
    }
    geo_hits_sort(h);
    assert_int_equal(h->n, GEO_MAX_HITS);
    for (size_t i = 0; i < h->n; i++)
        assert_int_equal(h->v[i].id, (int64_t)i + 1);
    free(h);
}

static void test_query_params(void **state)
{
    (void)state;
    double lat, lng, d;
    assert_null(validate_geo_query("48.85", "2.29", NULL, &lat, &lng, &d));
    assert_true(lat == 48.85 && lng == 2.29 && d == GEO_DISTANCE_DEFAULT);
    assert_null(validate_geo_query("-90", "180", "5000", &lat, &lng, &d));
    assert_true(d == 5000);
    assert_null(validate_geo_query("0", "0", "", &lat, &lng, &d)); /* empty: the default */
    assert_true(d == GEO_DISTANCE_DEFAULT);
    assert_null(validate_geo_query("1e1", "-0.5", "0", &lat, &lng, &d));
    const char *bad[][3] = {
        {"90.0001", "0", "1"}, {"0", "180.5", "1"}, {"0", "0", "-1"},   {"0", "0", "5000.1"},
        {"0", "0", "abc"},     {"x", "0", "1"},     {NULL, "0", "1"},   {"0", NULL, "1"},
        {"", "0", "1"},        {"nan", "0", "1"},   {"0", "inf", "1"},  {"0x10", "0", "1"},
        {" 1", "0", "1"},      {"1 ", "0", "1"},    {"0", "0", "1e10"}, {"--1", "0", "1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_non_null(validate_geo_query(bad[i][0], bad[i][1], bad[i][2], &lat, &lng, &d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_boxes),
        cmocka_unit_test(test_hits),
        cmocka_unit_test(test_query_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
