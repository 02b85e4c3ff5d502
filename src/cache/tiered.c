/*
 * The cluster's object cache with a local tier: this process's LRU (near)
 * in front of the memcached every server shares (far).
 *
 * DESIGN
 * far is the truth among caches: every fill goes there, every delete
 * leaves its tombstone there (memcached.c). near holds copies of far's
 * long-lived entries (the kinds without a TTL: users, media, built
 * timelines), which the bus keeps coherent: a delete made anywhere is
 * published, and every other process drops its copy (cache/bus.h).
 *
 * A copy is read only by a request whose barrier passed (cache_ticket_t's
 * near): the bus proved, at the request's first cache read, that this
 * process had applied every invalidation published before it, and a
 * write publishes its invalidations before it answers (cache_flush). So a
 * request begun after a write's answer, on any server, never reads a copy
 * older than the write. A request whose barrier fails (Redis down, the bus
 * behind) reads far alone.
 *
 * A copy is filled from far's value or from the database with the
 * request's near ticket, which the local backend refuses if the key was
 * invalidated here since the ticket was taken: the value may predate that
 * invalidation. A value from before a write whose invalidation is yet to
 * arrive is dropped by it when it does.
 *
 * A delete that far could not do at once (memcached.c queues it) is
 * published again once it is done (tiered_landed): meanwhile other
 * processes could read far's old entry, and their copies would outlive it.
 * When far's queue overflowed and it owed a flush of every entry instead,
 * a clear of every local tier is published once the flush is done.
 *
 * Entries with a TTL (tokens, profiles, likes, blocks, timelines' heads)
 * are copied with what is left of far's TTL (the same TTL when filled
 * from the database), so a copy never outlives far's entry: the staleness
 * the TTL bounds stays as bounded.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cache/backend.h"

typedef struct tiered {
    cache_t base;
    cache_t *near, *far;
    _Atomic uint64_t near_hits;
} tiered_t;

/* The kinds whose fills carry a TTL (see DESIGN). */
static bool with_ttl(int kind)
{
    return kind == CACHE_TOKEN || kind == CACHE_BLOCKS || kind == CACHE_TIMELINE || kind == CACHE_LIKED ||
           kind == CACHE_PROFILE || kind == CACHE_RECENT || kind == CACHE_GEOCELL;
}

/* far's landed hook: a delete far could not do at once is done (or a
 * flush of every entry, kind CACHE_ALL). Until then, other processes may
 * have read far's old entry and copied it: the delete (or a clear) goes on
 * the bus again, so that their copies go too. (This one's
 * near dropped the key at the delete, and took no copy since: far reads
 * nothing of a key whose delete is owed, and fills from before the delete
 * are refused by their tickets.) */
static void tiered_landed(void *arg, int kind, int64_t id)
{
    tiered_t *c = arg;
    cache_republish(&c->base, kind, id);
}

cache_t *cache_tiered_new(cache_t *near, cache_t *far)
{
    tiered_t *c = xcalloc(1, sizeof(*c));
    c->base.be = &cache_backend_tiered;
    c->near = near;
    c->far = far;
    far->landed_arg = c;
    far->landed = tiered_landed;
    return &c->base;
}

cache_t *cache_near(cache_t *c)
{
    if (c->be == &cache_backend_tiered)
        return ((tiered_t *)c)->near;
    return c->be == &cache_backend_lru ? c : NULL;
}

/* Whether this request may read near: its barrier, asked once. */
static bool near_ok(tiered_t *c, cache_ticket_t *t)
{
    if (t == NULL)
        return false;
    if (t->near == 0)
        t->near = cache_enabled(c->near) && c->base.barrier != NULL && c->base.barrier(c->base.sync_arg) ? 1 : -1;
    return t->near > 0;
}

