/*
 * ratelimit: a per-key request budget over a fixed window (default 5000
 * requests per hour), the in-process backend. A key is a 64-bit hash of an
 * access token, or of the client address for requests without a valid
 * token. Each key's window starts at its first request.
 *
 * Memory is bounded: the table has a fixed number of slots, split into
 * stripes with a mutex each. A key probes a few slots; if all are taken by
 * live keys, the one whose window is oldest is recycled (that key then
 * starts a fresh window). Thread safe.
 *
 * Shared (ratelimit_share): the windows start on multiples of the window
 * length, the same on every server, and each key's hits not yet shared are
 * kept apart (pending) for a syncer (http/rlshare.h) to take, add to the
 * shared total and give back as the key's count.
 */
#ifndef PICOGRAM_RATELIMIT_H
#define PICOGRAM_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ratelimit ratelimit_t;

typedef struct ratelimit_result {
    bool allowed;
    uint32_t limit;
    uint32_t remaining;  /* after this request */
    int64_t reset_at_ms; /* when the window ends */
} ratelimit_result_t;

/* slots is rounded up to a power of two, at least 1024. */
ratelimit_t *ratelimit_new(uint32_t limit, int64_t window_ms, uint32_t slots);
void ratelimit_free(ratelimit_t *rl);
/* Counts one request for key at now_ms. */
ratelimit_result_t ratelimit_hit(ratelimit_t *rl, uint64_t key, int64_t now_ms);

uint64_t ratelimit_key(const void *p, size_t n);

/* Called, outside any lock, when a key gets hits to share; fresh: its
 * first hit in this window here (what the others counted is not known). */
typedef void (*ratelimit_dirty_fn)(void *arg, bool fresh);
/* Call before the first hit. */
void ratelimit_share(ratelimit_t *rl, ratelimit_dirty_fn fn, void *arg);

typedef struct rl_delta {
    uint64_t key;
    int64_t start_ms; /* the window */
    uint32_t n;       /* hits */
} rl_delta_t;
/* Moves every key's pending hits into *out (grown as needed, *cap its
 * size); returns how many. */
size_t ratelimit_take(ratelimit_t *rl, rl_delta_t **out, size_t *cap);
/* The shared total of d's window, d included: the key's count becomes
 * it plus what is pending since. */
void ratelimit_total(ratelimit_t *rl, const rl_delta_t *d, uint64_t total);
/* d could not be shared: pending again, for the next take. */
void ratelimit_untake(ratelimit_t *rl, const rl_delta_t *d);

#endif
