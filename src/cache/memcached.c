/*
 * The cluster's object cache: memcached instances that every server
 * shares, through libmemcached with consistent hashing (ketama), so adding
 * or losing an instance moves only its share of the keys.
 *
 * DESIGN
 * Keys: "pg:v<CACHE_LAYOUT>:<namespace>:<kind>:<id>". An entry is an 8-byte
 * header (when it goes stale, wall-clock ms; 0: never) and the caller's
 * bytes, with a memcached TTL on every entry (MC_TTL_S, or a short TTL's
 * length plus CACHE_STALE_MS), so nothing a lost invalidation left behind
 * lives on.
 *
 * Invalidation races (cache.h): a delete is a tombstone, an entry flagged
 * MC_TOMB that lives MC_HOLD_S; a fill is an `add`, which a tombstone (or
 * any entry) refuses. A ticket is the monotonic time the request began,
 * and a fill older than MC_FILL_MAX_MS is dropped. memcached's clock ticks
 * in whole seconds, so a tombstone lives more than MC_HOLD_S - 1 seconds,
 * longer than any fill that is still allowed: a reader whose snapshot
 * began before a commit either adds before the tombstone (which then
 * overwrites it), or meets the tombstone, or is too old to fill. A short-TTL
 * entry past its time is replaced with a compare-and-swap on the entry
 * read, which a tombstone in between also defeats.
 *
 * Stale entries (cache_get_by): the first reader past an entry's time
 * takes a refill mark (an `add` of the key + ":r", MC_MARK_S) and misses;
 * the others get the old bytes until the refill lands or the entry dies.
 *
 * A rolling deploy: a delete puts tombstones on this layout's key and the
 * previous one's, so the servers still on the old build see the writes of
 * the new one.
 *
 * Faults: calls time out after MC_TIMEOUT_MS, and an instance that failed
 * is left alone for MC_RETRY_S, so a dead or hung memcached costs a read a
 * miss, never a hang. libmemcached's own per-server retry starts only when
 * a connect fails; a hung process (stopped, or stuck) still has the kernel
 * take the connection and the request, and each call would wait out the
 * timeout. So an instance whose call timed out is skipped here too
 * (skip_until): its reads miss, its fills are dropped, and its deletes go
 * to the queue below, until a call MC_RETRY_S later, or the queue's next
 * try, finds it answering. A delete
 * that cannot be done is queued and retried every MC_RETRY_MS by a thread
 * of its own, until the instance answers; past MC_QUEUE_MAX queued, the
 * queue gives way to one flush of every instance. Keys are never moved off
 * a failed instance (no ejection): another instance could hold an entry
 * older than a delete the failed one took.
 *
 * Until a queued delete is done, its key is unsettled here: this process
 * neither reads it from memcached (the entry there may be the one the
 * delete was to end) nor fills it, and while a flush is owed, no key at
 * all. Other processes do not know, and may read the old entry meanwhile
 * (and a local tier keep a copy): so once the delete is done, it is told
 * to the cache above (cache_t's landed; the tiered cache publishes it
 * again on the bus, and every local copy goes); once a flush owed is
 * done, a clear of every entry is (CACHE_ALL), and every local tier of
 * the cluster is emptied.
 *
 * Each thread has its own connection set (memcached_st is not thread
 * safe), cloned from a configured one on first use.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmemcached/memcached.h>

#include "cache/backend.h"
#include "cache/memcached.h"
#include "obs/log.h"

#define MC_TOMB 1u          /* flags of a tombstone */
#define MC_HOLD_S 3         /* a tombstone's life: more than 2 s on memcached's clock */
#define MC_FILL_MAX_MS 1000 /* older fills are dropped (well inside the hold) */
#define MC_TTL_S 3600       /* every entry's life at most */
#define MC_MARK_S 2         /* a refill mark's */
#define MC_TIMEOUT_MS 200   /* connect, and each reply */
#define MC_RETRY_S 1        /* an instance that failed is skipped this long */
#define MC_RETRY_MS 200     /* between tries of the queued deletes */
#define MC_QUEUE_MAX 65536  /* queued deletes, past which the queue is a flush (PICOGRAM_MC_QUEUE_MAX: the tests') */
#define MC_HEADER 8
#define MC_KEY_MAX 96
#define MC_SERVERS_MAX 64 /* instances tracked for skipping (more: only libmemcached's retry) */

