/*
 * metrics: what a serving process counts about its requests, rendered in
 * Prometheus's text exposition format (0.0.4) for GET /metrics.
 *
 * DESIGN
 *  - Series are fixed at start: one per route (its pattern and method,
 *    never a path with an ID in it, so no per-user label), times the
 *    request methods below, times the status codes below. A few routes
 *    stand for what is not the API (photo files, the web client, /healthz,
 *    API paths that match no route): the caller names them.
 *  - Each loop thread has a slot of its own: a request is counted by the
 *    thread that answers it, with relaxed atomic adds on lines no other
 *    thread writes, so counting costs no lock and no shared cache line.
 *    A scrape sums the slots; it may see a request's count and not yet its
 *    latency, never a torn number.
 *  - Latency is a histogram per route and method (seconds, the buckets
 *    below), from the request's start (h2o read its head) to its answer.
 *  - What other modules own (queue depths, the cache's counts) they render
 *    themselves at scrape time with metrics_family and metrics_line; the
 *    process's own gauges (memory, files, CPU) are metrics_process's.
 */
#ifndef PICOGRAM_METRICS_H
#define PICOGRAM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

typedef struct metrics metrics_t;

/* nslots writers (loop threads), and the routes' labels ("/v1/media/{id}";
 * the array is copied, the strings are not: they must outlive m). */
metrics_t *metrics_new(int nslots, const char *const *routes, size_t nroutes);
void metrics_free(metrics_t *m);

/* A request that slot began (in flight until metrics_end). */
void metrics_begin(metrics_t *m, int slot);
void metrics_end(metrics_t *m, int slot);
/* An answered request: its route (an index of metrics_new's), its method
 * as the client sent it, its status and how long it took. */
void metrics_request(metrics_t *m, int slot, size_t route, const char *method, size_t mlen, int status,
                     uint64_t micros);
/* A request refused by the rate limit. Any thread. */
void metrics_refused(metrics_t *m);

/* Appends every series of m to out: the requests, their latency, those in
 * flight, refusals. */
void metrics_render(metrics_t *m, buf_t *out);
/* Appends the process's gauges: resident and virtual memory, open and
 * most file descriptors, CPU seconds, start time. */
void metrics_process(buf_t *out);

/* For other modules: a family's HELP and TYPE lines, then its samples.
 * labels is "" or `name="value",...` (values escaped by the caller with
 * metrics_label_value if they are not constant). */
void metrics_family(buf_t *out, const char *name, const char *type, const char *help);
void metrics_line(buf_t *out, const char *name, const char *labels, double value);
void metrics_line_u64(buf_t *out, const char *name, const char *labels, uint64_t value);
/* Appends s as a label value: \, " and newline escaped. */
void metrics_label_value(buf_t *out, const char *s);

#endif
