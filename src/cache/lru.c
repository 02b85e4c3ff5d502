/* The embedded object cache: striped hash tables with an LRU list each. */
#include "cache/backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRIPES 16
#define BUCKETS 4096 /* per stripe; chains grow past it */

typedef struct entry {
    struct entry *next_hash, *prev_lru, *next_lru;
    int kind;
    int64_t id;
    int64_t expires_ms; /* monotonic; 0: never */
    uint64_t refiller;  /* who refills it, once it is stale (cache_get_by) */
    size_t len;
    char val[];
} entry_t;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct stripe {
    pthread_mutex_t lock;
    entry_t *buckets[BUCKETS];
    uint64_t deleted[BUCKETS];    /* the sequence number of each bucket's last delete */
    entry_t *lru_head, *lru_tail; /* head: most recent */
    size_t bytes, max_bytes, entries;
    uint64_t hits, misses;
} stripe_t;

typedef struct lru {
    cache_t base;
    stripe_t stripes[STRIPES];
    _Atomic uint64_t epoch;   /* advanced by every delete: see the ticket in cache.h */
    _Atomic uint64_t cleared; /* the sequence number of the last cache_clear */
} lru_t;

static uint64_t mix(int kind, int64_t id)
{
    uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ULL ^ (uint64_t)kind;
    x ^= x >> 31;
    return x * 0xbf58476d1ce4e5b9ULL;
}

static stripe_t *stripe_of(lru_t *c, uint64_t h)
{
    return &c->stripes[h % STRIPES];
}

cache_t *cache_new(size_t max_bytes)
{
    lru_t *c = xcalloc(1, sizeof(*c));
    c->base.be = &cache_backend_lru;
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_init(&c->stripes[i].lock, NULL);
        c->stripes[i].max_bytes = max_bytes / STRIPES;
    }
    return &c->base;
}

static void lru_free(cache_t *base)
{
    lru_t *c = (lru_t *)base;
    for (int i = 0; i < STRIPES; i++) {
        for (entry_t *e = c->stripes[i].lru_head, *n; e; e = n) {
            n = e->next_lru;
            free(e);
        }
        pthread_mutex_destroy(&c->stripes[i].lock);
    }
    free(c);
}

static entry_t **slot_of(stripe_t *s, uint64_t h, int kind, int64_t id)
{
    entry_t **p = &s->buckets[(h / STRIPES) % BUCKETS];
    while (*p && !((*p)->kind == kind && (*p)->id == id))
        p = &(*p)->next_hash;
    return p;
}

static void lru_unlink(stripe_t *s, entry_t *e)
{
    if (e->prev_lru)
        e->prev_lru->next_lru = e->next_lru;
    else
        s->lru_head = e->next_lru;
    if (e->next_lru)
        e->next_lru->prev_lru = e->prev_lru;
    else
        s->lru_tail = e->prev_lru;
}

static void lru_push(stripe_t *s, entry_t *e)
{
    e->prev_lru = NULL;
    e->next_lru = s->lru_head;
    if (s->lru_head)
        s->lru_head->prev_lru = e;
    s->lru_head = e;
    if (s->lru_tail == NULL)
        s->lru_tail = e;
}

/* Unlinks and frees the entry *p points at. */
static void drop(stripe_t *s, entry_t **p)
{
    entry_t *e = *p;
    *p = e->next_hash;
    lru_unlink(s, e);
    s->bytes -= sizeof(*e) + e->len;
    s->entries--;
    free(e);
}

static bool lru_get_by(cache_t *base, cache_ticket_t *t, int kind, int64_t id, buf_t *out, uint64_t who,
                       int64_t *left_ms)
{
    (void)t;
    lru_t *c = (lru_t *)base;
    uint64_t h = mix(kind, id);
    stripe_t *s = stripe_of(c, h);
    pthread_mutex_lock(&s->lock);
    entry_t **p = slot_of(s, h, kind, id);
    entry_t *e = *p;
    if (e && e->expires_ms) {
        int64_t now = mono_ms();
        if (now >= e->expires_ms + CACHE_STALE_MS) {
            drop(s, p);
            e = NULL;
        } else if (now >= e->expires_ms && (who == 0 || e->refiller == 0 || e->refiller == who)) {
            if (who) /* stale: this caller refills; the others get it until then */
                e->refiller = who;
            e = NULL;
        }
    }
    if (e) {
        if (left_ms != NULL)
            *left_ms = e->expires_ms ? e->expires_ms - mono_ms() : 0;
        lru_unlink(s, e);
        lru_push(s, e);
        buf_append(out, e->val, e->len);
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->lock);
    return e != NULL;
}