typedef struct pending {
    int kind;
    int64_t id;
} pending_t;

/* An unsettled key: how many of its deletes are queued or being tried. */
typedef struct unsettled {
    int kind;
    int64_t id;
    unsigned n;
    struct unsettled *next;
} unsettled_t;

#define MC_UNSETTLED_BUCKETS 1024

typedef struct mc {
    cache_t base;
    memcached_st *proto; /* configured, never used for calls: each thread clones it */
    pthread_mutex_t clone_lock;
    pthread_key_t key;
    char ns[48];
    _Atomic uint64_t hits, misses;
    /* deletes that failed, retried by the retrier */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pending_t *queue;
    size_t nqueue, cap, queue_max;
    bool flush;                                   /* the queue overflowed: flush every instance instead */
    bool flush_owed;                              /* from then until a flush is done */
    unsettled_t *unsettled[MC_UNSETTLED_BUCKETS]; /* the keys of queued deletes */
    _Atomic size_t nunsettled;                    /* keys there, + 1 while a flush is owed */
    bool stopping;
    bool warned;
    pthread_t retrier;
    _Atomic int64_t skip_until[MC_SERVERS_MAX]; /* per instance, monotonic ms: skipped till then */
} mc_t;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_clone(void *m)
{
    memcached_free(m);
}

static memcached_st *conn(mc_t *c)
{
    memcached_st *m = pthread_getspecific(c->key);
    if (m == NULL) {
        pthread_mutex_lock(&c->clone_lock);
        m = memcached_clone(NULL, c->proto);
        pthread_mutex_unlock(&c->clone_lock);
        if (m == NULL)
            return NULL;
        pthread_setspecific(c->key, m);
    }
    return m;
}

static size_t key_of(mc_t *c, int layout, int kind, int64_t id, const char *suffix, char *out)
{
    int n = snprintf(out, MC_KEY_MAX, "pg:v%d:%s:%d:%" PRId64 "%s", layout, c->ns, kind, id, suffix);
    return (size_t)n;
}

/* Kinds a shared cache does not keep: a timeline's head is one round trip
 * to the feed store already, and a fan-out drops it for every follower. */
static bool kept(int kind)
{
    return kind != CACHE_TIMELINE;
}

static bool failed(memcached_return_t rc)
{
    return rc != MEMCACHED_SUCCESS && rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_NOTFOUND &&
           rc != MEMCACHED_DATA_EXISTS && rc != MEMCACHED_END && rc != MEMCACHED_STORED;
}

/* A call that waited out its timeout: the instance took the connection
 * and the request but did not answer (a reason to skip it a while). A
 * refused connect is libmemcached's own retry's, and a connection that
 * broke (each thread finds its own after a restart) is made again on the
 * thread's next call. */
static bool io_failure(memcached_return_t rc)
{
    return rc == MEMCACHED_TIMEOUT;
}

/* The instance a key lives on (consistent hashing: the same in every clone). */
static uint32_t server_of(memcached_st *m, const char *key, size_t klen)
{
    return memcached_generate_hash(m, key, klen);
}

static bool skipped(mc_t *c, uint32_t server)
{
    return server < MC_SERVERS_MAX && atomic_load_explicit(&c->skip_until[server], memory_order_relaxed) > mono_ms();
}

/* After a call on server that ended in rc: skipped for MC_RETRY_S if it
 * timed out; used again at once if it answered (the retrier's tries
 * go on while it is skipped, so the first answer after a hang ends it). */
