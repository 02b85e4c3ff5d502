/*
 * cache: the object cache interface. Two backends sit behind it:
 *  - "local" (lru.c), the embedded one: an in-process LRU. Memory is
 *    bounded: each of the stripes holds at most its share of `max_bytes`
 *    and evicts its least recently used entries past it. Servers sharing
 *    the databases keep each other's copies fresh over the bus (bus.h).
 *  - memcached (memcached.c), the cluster's: one cache that every server
 *    shares, spread over the instances by consistent hashing. A write's
 *    invalidation is done before its response, so any server's next read
 *    sees it.
 *  - tiered (tiered.c), the cluster's fast path: a local LRU in front of
 *    memcached, kept coherent over the bus, and read only after a barrier
 *    (cache_read) that proves it has heard every invalidation made before
 *    the request began.
 *
 * Values are ready-made bytes (JSON fragments, with a small header of the
 * caller's) under a key of (kind, 64-bit ID). Thread safe.
 *
 * Invalidation races: a reader that misses, reads the database and then
 * fills the cache could store a value older than a write that committed and
 * invalidated in between. So a request takes a ticket before its first
 * database read (before its read snapshot begins), and cache_set stores
 * nothing if its key was invalidated since the ticket was taken. In the
 * local backend, tickets are numbers of one sequence that every delete
 * advances; each hash bucket keeps the number of its last delete, so a
 * delete refuses only the fills of keys in its own bucket (a fan-out's
 * deletes do not empty the cache). In memcached, a ticket is a time, and a
 * delete leaves a tombstone that outlives any fill old enough to race it
 * (memcached.c).
 */
#ifndef PICOGRAM_CACHE_H
#define PICOGRAM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum {
    CACHE_USER = 1,     /* a user's short JSON */
    CACHE_MEDIA = 2,    /* a media object's template */
    CACHE_TOKEN = 3,    /* a token (by tokens_cache_key of its stored hash): its user's ID; a short TTL */
    CACHE_BUILT = 4,    /* a user whose timeline is built */
    CACHE_BLOCKS = 5,   /* the users a block stands between a user and (api/social.c); a short TTL */
    CACHE_TIMELINE = 6, /* the head of a user's home feed (IDs); a short TTL */
    CACHE_LIKED = 7,    /* the media a user liked within a range of IDs; a short TTL */
    CACHE_PROFILE = 8,  /* a user's full JSON, with counts; a short TTL */
    CACHE_RECENT = 9,   /* the IDs of a user's newest media (api/media.c); a short TTL */
    CACHE_GEOCELL = 10, /* the media index's points of a cell and a day (api/geocells.c); a short TTL */
    CACHE_OWNER = 11,   /* a media's owner (8 bytes, the ID): never changes, so never dropped (api/social.c) */
};
/* Not an entry's kind: "every entry", to cache_republish (and the
 * publisher, and a backend's landed hook), for a backend's flush of every
 * entry that was late (cache/memcached.c). */
#define CACHE_ALL (-1)

/* Entries that other processes' writes change, and that no invalidation
 * from them reaches yet (one process per database set, embedded), are
 * fresh this long, and served stale at most CACHE_STALE_MS more (see
 * cache_get_by). */
#define CACHE_SHORT_TTL_MS 5000
#define CACHE_STALE_MS 1000

/* The layout of every cached value. A shared cache keys its entries with
 * it, so a rolling deploy never reads another build's bytes: bump it when
 * the bytes of any kind change. A delete drops this layout's entry and the
 * one before (the build a rolling deploy replaces). */
#define CACHE_LAYOUT 4 /* 2: CACHE_BLOCKS lists the users; media templates mark likers and comments;
                          3: media entries list their users after the head;
                          4: and their holes' offsets after the users */

typedef struct cache cache_t;

/* Taken before a request's first database read: what each backend needs
 * to refuse a fill older than an invalidation (see above), and, for the
 * tiered cache, whether this request may read its local tier (asked once,
 * at its first read). */
typedef struct cache_ticket {
    uint64_t seq; /* the local backend's: its delete sequence */
    int64_t ms;   /* memcached's: the monotonic time */
    int near;     /* tiered: 0 not asked yet, 1 the local tier is coherent for this request, -1 not */
} cache_ticket_t;

/* Opens the cache url names: "local" (this process's memory, max_bytes)
 * or "memcached://HOST:PORT[,HOST:PORT...]", whose keys carry ns (the
 * cluster's name: redis_namespace) so clusters sharing a memcached keep
 * apart. NULL with a message in err if the URL is bad (an unreachable
 * memcached is not an error: every read misses until it is back). */
