/*
 * The object cache's invalidation bus: what one server drops from its cache,
 * every server sharing the databases drops too, over a Redis pub/sub channel.
 *
 * DESIGN
 * Each server keeps its own cache (cache.h): the hot reads stay in-process.
 * cache_del, after its local drop, hands (kind, id) to the bus, which a
 * publisher thread sends in batches on the channel; a subscriber thread
 * applies every other server's batches with cache_del_local. A fill whose
 * snapshot began before another server's commit is therefore refused or
 * dropped here too, by the same tickets that order local deletes (a
 * message is applied after the commit it follows).
 *
 * While the subscriber is not subscribed (Redis down, or starting), this
 * server cannot hear invalidations, so its cache is off: every read goes to
 * the database. Once subscribed again it clears the cache (it may have
 * missed messages) and turns it back on. A publisher that cannot reach
 * Redis keeps its batches and retries; if they overflow it sends "clear
 * everything" when it can. So a server caches only while it hears every
 * invalidation made after its entries were filled.
 *
 * Order, for a tiered cache's local tier (cache/tiered.c): each message is
 * numbered by one counter in Redis, incremented and published by one
 * script, so messages arrive in the order of their numbers. On each
 * subscription the subscriber has the publisher send a "hello"; once it
 * comes back, every message numbered before it has been applied (synced).
 * The barrier reads the counter and waits until this process has applied
 * that many; the flush waits until what this process queued is published.
 * A write flushes before it answers, and a read passes the barrier before
 * it reads a copy: so a read begun after a write's answer, on any server,
 * reads no copy older than the write. A number skipped while synced (a
 * restarted Redis) clears the local tier. With local caches alone (no
 * memcached), neither is used: a write there shows elsewhere a few
 * milliseconds later.
 */
#ifndef PICOGRAM_CACHE_BUS_H
#define PICOGRAM_CACHE_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "cache/cache.h"
#include "cache/redis.h"

typedef struct cache_bus cache_bus_t;

/* Starts the bus on url ("redis://HOST:PORT") for cache, which is off until
 * the first subscription; ns names the cluster (redis_namespace), so
 * clusters sharing a Redis do not hear each other. NULL with a message in
 * err if the URL is bad (an unreachable Redis is not an error: the bus
 * keeps trying). */
cache_bus_t *cache_bus_start(const char *url, const char *ns, cache_t *cache, char *err, size_t errlen);
/* Sends what is queued (one try), stops the threads, frees the bus. */
void cache_bus_stop(cache_bus_t *bus);
/* Whether the subscriber is subscribed now (the cache is on). */
bool cache_bus_live(cache_bus_t *bus);

#endif