static void note(mc_t *c, uint32_t server, memcached_return_t rc)
{
    if (server >= MC_SERVERS_MAX)
        return;
    if (io_failure(rc))
        atomic_store_explicit(&c->skip_until[server], mono_ms() + MC_RETRY_S * 1000, memory_order_relaxed);
    else if (!failed(rc) && atomic_load_explicit(&c->skip_until[server], memory_order_relaxed) != 0)
        atomic_store_explicit(&c->skip_until[server], 0, memory_order_relaxed);
}

static size_t unsettled_bucket(int kind, int64_t id)
{
    return ((uint64_t)id * 0x9E3779B97F4A7C15ull + (uint64_t)kind) >> 54; /* 10 bits: MC_UNSETTLED_BUCKETS */
}

/* Under c->lock: one more delete of the key queued (by > 0) or one done
 * (by < 0). */
static void unsettle(mc_t *c, int kind, int64_t id, int by)
{
    unsettled_t **at = &c->unsettled[unsettled_bucket(kind, id)];
    while (*at && !((*at)->kind == kind && (*at)->id == id))
        at = &(*at)->next;
    if (by > 0 && *at == NULL) {
        *at = xcalloc(1, sizeof(**at));
        (*at)->kind = kind;
        (*at)->id = id;
        atomic_fetch_add(&c->nunsettled, 1);
    }
    if (*at == NULL)
        return;
    (*at)->n += (unsigned)by;
    if ((*at)->n == 0) {
        unsettled_t *gone = *at;
        *at = gone->next;
        free(gone);
        atomic_fetch_sub(&c->nunsettled, 1);
    }
}

/* Under c->lock: no key unsettled (the queue gave way to a flush). */
static void unsettle_none(mc_t *c)
{
    for (size_t b = 0; b < MC_UNSETTLED_BUCKETS; b++)
        while (c->unsettled[b]) {
            unsettled_t *gone = c->unsettled[b];
            c->unsettled[b] = gone->next;
            free(gone);
            atomic_fetch_sub(&c->nunsettled, 1);
        }
}

/* Whether the key's entry is not to be read or filled here: a delete of
 * it (or a flush) is still to be done. Free while nothing is queued. */
static bool unsettled(mc_t *c, int kind, int64_t id)
{
    if (atomic_load_explicit(&c->nunsettled, memory_order_acquire) == 0)
        return false;
    pthread_mutex_lock(&c->lock);
    bool yes = c->flush_owed;
    for (unsettled_t *u = c->unsettled[unsettled_bucket(kind, id)]; u && !yes; u = u->next)
        yes = u->kind == kind && u->id == id;
    pthread_mutex_unlock(&c->lock);
    return yes;
}

static bool mc_get_by(cache_t *base, cache_ticket_t *t, int kind, int64_t id, buf_t *out, uint64_t who,
                      int64_t *left_ms)
{
    (void)t;
    mc_t *c = (mc_t *)base;
    memcached_st *m;
    if (!kept(kind) || (m = conn(c)) == NULL)
        return false;
    char key[MC_KEY_MAX];
    size_t klen = key_of(c, CACHE_LAYOUT, kind, id, "", key);
    size_t vlen = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    uint32_t server = server_of(m, key, klen);
    if (skipped(c, server) || unsettled(c, kind, id)) {
        atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
        return false;
    }
    char *v = memcached_get(m, key, klen, &vlen, &flags, &rc);
    note(c, server, rc);
    bool hit = v != NULL && rc == MEMCACHED_SUCCESS && flags != MC_TOMB && vlen >= MC_HEADER;
    int64_t left = 0; /* ms until stale; 0: no TTL */
    if (hit) {
        int64_t stale_at;
        memcpy(&stale_at, v, sizeof(stale_at));
        if (stale_at != 0) {
            left = stale_at - wall_ms();
            left = left > 0 ? left : -1;
        }
        if (left < 0) {
            /* past its time: the first to take the mark refills, the
             * others get the old bytes meanwhile */
            size_t mlen = key_of(c, CACHE_LAYOUT, kind, id, ":r", key);
            if (who == 0 || memcached_add(m, key, mlen, "", 0, MC_MARK_S, 0) == MEMCACHED_SUCCESS)
                hit = false;
        }
    }
    if (hit) {
        buf_append(out, v + MC_HEADER, vlen - MC_HEADER);
        if (left_ms != NULL)
            *left_ms = left;
    }
    free(v);
    atomic_fetch_add_explicit(hit ? &c->hits : &c->misses, 1, memory_order_relaxed);
    return hit;
}

