/*
 * What every Redis user in picogram shares: the URL, the cluster's
 * namespace in keys, and a client for request-path calls.
 *
 * DESIGN
 * The bus and the rate-limit syncer each own one connection on their own
 * thread. Work that runs on many threads (the feeds store, from request
 * workers and job runners) uses a redis_link_t: one connection per thread,
 * made on first use with short timeouts (REDIS_LINK_TIMEOUT_MS for connect
 * and each reply). After a failure the link is down for REDIS_LINK_RETRY_MS:
 * every thread fails at once, with no connect, until one may try again. So
 * a dead or stopped Redis costs a caller at most one timeout, then nothing.
 */
#ifndef PICOGRAM_CACHE_REDIS_H
#define PICOGRAM_CACHE_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "cache/url.h"

#define REDIS_LINK_TIMEOUT_MS 500
#define REDIS_LINK_RETRY_MS 1000

/* The cluster's name in Redis keys and channels: 16 hex digits of a keyed
 * hash of the server secret, which every server of a cluster shares and
 * no two clusters do. */
#define REDIS_NS_LEN 16
void redis_namespace(const unsigned char *secret, size_t len, char out[REDIS_NS_LEN + 1]);

typedef struct redis_link redis_link_t;

/* NULL with a message in err if the URL is bad. what names the user in logs. */
redis_link_t *redis_link_new(const char *url, const char *what, char *err, size_t errlen);
/* After every thread that used it has ended (their connections go with them). */
void redis_link_free(redis_link_t *l);
/* This thread's connection, or NULL while the link is down. */
redisContext *redis_link_get(redis_link_t *l);
/* After an error on this thread's connection: it is closed, and the link is
 * down for REDIS_LINK_RETRY_MS. */
void redis_link_failed(redis_link_t *l);
/* Whether the last try failed and the link is resting. */
bool redis_link_down(redis_link_t *l);

#endif
