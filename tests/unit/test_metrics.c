/* The request counters and their Prometheus text (obs/metrics.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "obs/metrics.h"

static const char *const routes[] = {"/v1/media/{id}", "/v1/a\"b\\c"};

static char *render(metrics_t *m)
{
    static buf_t b;
    buf_free(&b);
    buf_init(&b, 1 << 20);
    metrics_render(m, &b);
    buf_putc(&b, '\0');
    return b.data;
}

static void test_counts_sum_over_slots(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(3, routes, 2);
    metrics_request(m, 0, 0, "GET", 3, 200, 100);
    metrics_request(m, 1, 0, "GET", 3, 200, 100);
    metrics_request(m, 2, 0, "GET", 3, 404, 100);
    char *t = render(m);
    assert_non_null(
        strstr(t, "picogram_http_requests_total{route=\"/v1/media/{id}\",method=\"GET\",code=\"200\"} 2\n"));
    assert_non_null(
        strstr(t, "picogram_http_requests_total{route=\"/v1/media/{id}\",method=\"GET\",code=\"404\"} 1\n"));
    /* nothing for a series never seen */
    assert_null(strstr(t, "code=\"500\""));
    assert_null(strstr(t, "method=\"POST\""));
    metrics_free(m);
}

static void test_rare_methods_codes_and_bad_indexes(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(1, routes, 2);
    metrics_request(m, 0, 0, "PATCH", 5, 418, 10);
    metrics_request(m, 0, 0, "GE", 2, 999, 10);
    metrics_request(m, 0, 2, "GET", 3, 200, 10); /* no such route: ignored */
    metrics_request(m, 1, 0, "GET", 3, 200, 10); /* no such slot: ignored */
    char *t = render(m);
    assert_non_null(strstr(t, "{route=\"/v1/media/{id}\",method=\"other\",code=\"other\"} 2\n"));
    assert_null(strstr(t, "code=\"200\""));
    metrics_free(m);
}

static void test_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(2, routes, 2);
    metrics_request(m, 0, 0, "POST", 4, 200, 500);      /* on a bound: in it */
    metrics_request(m, 1, 0, "POST", 4, 200, 501);      /* just over: the next */
    metrics_request(m, 0, 0, "POST", 4, 500, 20000000); /* over the last: +Inf only */
    char *t = render(m);
    const char *p = "picogram_http_request_duration_seconds_";
    char want[256];
    static const struct {
        const char *le;
        int n;
    } rows[] = {{"0.0005", 1}, {"0.001", 2}, {"10", 2}, {"+Inf", 3}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(want, sizeof(want), "%sbucket{route=\"/v1/media/{id}\",method=\"POST\",le=\"%s\"} %d\n", p, rows[i].le,
                 rows[i].n);
        assert_non_null(strstr(t, want));
    }
    snprintf(want, sizeof(want), "%ssum{route=\"/v1/media/{id}\",method=\"POST\"} 20.001001\n", p);
    assert_non_null(strstr(t, want));
    snprintf(want, sizeof(want), "%scount{route=\"/v1/media/{id}\",method=\"POST\"} 3\n", p);
    assert_non_null(strstr(t, want));
    metrics_free(m);
}

static void test_labels_escaped_in_flight_refused(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(2, routes, 2);
    metrics_request(m, 0, 1, "GET", 3, 200, 1);
    metrics_begin(m, 0);
    metrics_begin(m, 1);
    metrics_begin(m, 1);
    metrics_end(m, 1);
    metrics_refused(m);
    char *t = render(m);
    assert_non_null(strstr(t, "route=\"/v1/a\\\"b\\\\c\""));
    assert_non_null(strstr(t, "\npicogram_http_requests_in_flight 2\n"));
    assert_non_null(strstr(t, "\npicogram_ratelimit_refusals_total 1\n"));
    assert_non_null(strstr(t, "# TYPE picogram_http_request_duration_seconds histogram\n"));
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_sum_over_slots),
        cmocka_unit_test(test_rare_methods_codes_and_bad_indexes),
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_labels_escaped_in_flight_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