/* One mget for every key; the fresh values to found (a stale one is a
 * miss here: the caller's own read refills it). */
static void mc_get_many(cache_t *base, cache_ticket_t *t, int kind, const int64_t *ids, size_t n, cache_found_fn found,
                        void *arg)
{
    (void)t;
    mc_t *c = (mc_t *)base;
    memcached_st *m;
    if (n == 0 || !kept(kind) || (m = conn(c)) == NULL)
        return;
    char *keys = xmalloc(n * MC_KEY_MAX);
    const char **kp = xmalloc(n * sizeof(*kp));
    size_t *kl = xmalloc(n * sizeof(*kl));
    size_t nk = 0; /* the keys of instances not skipped */
    for (size_t i = 0; i < n; i++) {
        kp[nk] = keys + i * MC_KEY_MAX;
        kl[nk] = key_of(c, CACHE_LAYOUT, kind, ids[i], "", keys + i * MC_KEY_MAX);
        uint32_t server = server_of(m, kp[nk], kl[nk]);
        if (skipped(c, server) || unsettled(c, kind, ids[i]))
            continue;
        nk++;
    }
    size_t hits = 0;
    memcached_return_t rc;
    /* SOME_ERRORS: an instance is down; the others' keys still come */
    memcached_return_t sent = nk ? memcached_mget(m, kp, kl, nk) : MEMCACHED_NOTFOUND;
    if (sent == MEMCACHED_SUCCESS || sent == MEMCACHED_SOME_ERRORS) {
        memcached_result_st *r;
        int64_t now = wall_ms();
        while ((r = memcached_fetch_result(m, NULL, &rc)) != NULL) {
            const char *k = memcached_result_key_value(r), *v = memcached_result_value(r);
            size_t klen = memcached_result_key_length(r), vlen = memcached_result_length(r);
            const char *colon = memrchr(k, ':', klen);
            int64_t stale_at = 0;
            if (vlen >= MC_HEADER)
                memcpy(&stale_at, v, sizeof(stale_at));
            if (colon != NULL && memcached_result_flags(r) != MC_TOMB && vlen >= MC_HEADER &&
                (stale_at == 0 || now < stale_at)) {
                char idtext[24];
                size_t il = klen - (size_t)(colon + 1 - k);
                if (il > 0 && il < sizeof(idtext)) {
                    memcpy(idtext, colon + 1, il);
                    idtext[il] = '\0';
                    found(arg, strtoll(idtext, NULL, 10), v + MC_HEADER, vlen - MC_HEADER);
                    hits++;
                }
            }
            memcached_result_free(r);
        }
    }
    /* (a multi-get sets no skip: which instance held it up is not known
     * for sure; a single get, set or delete of its keys sets it, and each
     * request makes some) */
    atomic_fetch_add_explicit(&c->hits, hits, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->misses, n - hits, memory_order_relaxed);
    free(kl);
    free(kp);
    free(keys);
}

static void mc_ticket(cache_t *base, cache_ticket_t *t)
{
    (void)base;
    t->ms = mono_ms();
}

