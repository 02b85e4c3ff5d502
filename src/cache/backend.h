/*
 * What a cache backend implements (cache.h is what its users call). The
 * generic part (cache.c) keeps the on/off switch and the publisher, and
 * hands the rest to the backend, whose struct begins with a cache_t.
 */
#ifndef PICOGRAM_CACHE_BACKEND_H
#define PICOGRAM_CACHE_BACKEND_H

#include <stdatomic.h>

#include "cache/cache.h"

typedef void (*cache_landed_fn)(void *arg, int kind, int64_t id);

typedef struct cache_backend {
    const char *name;
    bool remote; /* see cache_remote */
    /* t: the request's ticket, or NULL (cache_get_by). On a hit, *left_ms
     * (if left_ms is not NULL) is how long the value stays fresh: 0 for
     * an entry with no TTL, negative for one past its time. */
    bool (*get_by)(cache_t *c, cache_ticket_t *t, int kind, int64_t id, buf_t *out, uint64_t who, int64_t *left_ms);
    /* NULL: cache_get_many asks get_by for each */
    void (*get_many)(cache_t *c, cache_ticket_t *t, int kind, const int64_t *ids, size_t n, cache_found_fn found,
                     void *arg);
    /* fills in its part of the ticket */
    void (*ticket)(cache_t *c, cache_ticket_t *t);
    void (*set_ttl)(cache_t *c, int kind, int64_t id, const void *val, size_t len, const cache_ticket_t *t,
                    int64_t ttl_ms);
    void (*del)(cache_t *c, int kind, int64_t id);
    void (*clear)(cache_t *c);
    cache_stats_t (*stats)(cache_t *c);
    void (*free)(cache_t *c);
} cache_backend_t;

struct cache {
    const cache_backend_t *be;
    atomic_bool off;          /* cache_enable(false): every get misses, every set is dropped */
    cache_publish_fn publish; /* cache_del's hook (cache_set_publisher) */
    void *publish_arg;
    cache_barrier_fn barrier; /* cache_set_sync's */
    cache_flush_fn flush;
    void *sync_arg;
    /* a delete the backend could not do at once is done now (kind
     * CACHE_ALL: a flush of every entry): called from the backend's own
     * thread (the tiered cache sets it on its far tier) */
    cache_landed_fn landed;
    void *landed_arg;
};

extern const cache_backend_t cache_backend_lru;
extern const cache_backend_t cache_backend_tiered;

#endif
