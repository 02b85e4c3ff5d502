/*
 * scrape: a listener of its own for GET /metrics (metrics_listen), apart
 * from the API's, so that an operator can keep it on a private address
 * and it is never public by accident.
 *
 * One thread runs an h2o event loop of its own: a scrape never waits
 * behind API requests, and a slow scraper never holds up a loop. Each
 * GET /metrics (or HEAD) calls render() on that thread for the body, in
 * Prometheus's text format; any other path is a 404, any other method a
 * 405.
 */
#ifndef PICOGRAM_SCRAPE_H
#define PICOGRAM_SCRAPE_H

#include <stddef.h>

#include "core/buf.h"

typedef struct scrape scrape_t;
typedef void (*scrape_render_fn)(buf_t *out, void *arg);

/* Listens on host:port (0: a free port) and serves. NULL with err on failure. */
scrape_t *scrape_start(const char *host, int port, scrape_render_fn render, void *arg, char *err, size_t errlen);
/* The port it listens on. */
int scrape_port(const scrape_t *s);
/* Stops accepting and joins its thread. Its h2o context is not disposed
 * (h2o 2.2 asserts on a just-closed connection's timers): the caller keeps
 * s reachable until the process exits, as the server keeps its loops. */
void scrape_stop(scrape_t *s);

#endif