static void mc_set_ttl(cache_t *base, int kind, int64_t id, const void *val, size_t len, const cache_ticket_t *t,
                       int64_t ttl_ms)
{
    mc_t *c = (mc_t *)base;
    memcached_st *m;
    if (!kept(kind) || mono_ms() - t->ms > MC_FILL_MAX_MS || (m = conn(c)) == NULL)
        return;
    char key[MC_KEY_MAX];
    size_t klen = key_of(c, CACHE_LAYOUT, kind, id, "", key);
    uint32_t server = server_of(m, key, klen);
    if (skipped(c, server) || unsettled(c, kind, id))
        return; /* a fill is only a help */
    int64_t stale_at = ttl_ms > 0 ? wall_ms() + ttl_ms : 0;
    time_t life = ttl_ms > 0 ? (time_t)((ttl_ms + CACHE_STALE_MS + 999) / 1000) : MC_TTL_S;
    char *v = xmalloc(MC_HEADER + len);
    memcpy(v, &stale_at, sizeof(stale_at));
    memcpy(v + MC_HEADER, val, len);
    memcached_return_t rc = memcached_add(m, key, klen, v, MC_HEADER + len, life, 0);
    note(c, server, rc);
    if (rc == MEMCACHED_NOTSTORED && ttl_ms > 0) {
        /* an entry is there: replace it only if it is a value past its
         * time, and still the one read (no tombstone since) */
        const char *keys[] = {key};
        size_t lens[] = {klen};
        if (memcached_mget(m, keys, lens, 1) == MEMCACHED_SUCCESS) {
            memcached_result_st *r = memcached_fetch_result(m, NULL, &rc);
            if (r != NULL) {
                int64_t old = -1;
                if (memcached_result_flags(r) != MC_TOMB && memcached_result_length(r) >= MC_HEADER)
                    memcpy(&old, memcached_result_value(r), sizeof(old));
                uint64_t cas = memcached_result_cas(r);
                memcached_result_free(r);
                while (memcached_fetch_result(m, NULL, &rc) != NULL) /* drains the END */
                    ;
                if (old > 0 && wall_ms() >= old)
                    memcached_cas(m, key, klen, v, MC_HEADER + len, life, 0, cas);
            }
        }
    }
    free(v);
}

/* The retrier's record of the instances that failed in its current pass:
 * one slot each for the first MC_SERVERS_MAX, and one for all the others. */
static size_t down_slot(uint32_t server)
{
    return server < MC_SERVERS_MAX ? server : MC_SERVERS_MAX;
}

/* The tombstones of one delete, on this thread's connections. 0, or -1 if
 * an instance could not take them. A skipped instance is not tried (-1 at
 * once), except by the retrier (down != NULL), whose tries on a thread of
 * their own are what end a skip: it passes over only the instances that
 * failed earlier in its pass, which a failure marks in down. */
static int tombstone(mc_t *c, memcached_st *m, int kind, int64_t id, bool *down)
{
    char key[MC_KEY_MAX];
    for (int layout = CACHE_LAYOUT; layout >= CACHE_LAYOUT - 1 && layout >= 1; layout--) {
        size_t klen = key_of(c, layout, kind, id, "", key);
        uint32_t server = server_of(m, key, klen);
        if (down != NULL ? down[down_slot(server)] : skipped(c, server))
            return -1; /* queued, without the wait */
        memcached_return_t rc = memcached_set(m, key, klen, "", 0, MC_HOLD_S, MC_TOMB);
        note(c, server, rc);
        if (failed(rc)) {
            if (down != NULL)
                down[down_slot(server)] = true;
            return -1;
        }
    }
    return 0;
}

/* Under c->lock: a flush of every instance instead of the queue. */
static void owe_flush(mc_t *c)
{
    c->flush = true;
    c->nqueue = 0;
    if (!c->flush_owed) {
        c->flush_owed = true;
        atomic_fetch_add(&c->nunsettled, 1);
        log_warn("memcached: a flush of every instance is owed (past %zu failed invalidations, or a clear that "
                 "failed); until it is done this process reads nothing from memcached",
                 c->queue_max);
    }
    unsettle_none(c);
}