static void lru_ticket(cache_t *base, cache_ticket_t *t)
{
    t->seq = atomic_load(&((lru_t *)base)->epoch);
}

static void lru_set_ttl(cache_t *base, int kind, int64_t id, const void *val, size_t len, const cache_ticket_t *t,
                        int64_t ttl_ms)
{
    uint64_t ticket = t->seq;
    lru_t *c = (lru_t *)base;
    uint64_t h = mix(kind, id);
    stripe_t *s = stripe_of(c, h);
    if (sizeof(entry_t) + len > s->max_bytes)
        return;
    entry_t *e = xmalloc(sizeof(*e) + len);
    e->kind = kind, e->id = id, e->len = len;
    e->expires_ms = ttl_ms > 0 ? mono_ms() + ttl_ms : 0;
    e->refiller = 0;
    memcpy(e->val, val, len);
    pthread_mutex_lock(&s->lock);
    /* the key may have changed since the caller's snapshot; or the cache
     * was cleared, or is off */
    if (s->deleted[(h / STRIPES) % BUCKETS] > ticket || atomic_load(&c->cleared) > ticket ||
        atomic_load(&c->base.off)) {
        pthread_mutex_unlock(&s->lock);
        free(e);
        return;
    }
    entry_t **p = slot_of(s, h, kind, id);
    if (*p)
        drop(s, p);
    e->next_hash = s->buckets[(h / STRIPES) % BUCKETS];
    s->buckets[(h / STRIPES) % BUCKETS] = e;
    lru_push(s, e);
    s->bytes += sizeof(*e) + len;
    s->entries++;
    while (s->bytes > s->max_bytes && s->lru_tail) {
        entry_t *victim = s->lru_tail;
        uint64_t vh = mix(victim->kind, victim->id);
        drop(s, slot_of(s, vh, victim->kind, victim->id));
    }
    pthread_mutex_unlock(&s->lock);
}

static void lru_del(cache_t *base, int kind, int64_t id)
{
    lru_t *c = (lru_t *)base;
    uint64_t h = mix(kind, id);
    stripe_t *s = stripe_of(c, h);
    /* numbered before the lock: a fill whose ticket is older, and that
     * comes after the drop, is refused; one that came before is dropped */
    uint64_t seq = atomic_fetch_add(&c->epoch, 1) + 1;
    pthread_mutex_lock(&s->lock);
    uint64_t *last = &s->deleted[(h / STRIPES) % BUCKETS];
    if (seq > *last) /* two deletes in a bucket may take the lock out of order */
        *last = seq;
    entry_t **p = slot_of(s, h, kind, id);
    if (*p)
        drop(s, p);
    pthread_mutex_unlock(&s->lock);
}

static void lru_clear(cache_t *base)
{
    lru_t *c = (lru_t *)base;
    /* numbered first: a fill with an older ticket that comes after is refused */
    atomic_store(&c->cleared, atomic_fetch_add(&c->epoch, 1) + 1);
    for (int i = 0; i < STRIPES; i++) {
        stripe_t *s = &c->stripes[i];
        pthread_mutex_lock(&s->lock);
        while (s->lru_tail) {
            entry_t *victim = s->lru_tail;
            drop(s, slot_of(s, mix(victim->kind, victim->id), victim->kind, victim->id));
        }
        pthread_mutex_unlock(&s->lock);
    }
}

static cache_stats_t lru_stats(cache_t *base)
{
    lru_t *c = (lru_t *)base;
    cache_stats_t st = {0};
    for (int i = 0; i < STRIPES; i++) {
        stripe_t *s = &c->stripes[i];
        pthread_mutex_lock(&s->lock);
        st.hits += s->hits, st.misses += s->misses, st.entries += s->entries, st.bytes += s->bytes;
        pthread_mutex_unlock(&s->lock);
    }
    return st;
}

const cache_backend_t cache_backend_lru = {
    .name = "local",
    .remote = false,
    .get_by = lru_get_by,
    .ticket = lru_ticket,
    .set_ttl = lru_set_ttl,
    .del = lru_del,
    .clear = lru_clear,
    .stats = lru_stats,
    .free = lru_free,
};
