/* The object cache interface: the switch and the publisher here, the rest
 * in the backend. */
#include <pthread.h>

#include "cache/backend.h"

bool cache_remote(cache_t *c)
{
    return c->be->remote;
}

void cache_free(cache_t *c)
{
    if (c != NULL)
        c->be->free(c);
}

bool cache_get(cache_t *c, int kind, int64_t id, buf_t *out)
{
    return cache_get_by(c, kind, id, out, 0);
}

bool cache_get_by(cache_t *c, int kind, int64_t id, buf_t *out, uint64_t who)
{
    return cache_read(c, NULL, kind, id, out, who);
}

bool cache_read(cache_t *c, cache_ticket_t *t, int kind, int64_t id, buf_t *out, uint64_t who)
{
    if (atomic_load_explicit(&c->off, memory_order_relaxed))
        return false;
    return c->be->get_by(c, t, kind, id, out, who, NULL);
}

void cache_get_many(cache_t *c, int kind, const int64_t *ids, size_t n, cache_found_fn found, void *arg)
{
    cache_read_many(c, NULL, kind, ids, n, found, arg);
}

void cache_read_many(cache_t *c, cache_ticket_t *t, int kind, const int64_t *ids, size_t n, cache_found_fn found,
                     void *arg)
{
    if (atomic_load_explicit(&c->off, memory_order_relaxed))
        return;
    if (c->be->get_many != NULL) {
        c->be->get_many(c, t, kind, ids, n, found, arg);
        return;
    }
    buf_t v;
    buf_init(&v, SIZE_MAX);
    for (size_t i = 0; i < n; i++) {
        buf_reset(&v);
        if (c->be->get_by(c, t, kind, ids[i], &v, 0, NULL))
            found(arg, ids[i], v.data, v.len);
    }
    buf_free(&v);
}

cache_ticket_t cache_ticket(cache_t *c)
{
    cache_ticket_t t = {0};
    c->be->ticket(c, &t);
    return t;
}

void cache_set(cache_t *c, int kind, int64_t id, const void *val, size_t len, const cache_ticket_t *t)
{
    cache_set_ttl(c, kind, id, val, len, t, 0);
}

void cache_set_ttl(cache_t *c, int kind, int64_t id, const void *val, size_t len, const cache_ticket_t *t,
                   int64_t ttl_ms)
{
    /* the backend checks off again under its lock: cache_enable(false)
     * may come between */
    if (!atomic_load_explicit(&c->off, memory_order_relaxed))
        c->be->set_ttl(c, kind, id, val, len, t, ttl_ms);
}

/* Guards the publisher's change against cache_republish, called from a
 * backend's own thread: once cache_set_publisher returns, the old one is
 * not being called. (cache_del reads it unguarded: it is set before the
 * requests start, and cleared after they end.) */
static pthread_mutex_t publisher_lock = PTHREAD_MUTEX_INITIALIZER;

void cache_republish(cache_t *c, int kind, int64_t id)
{
    pthread_mutex_lock(&publisher_lock);
    if (c->publish)
        c->publish(c->publish_arg, kind, id);
    pthread_mutex_unlock(&publisher_lock);
}

void cache_del(cache_t *c, int kind, int64_t id)
{
    c->be->del(c, kind, id);
    if (c->publish)
        c->publish(c->publish_arg, kind, id);
}

void cache_del_local(cache_t *c, int kind, int64_t id)
{
    c->be->del(c, kind, id);
}

void cache_clear(cache_t *c)
{
    c->be->clear(c);
}

void cache_enable(cache_t *c, bool on)
{
    atomic_store(&c->off, !on);
}

bool cache_enabled(cache_t *c)
{
    return !atomic_load(&c->off);
}

void cache_set_publisher(cache_t *c, cache_publish_fn fn, void *arg)
{
    pthread_mutex_lock(&publisher_lock);
    c->publish_arg = arg;
    c->publish = fn;
    pthread_mutex_unlock(&publisher_lock);
}

void cache_set_sync(cache_t *c, cache_barrier_fn barrier, cache_flush_fn flush, void *arg)
{
    c->sync_arg = arg;
    c->barrier = barrier;
    c->flush = flush;
}

void cache_flush(cache_t *c)
{
    if (c->flush)
        c->flush(c->sync_arg);
}

cache_stats_t cache_stats(cache_t *c)
{
    return c->be->stats(c);
}
