/*
 * The embedded object cache: striped hash tables, each with its own lock,
 * memory budget and replacement list.
 *
 * DESIGN
 * Each stripe's table chains its entries and doubles when it holds more
 * entries than buckets, so a cache sized for the machine (cache_size: a
 * share of its RAM) keeps chains of one or two. A bucket is found from the
 * hash's high bits, the stripe from its low ones.
 *
 * Replacement is CLOCK (second chance), not strict LRU: a hit sets the
 * entry's reference bit, which touches only the entry read. Moving it to
 * the list's head would write its two neighbours and the old head, three
 * more lines from anywhere in memory per hit, and a page of photos is about
 * 150 hits. Eviction takes the list's tail: an entry referenced since it
 * last came round goes back to the head with its bit cleared, one that was
 * not is dropped. New entries go to the head.
 */
#include "cache/backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRIPES 16
#define BUCKETS_MIN_BITS 10 /* per stripe, at first; doubled as entries come */
#define DELETED 4096        /* per stripe: slots remembering the last delete, by hash */

typedef struct entry {
    struct entry *next_hash, *prev_lru, *next_lru;
    uint64_t h; /* mix(kind, id) */
    int kind;
    bool ref; /* read since it last came round (CLOCK) */
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
    entry_t **buckets;
    unsigned bits;                /* 1 << bits buckets */
    uint64_t deleted[DELETED];    /* the sequence number of each slot's last delete */
    entry_t *lru_head, *lru_tail; /* head: newest, or last given a second chance */
    size_t bytes, max_bytes, entries;
    uint64_t hits, misses;
} stripe_t;

typedef struct lru {
    cache_t base;
    stripe_t stripes[STRIPES];
    _Atomic uint64_t epoch;   /* advanced by every delete: see the ticket in cache.h */
    _Atomic uint64_t cleared; /* the sequence number of the last cache_clear */
} lru_t;

/* splitmix64's finaliser over the ID and kind: every bit of the hash
 * depends on every bit of both, the low ones (the stripe) too */
static uint64_t mix(int kind, int64_t id)
{
    uint64_t x = (uint64_t)id + 0x9e3779b97f4a7c15ULL * (uint64_t)(kind + 1);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static stripe_t *stripe_of(lru_t *c, uint64_t h)
{
    return &c->stripes[h % STRIPES];
}

static uint64_t *deleted_of(stripe_t *s, uint64_t h)
{
    return &s->deleted[(h / STRIPES) % DELETED];
}

cache_t *cache_new(size_t max_bytes)
{
    lru_t *c = xcalloc(1, sizeof(*c));
    c->base.be = &cache_backend_lru;
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutexattr_t a; /* spins a while before it sleeps: the holds are short */
        pthread_mutexattr_init(&a);
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
        pthread_mutex_init(&c->stripes[i].lock, &a);
        pthread_mutexattr_destroy(&a);
        c->stripes[i].max_bytes = max_bytes / STRIPES;
        c->stripes[i].bits = BUCKETS_MIN_BITS;
        c->stripes[i].buckets = xcalloc((size_t)1 << BUCKETS_MIN_BITS, sizeof(entry_t *));
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
        free(c->stripes[i].buckets);
        pthread_mutex_destroy(&c->stripes[i].lock);
    }
    free(c);
}

static entry_t **bucket_of(stripe_t *s, uint64_t h)
{
    return &s->buckets[h >> (64 - s->bits)];
}

/* Twice the buckets, each entry rehashed (under the stripe's lock). */
static void grow(stripe_t *s)
{
    unsigned bits = s->bits + 1;
    entry_t **nb = calloc((size_t)1 << bits, sizeof(entry_t *));
    if (nb == NULL)
        return; /* longer chains, not a failure */
    for (size_t i = 0; i < (size_t)1 << s->bits; i++)
        for (entry_t *e = s->buckets[i], *n; e; e = n) {
            n = e->next_hash;
            entry_t **b = &nb[e->h >> (64 - bits)];
            e->next_hash = *b;
            *b = e;
        }
    free(s->buckets);
    /* atomic: lru_get_many's first pass reads them without the lock */
    __atomic_store_n(&s->buckets, nb, __ATOMIC_RELAXED);
    __atomic_store_n(&s->bits, bits, __ATOMIC_RELAXED);
}

static entry_t **slot_of(stripe_t *s, uint64_t h, int kind, int64_t id)
{
    entry_t **p = bucket_of(s, h);
    while (*p && !((*p)->h == h && (*p)->kind == kind && (*p)->id == id))
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
        if (!e->ref) /* CLOCK: no write to a line already marked */
            e->ref = true;
        buf_append(out, e->val, e->len);
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->lock);
    return e != NULL;
}