cache_t *cache_open(const char *url, size_t max_bytes, const char *ns, char *err, size_t errlen);
/* The local backend alone (cache_open's "local"). */
cache_t *cache_new(size_t max_bytes);
void cache_free(cache_t *c);
/* Whether its calls may wait on a network round trip (then never on an
 * event loop), and whether every server shares it (then it needs no bus). */
bool cache_remote(cache_t *c);
/* Appends the value to out and returns true on a hit. */
bool cache_get(cache_t *c, int kind, int64_t id, buf_t *out);
/* The same, for entries with a TTL read by many at once: past the TTL, the
 * first caller `who` (not 0) gets a miss and the refill is its to do,
 * while for CACHE_STALE_MS more the others still get the old value, rather
 * than all going to the database at once. `who` itself misses again (a
 * request tried on its loop, then on a worker). After that, a miss for
 * all. cache_get is this with who 0: a stale entry is a miss. */
bool cache_get_by(cache_t *c, int kind, int64_t id, buf_t *out, uint64_t who);
/* cache_get_by for a request holding ticket t: a tiered cache reads its
 * local tier only once its barrier passed for t. */
bool cache_read(cache_t *c, cache_ticket_t *t, int kind, int64_t id, buf_t *out, uint64_t who);
/* Many entries of one kind at once (one round trip to a shared cache):
 * found(arg, id, bytes, len) for each fresh one there. */
typedef void (*cache_found_fn)(void *arg, int64_t id, const void *val, size_t len);
void cache_get_many(cache_t *c, int kind, const int64_t *ids, size_t n, cache_found_fn found, void *arg);
/* The same for a request holding ticket t (cache_read). */
void cache_read_many(cache_t *c, cache_ticket_t *t, int kind, const int64_t *ids, size_t n, cache_found_fn found,
                     void *arg);
cache_ticket_t cache_ticket(cache_t *c);
void cache_set(cache_t *c, int kind, int64_t id, const void *val, size_t len, const cache_ticket_t *t);
/* The same, the entry gone after ttl_ms (0: kept until evicted or deleted). */
void cache_set_ttl(cache_t *c, int kind, int64_t id, const void *val, size_t len, const cache_ticket_t *t,
                   int64_t ttl_ms);
/* Drops the entry, here and, through the publisher if one is set, in
 * every other process sharing the databases (cache/bus.h). */
void cache_del(cache_t *c, int kind, int64_t id);
/* The same, here only: for invalidations that came from elsewhere. */
void cache_del_local(cache_t *c, int kind, int64_t id);
/* Publishes a delete again, without dropping anything here (a backend's
 * delete that was late: cache/tiered.c); kind CACHE_ALL publishes a clear
 * of every entry. Any thread. */
void cache_republish(cache_t *c, int kind, int64_t id);
/* Drops every entry; fills with a ticket taken before are refused. */
void cache_clear(cache_t *c);
/* Off, every get misses and every set is dropped (while invalidations
 * from other processes cannot arrive). On by default. */
void cache_enable(cache_t *c, bool on);
bool cache_enabled(cache_t *c);
/* Called by cache_del after the local drop, on the deleting thread: it
 * must not block. */
typedef void (*cache_publish_fn)(void *arg, int kind, int64_t id);
void cache_set_publisher(cache_t *c, cache_publish_fn fn, void *arg);
/* The bus's side of a tiered cache's coherence (cache/bus.h): barrier(arg)
 * is true once this process has applied every invalidation published
 * before the call (it may wait a round trip); flush(arg) returns once
 * every invalidation queued before the call is published, or after a
 * bounded wait. */
typedef bool (*cache_barrier_fn)(void *arg);
typedef void (*cache_flush_fn)(void *arg);
void cache_set_sync(cache_t *c, cache_barrier_fn barrier, cache_flush_fn flush, void *arg);
/* A write request calls this before it answers: its invalidations are
 * then published, so a request that any server begins after the answer
 * passes its barrier only once it has heard them. A no-op without a bus. */
void cache_flush(cache_t *c);

/* A local tier in front of far (a shared cache), owning both. */
cache_t *cache_tiered_new(cache_t *near, cache_t *far);
/* The cache that holds this process's copies, which a bus keeps coherent:
 * c itself (local), its local tier (tiered), or NULL (a shared cache). */
cache_t *cache_near(cache_t *c);

typedef struct cache_stats {
    uint64_t hits, misses, entries, bytes; /* entries and bytes: 0 for a shared cache (its servers count them) */
    uint64_t near_hits;                    /* tiered: hits in the local tier (counted in hits too) */
} cache_stats_t;
cache_stats_t cache_stats(cache_t *c);

#endif
