/*
 * ready: what GET /readyz checks. A server is ready when every backend it
 * cannot serve without answers now: each physical database (SELECT 1),
 * the photo store (file: a file can be written in its directory; s3: the
 * bucket answers HEAD), and Redis when one is configured (PING; the feed
 * store's too, if it is another). memcached and gearmand are not among
 * them: picogram serves through their loss by design (a cache miss; the
 * outbox sweep), and /metrics shows them.
 *
 * ready_check blocks (network round trips, each bounded by its client's
 * timeout): call it on a worker thread, never on an event loop.
 */
#ifndef PICOGRAM_READY_H
#define PICOGRAM_READY_H

#include "blob/blob.h"
#include "config.h"
#include "core/buf.h"
#include "db/db.h"

typedef struct ready ready_t;

/* NULL with err if a Redis URL is bad. photos is the server's (not owned). */
ready_t *ready_new(const config_t *cfg, blob_store_t *photos, char *err, size_t errlen);
/* After every thread that called ready_check has ended. */
void ready_free(ready_t *r);
/* Checks every backend with db (released after), and writes the answer's
 * JSON into out: {"meta":...,"data":{"status":"ready"|"unready",
 * "backends":{"database_0":"ok","redis":"down: ..."}}}. Returns the HTTP
 * status: 200, or 503 when one is down (its error_message names them). */
int ready_check(ready_t *r, db_ctx_t *db, buf_t *out);

#endif
