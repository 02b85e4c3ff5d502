/*
 * cache: the object cache interface, and its embedded backend, an
 * in-process LRU (memcached comes later behind the same interface).
 *
 * Values are ready-made bytes (JSON fragments, with a small header of the
 * caller's) under a key of (kind, 64-bit ID). Memory is bounded: each of the
 * stripes holds at most its share of `max_bytes` and evicts its least
 * recently used entries past it. Thread safe.
 *
 * Invalidation races: a reader that misses, reads the database and then
 * fills the cache could store a value older than a write that committed and
 * invalidated in between. So a request takes a ticket before its first
 * database read (before its read snapshot begins), and cache_set stores
 * nothing if any key was invalidated since the ticket was taken. Deletes are
 * rare next to reads, so few fills are refused.
 */
#ifndef PICOGRAM_CACHE_H
#define PICOGRAM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum {
    CACHE_USER = 1,  /* a user's short JSON */
    CACHE_MEDIA = 2, /* a media object's template */
    CACHE_TOKEN = 3, /* a token (by a 64-bit hash of it): its user's ID; a short TTL */
    CACHE_BUILT = 4, /* a user whose timeline is built */
    CACHE_BLOCKS = 5, /* whether a user blocks or is blocked by anyone: 0 or 1; a short TTL */
    CACHE_TIMELINE = 6, /* the head of a user's home feed (IDs); a short TTL */
    CACHE_LIKED = 7,    /* the media a user liked within a range of IDs; a short TTL */
};

/* Entries that other processes' writes change, and that no invalidation
 * from them reaches yet (one process per database set, embedded), live at
 * most this long. */
#define CACHE_SHORT_TTL_MS 5000

typedef struct cache cache_t;

cache_t *cache_new(size_t max_bytes);
void cache_free(cache_t *c);
/* Appends the value to out and returns true on a hit. */
bool cache_get(cache_t *c, int kind, int64_t id, buf_t *out);
uint64_t cache_ticket(cache_t *c);
void cache_set(cache_t *c, int kind, int64_t id, const void *val, size_t len, uint64_t ticket);
/* The same, the entry gone after ttl_ms (0: kept until evicted or deleted). */
void cache_set_ttl(cache_t *c, int kind, int64_t id, const void *val, size_t len, uint64_t ticket, int64_t ttl_ms);
void cache_del(cache_t *c, int kind, int64_t id);

typedef struct cache_stats {
    uint64_t hits, misses, entries, bytes;
} cache_stats_t;
cache_stats_t cache_stats(cache_t *c);

#endif