/* Under c->lock. */
static void push(mc_t *c, pending_t p)
{
    if (c->nqueue >= c->queue_max)
        owe_flush(c);
    if (c->flush)
        return;
    if (c->nqueue == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->queue = realloc(c->queue, c->cap * sizeof(pending_t));
        if (c->queue == NULL)
            abort();
    }
    c->queue[c->nqueue++] = p;
}

/* Under c->lock: queues a new delete, its key unsettled until it is done. */
static void push_new(mc_t *c, pending_t p)
{
    push(c, p);
    if (!c->flush)
        unsettle(c, p.kind, p.id, 1);
}

static void enqueue(mc_t *c, int kind, int64_t id)
{
    pthread_mutex_lock(&c->lock);
    push_new(c, (pending_t){kind, id});
    pthread_cond_signal(&c->wake);
    if (!c->warned) {
        c->warned = true;
        log_warn("memcached: an invalidation could not be done; retried every %d ms", MC_RETRY_MS);
    }
    pthread_mutex_unlock(&c->lock);
}

static void mc_del(cache_t *base, int kind, int64_t id)
{
    mc_t *c = (mc_t *)base;
    if (!kept(kind))
        return;
    memcached_st *m = conn(c);
    if (m == NULL || tombstone(c, m, kind, id, NULL) != 0)
        enqueue(c, kind, id);
}