/* The entries of kind for ids, to found (a stale one is a miss here, as
 * for a get with no refiller). A page asks for its twenty photos, then for
 * a hundred or so users: one by one, each ask waits for its bucket, then
 * for its entry, from anywhere in memory. Here they go in three passes:
 * the buckets are prefetched, then (a stripe's lock held once a pass) the
 * entries they lead to, then the entries are read, by then in the CPU's
 * cache or on their way. (Between passes an entry may
 * go; the last pass reads only what it finds under the lock, and a
 * prefetch of memory freed meanwhile is harmless.) */
static void lru_get_many(cache_t *base, cache_ticket_t *t, int kind, const int64_t *ids, size_t n, cache_found_fn found,
                         void *arg)
{
    (void)t;
    lru_t *c = (lru_t *)base;
    /* the asks grouped by stripe (a counting sort): at[start[s]..start[s + 1]) */
    uint64_t *hs = xmalloc((n ? n : 1) * (sizeof(*hs) + sizeof(size_t)));
    size_t *at = (size_t *)(hs + (n ? n : 1)), start[STRIPES + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        hs[i] = mix(kind, ids[i]);
        start[hs[i] % STRIPES + 1]++;
    }
    for (int si = 0; si < STRIPES; si++)
        start[si + 1] += start[si];
    size_t fill[STRIPES];
    memcpy(fill, start, sizeof(fill));
    for (size_t i = 0; i < n; i++)
        at[fill[hs[i] % STRIPES]++] = i;
    /* The first pass takes no lock: it only prefetches, and an address
     * from a table that grew meanwhile (the array and its size read apart)
     * is a prefetch of nothing useful, never a fault. It saves a third of
     * the lock handovers, each a cache line from the other loop's core. */
    for (size_t i = 0; i < n; i++) {
        stripe_t *s = &c->stripes[hs[i] % STRIPES];
        entry_t **b = __atomic_load_n(&s->buckets, __ATOMIC_RELAXED);
        unsigned bits = __atomic_load_n(&s->bits, __ATOMIC_RELAXED);
        __builtin_prefetch(&b[hs[i] >> (64 - bits)]);
    }
    int64_t now = 0;
    for (int pass = 1; pass < 3; pass++)
        for (int si = 0; si < STRIPES; si++) {
            if (start[si] == start[si + 1])
                continue;
            stripe_t *s = &c->stripes[si];
            pthread_mutex_lock(&s->lock);
            for (size_t k = start[si]; k < start[si + 1]; k++) {
                size_t i = at[k];
                if (pass == 1) {
                    if (*bucket_of(s, hs[i]) != NULL)
                        __builtin_prefetch(*bucket_of(s, hs[i]));
                    continue;
                }
                entry_t *e = *slot_of(s, hs[i], kind, ids[i]);
                if (e && e->expires_ms) {
                    now = now ? now : mono_ms();
                    if (now >= e->expires_ms)
                        e = NULL; /* stale: the caller's own read refills it */
                }
                if (e) {
                    if (!e->ref)
                        e->ref = true;
                    s->hits++;
                    found(arg, ids[i], e->val, e->len);
                } else {
                    s->misses++;
                }
            }
            pthread_mutex_unlock(&s->lock);
        }
    free(hs);
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
    e->h = h, e->kind = kind, e->id = id, e->len = len;
    e->ref = false;
    e->expires_ms = ttl_ms > 0 ? mono_ms() + ttl_ms : 0;
    e->refiller = 0;
    memcpy(e->val, val, len);
    pthread_mutex_lock(&s->lock);
    /* the key may have changed since the caller's snapshot; or the cache
     * was cleared, or is off */
    if (*deleted_of(s, h) > ticket || atomic_load(&c->cleared) > ticket ||
        atomic_load(&c->base.off)) {
        pthread_mutex_unlock(&s->lock);
        free(e);
        return;
    }
    entry_t **p = slot_of(s, h, kind, id);
    if (*p)
        drop(s, p);
    if (s->entries >= (size_t)1 << s->bits)
        grow(s);
    entry_t **b = bucket_of(s, h);
    e->next_hash = *b;
    *b = e;
    lru_push(s, e);
    s->bytes += sizeof(*e) + len;
    s->entries++;
    while (s->bytes > s->max_bytes && s->lru_tail) {
        entry_t *victim = s->lru_tail;
        if (victim->ref || victim == e) { /* a second chance (each bit is cleared once a round); never the new one */
            victim->ref = false;
            lru_unlink(s, victim);
            lru_push(s, victim);
            continue;
        }
        drop(s, slot_of(s, victim->h, victim->kind, victim->id));
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
    uint64_t *last = deleted_of(s, h);
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
            drop(s, slot_of(s, victim->h, victim->kind, victim->id));
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
    .get_many = lru_get_many,
    .ticket = lru_ticket,
    .set_ttl = lru_set_ttl,
    .del = lru_del,
    .clear = lru_clear,
    .stats = lru_stats,
    .free = lru_free,
};