static bool tiered_get_by(cache_t *base, cache_ticket_t *t, int kind, int64_t id, buf_t *out, uint64_t who,
                          int64_t *left_ms)
{
    tiered_t *c = (tiered_t *)base;
    if (near_ok(c, t) && cache_enabled(c->near) && c->near->be->get_by(c->near, t, kind, id, out, who, left_ms)) {
        atomic_fetch_add_explicit(&c->near_hits, 1, memory_order_relaxed);
        return true;
    }
    size_t at = out->len;
    int64_t left = 0;
    if (!cache_enabled(c->far) || !c->far->be->get_by(c->far, t, kind, id, out, who, &left))
        return false;
    if (left_ms != NULL)
        *left_ms = left;
    /* a copy for what is left of far's time (none past it) */
    if (t != NULL && (left > 0 || (left == 0 && !with_ttl(kind))))
        cache_set_ttl(c->near, kind, id, out->data + at, out->len - at, t, left);
    return true;
}

typedef struct fill {
    tiered_t *c;
    const cache_ticket_t *t;
    int kind;
    cache_found_fn found;
    void *arg;
} fill_t;

static void far_found(void *arg, int64_t id, const void *val, size_t len)
{
    fill_t *f = arg;
    if (f->t != NULL && !with_ttl(f->kind))
        cache_set(f->c->near, f->kind, id, val, len, f->t);
    f->found(f->arg, id, val, len);
}

static void tiered_get_many(cache_t *base, cache_ticket_t *t, int kind, const int64_t *ids, size_t n,
                            cache_found_fn found, void *arg)
{
    tiered_t *c = (tiered_t *)base;
    int64_t *missed = xmalloc((n > 0 ? n : 1) * sizeof(int64_t));
    size_t k = 0;
    if (near_ok(c, t)) {
        buf_t v;
        buf_init(&v, SIZE_MAX);
        uint64_t hits = 0;
        for (size_t i = 0; i < n; i++) {
            buf_reset(&v);
            if (cache_read(c->near, t, kind, ids[i], &v, 0)) {
                found(arg, ids[i], v.data, v.len);
                hits++;
            } else {
                missed[k++] = ids[i];
            }
        }
        buf_free(&v);
        atomic_fetch_add_explicit(&c->near_hits, hits, memory_order_relaxed);
    } else {
        memcpy(missed, ids, n * sizeof(int64_t));
        k = n;
    }
    fill_t f = {c, t, kind, found, arg};
    cache_read_many(c->far, t, kind, missed, k, far_found, &f);
    free(missed);
}

static void tiered_ticket(cache_t *base, cache_ticket_t *t)
{
    tiered_t *c = (tiered_t *)base;
    c->near->be->ticket(c->near, t);
    c->far->be->ticket(c->far, t);
}

static void tiered_set_ttl(cache_t *base, int kind, int64_t id, const void *val, size_t len, const cache_ticket_t *t,
                           int64_t ttl_ms)
{
    tiered_t *c = (tiered_t *)base;
    cache_set_ttl(c->far, kind, id, val, len, t, ttl_ms);
    cache_set_ttl(c->near, kind, id, val, len, t, ttl_ms);
}

/* far first: a process that hears of the delete over the bus and reads
 * far again finds the tombstone there */
static void tiered_del(cache_t *base, int kind, int64_t id)
{
    tiered_t *c = (tiered_t *)base;
    cache_del_local(c->far, kind, id);
    cache_del_local(c->near, kind, id);
}

static void tiered_clear(cache_t *base)
{
    tiered_t *c = (tiered_t *)base;
    cache_clear(c->far);
    cache_clear(c->near);
}

static cache_stats_t tiered_stats(cache_t *base)
{
    tiered_t *c = (tiered_t *)base;
    cache_stats_t n = cache_stats(c->near), f = cache_stats(c->far);
    uint64_t near_hits = atomic_load_explicit(&c->near_hits, memory_order_relaxed);
    return (cache_stats_t){
        .hits = near_hits + f.hits, .misses = f.misses, .entries = n.entries, .bytes = n.bytes, .near_hits = near_hits};
}

static void tiered_free(cache_t *base)
{
    tiered_t *c = (tiered_t *)base;
    cache_free(c->far); /* first: its thread may still call tiered_landed, which reads c */
    cache_free(c->near);
    free(c);
}

const cache_backend_t cache_backend_tiered = {
    .name = "tiered",
    .remote = true,
    .get_by = tiered_get_by,
    .get_many = tiered_get_many,
    .ticket = tiered_ticket,
    .set_ttl = tiered_set_ttl,
    .del = tiered_del,
    .clear = tiered_clear,
    .stats = tiered_stats,
    .free = tiered_free,
};