static void *retrier(void *arg)
{
    mc_t *c = arg;
    memcached_st *m = NULL;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        if (c->nqueue == 0 && !c->flush) {
            pthread_cond_wait(&c->wake, &c->lock);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += MC_RETRY_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&c->wake, &c->lock, &ts);
        if (c->stopping)
            break;
        /* takes the queue whole, tries it, puts back what still fails */
        pending_t *q = c->queue;
        size_t n = c->nqueue;
        bool flush = c->flush;
        c->queue = NULL;
        c->nqueue = c->cap = 0;
        c->flush = false;
        pthread_mutex_unlock(&c->lock);
        if (m == NULL)
            m = conn(c);
        bool ok = m != NULL;
        if (ok && flush)
            ok = !failed(memcached_flush(m, 0));
        /* every delete is tried, but on an instance that failed in this
         * pass only once: one hung instance costs a pass one timeout, and
         * the others' deletes land meanwhile (were the pass to stop at the
         * first failure, an instance back from its own trouble would wait
         * for the hung one's) */
        bool down[MC_SERVERS_MAX + 1] = {false};
        /* the deletes still to do end up in q[0, left), in order; those done in q[left, tried) */
        size_t left = 0, tried = flush ? 0 : n;
        for (size_t i = 0; i < tried; i++)
            if (!ok || tombstone(c, m, q[i].kind, q[i].id, down) != 0) {
                pending_t p = q[i];
                q[i] = q[left];
                q[left++] = p;
            }
        pthread_mutex_lock(&c->lock);
        bool flushed = false; /* the flush owed is done */
        if (!ok && flush)
            c->flush = true;
        else if (flush && !c->flush && c->flush_owed) {
            c->flush_owed = false; /* done, and none owed since */
            atomic_fetch_sub(&c->nunsettled, 1);
            flushed = true;
        }
        for (size_t i = left; i < tried; i++)
            unsettle(c, q[i].kind, q[i].id, -1);
        for (size_t i = 0; i < left; i++)
            push(c, q[i]);
        /* the caches above drop what other processes may have copied
         * from the old entries meanwhile (outside the lock: a read that
         * waits on it is not held up by the bus) */
        cache_landed_fn landed = c->base.landed;
        if (landed != NULL && (tried > left || flushed)) {
            pthread_mutex_unlock(&c->lock);
            if (flushed)
                landed(c->base.landed_arg, CACHE_ALL, 0);
            for (size_t i = left; i < tried; i++)
                landed(c->base.landed_arg, q[i].kind, q[i].id);
            pthread_mutex_lock(&c->lock);
        }
        free(q);
        if (c->nqueue == 0 && !c->flush && c->warned) {
            c->warned = false;
            log_info("memcached: the invalidations that failed are done");
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void mc_clear(cache_t *base)
{
    mc_t *c = (mc_t *)base;
    memcached_st *m = conn(c);
    if (m == NULL || failed(memcached_flush(m, 0))) {
        pthread_mutex_lock(&c->lock);
        owe_flush(c);
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
    }
}

static cache_stats_t mc_stats(cache_t *base)
{
    mc_t *c = (mc_t *)base;
    return (cache_stats_t){.hits = atomic_load(&c->hits), .misses = atomic_load(&c->misses)};
}

static void mc_free(cache_t *base)
{
    mc_t *c = (mc_t *)base;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->retrier, NULL);
    if (c->nqueue > 0 || c->flush)
        log_warn("memcached: %zu invalidations%s not done at exit; entries live at most %d s", c->nqueue,
                 c->flush ? " (and a flush)" : "", MC_TTL_S);
    memcached_st *m = pthread_getspecific(c->key);
    if (m)
        memcached_free(m);
    pthread_key_delete(c->key);
    memcached_free(c->proto);
    pthread_mutex_destroy(&c->clone_lock);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    unsettle_none(c);
    free(c->queue);
    free(c);
}

static const cache_backend_t cache_backend_memcached = {
    .name = "memcached",
    .remote = true,
    .get_by = mc_get_by,
    .get_many = mc_get_many,
    .ticket = mc_ticket,
    .set_ttl = mc_set_ttl,
    .del = mc_del,
    .clear = mc_clear,
    .stats = mc_stats,
    .free = mc_free,
};

static int add_server(void *arg, const char *host, int port)
{
    return memcached_server_add(arg, host, (in_port_t)port) == MEMCACHED_SUCCESS ? 0 : -1;
}

cache_t *cache_memcached_open(const char *url, const char *ns, char *err, size_t errlen)
{
    memcached_st *proto = memcached_create(NULL);
    if (proto == NULL || cache_memcached_url_parse(url, add_server, proto) <= 0) {
        snprintf(err, errlen, "bad cache URL '%s' (expected local or memcached://HOST:PORT[,HOST:PORT...])", url);
        memcached_free(proto);
        return NULL;
    }
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_KETAMA, 1); /* consistent hashing */
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 0);
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_NO_BLOCK, 1); /* for the timeouts */
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1);
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, MC_TIMEOUT_MS);
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, MC_TIMEOUT_MS);
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, MC_TIMEOUT_MS * 1000);
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_SND_TIMEOUT, MC_TIMEOUT_MS * 1000);
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, MC_RETRY_S);
    memcached_behavior_set(proto, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1);
    mc_t *c = xcalloc(1, sizeof(*c));
    c->base.be = &cache_backend_memcached;
    c->proto = proto;
    snprintf(c->ns, sizeof(c->ns), "%s", ns != NULL && ns[0] ? ns : "-");
    /* the tests overflow a small queue; nobody else needs to set it */
    const char *qmax = getenv("PICOGRAM_MC_QUEUE_MAX");
    c->queue_max = qmax != NULL && atoi(qmax) > 0 ? (size_t)atoi(qmax) : MC_QUEUE_MAX;
    pthread_mutex_init(&c->clone_lock, NULL);
    pthread_key_create(&c->key, free_clone);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    pthread_create(&c->retrier, NULL, retrier, c);
    return &c->base;
}

cache_t *cache_open(const char *url, size_t max_bytes, const char *ns, char *err, size_t errlen)
{
    if (strcmp(url, "local") == 0)
        return cache_new(max_bytes);
    return cache_memcached_open(url, ns, err, errlen);
}
