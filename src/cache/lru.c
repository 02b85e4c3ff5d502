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
 * A batched read (lru_get_many) looks at the buckets before it takes the
 * locks, to prefetch what they lead to. So a table is published with one
 * pointer (its size inside it), a bucket's head is written atomically,
 * and a table a growth replaced is kept until the cache is freed: the
 * tables replaced add up to less than the one in use.
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
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRIPES 16
#define BUCKETS_MIN_BITS 10 /* per stripe, at first; doubled as entries come */
#define DELETED 4096        /* per stripe: slots remembering the last delete, by hash */

/* What a read looks at comes first, in 48 bytes (the lines that
 * lru_get_many prefetches before it takes the lock). */
typedef struct entry {
    struct entry *next_hash;
    uint64_t h; /* mix(kind, id) */
    int64_t id;
    size_t len;
    int64_t expires_ms; /* monotonic; 0: never */
    int kind;
    bool ref;          /* read since it last came round (CLOCK) */
    uint64_t refiller; /* who refills it, once it is stale (cache_get_by) */
    struct entry *prev_lru, *next_lru;
    char val[];
} entry_t;
#define ENTRY_READ_BYTES offsetof(entry_t, refiller)

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct table {
    unsigned bits;          /* 1 << bits buckets */
    struct table *replaced; /* by this one: kept for a reader without the lock */
    entry_t *buckets[];
} table_t;

typedef struct stripe {
    pthread_mutex_t lock;
    table_t *table;               /* written with the lock held, read also without (atomically) */
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

static table_t *table_new(unsigned bits)
{
    table_t *t = xcalloc(1, sizeof(*t) + ((size_t)1 << bits) * sizeof(entry_t *));
    t->bits = bits;
    return t;
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
        c->stripes[i].table = table_new(BUCKETS_MIN_BITS);
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
        for (table_t *t = c->stripes[i].table, *r; t; t = r) {
            r = t->replaced;
            free(t);
        }
        pthread_mutex_destroy(&c->stripes[i].lock);
    }
    free(c);
}

static entry_t **bucket_in(table_t *t, uint64_t h)
{
    return &t->buckets[h >> (64 - t->bits)];
}

static entry_t **bucket_of(stripe_t *s, uint64_t h)
{
    return bucket_in(s->table, h);
}

/* *p = e, where p may be a bucket's head: atomically, for a reader of the
 * head without the lock (lru_get_many), which only prefetches what it reads */
static void link_to(entry_t **p, entry_t *e)
{
    __atomic_store_n(p, e, __ATOMIC_RELAXED);
}

/* Twice the buckets, each entry rehashed (under the stripe's lock). */
static void grow(stripe_t *s)
{
    table_t *old = s->table;
    table_t *t = calloc(1, sizeof(*t) + ((size_t)2 << old->bits) * sizeof(entry_t *));
    if (t == NULL)
        return; /* longer chains, not a failure */
    t->bits = old->bits + 1;
    t->replaced = old;
    for (size_t i = 0; i < (size_t)1 << old->bits; i++)
        for (entry_t *e = old->buckets[i], *n; e; e = n) {
            n = e->next_hash;
            entry_t **b = bucket_in(t, e->h);
            e->next_hash = *b;
            *b = e;
        }
    /* filled before it is seen: the release pairs with the readers' acquire */
    __atomic_store_n(&s->table, t, __ATOMIC_RELEASE);
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
    link_to(p, e->next_hash);
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
 * a hundred or so users: one by one, each ask would wait for its bucket,
 * then for its entry, then for the rest of its value (a photo's is 22
 * lines), each from anywhere in memory. Here the waits overlap, in four
 * passes: the buckets are prefetched, then the entries their heads lead
 * to (both without a lock), then (a stripe's lock held once a pass) the
 * values of the entries found, and the last pass reads the entries, by
 * then in the CPU's cache or on their way. A pass without the lock only
 * prefetches: what it reads may be gone or moved by the next, which
 * finds the entries again under the lock; a prefetch of memory freed
 * meanwhile is harmless. */
static void lru_get_many(cache_t *base, cache_ticket_t *t, int kind, const int64_t *ids, size_t n, cache_found_fn found,
                         void *arg)
{
    (void)t;
    lru_t *c = (lru_t *)base;
    /* the asks grouped by stripe (a counting sort): at[start[s]..start[s + 1]);
     * a page's (a hundred or so) on the stack, more on the heap */
    uint64_t hs_s[256];
    size_t at_s[256];
    uint64_t *hs = n <= 256 ? hs_s : xmalloc(n * (sizeof(*hs) + sizeof(size_t)));
    size_t *at = n <= 256 ? at_s : (size_t *)(hs + n), start[STRIPES + 1] = {0};
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
    table_t *tables[STRIPES]; /* as they were: any one, even replaced since, is kept */
    for (int si = 0; si < STRIPES; si++)
        if (start[si] != start[si + 1])
            tables[si] = __atomic_load_n(&c->stripes[si].table, __ATOMIC_ACQUIRE);
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            entry_t **b = bucket_in(tables[hs[i] % STRIPES], hs[i]);
            if (pass == 0) {
                __builtin_prefetch(b);
            } else {
                entry_t *e = __atomic_load_n(b, __ATOMIC_RELAXED);
                if (e != NULL) { /* (an entry's first 48 bytes may span two lines) */
                    __builtin_prefetch(e);
                    __builtin_prefetch((char *)e + ENTRY_READ_BYTES - 1);
                }
            }
        }
    int64_t now = 0;
    for (int pass = 2; pass < 4; pass++)
        for (int si = 0; si < STRIPES; si++) {
            if (start[si] == start[si + 1])
                continue;
            stripe_t *s = &c->stripes[si];
            pthread_mutex_lock(&s->lock);
            for (size_t k = start[si]; k < start[si + 1]; k++) {
                size_t i = at[k];
                entry_t *e = *slot_of(s, hs[i], kind, ids[i]);
                if (pass == 2) { /* (up to 4 KB: a larger value is streamed) */
                    size_t upto = e == NULL ? 0 : e->len < 4096 ? e->len : 4096;
                    for (size_t o = 0; o < upto; o += 64)
                        __builtin_prefetch(e->val + o);
                    if (upto > 0)
                        __builtin_prefetch(e->val + upto - 1);
                    continue;
                }
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
    if (hs != hs_s)
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
    if (s->entries >= (size_t)1 << s->table->bits)
        grow(s);
    entry_t **b = bucket_of(s, h);
    e->next_hash = *b;
    link_to(b, e);
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
