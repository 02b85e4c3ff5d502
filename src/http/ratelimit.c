#include "http/ratelimit.h"
#include "core/buf.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>

#define STRIPES 64
#define PROBES 8

typedef struct slot {
    uint64_t key; /* 0 = empty */
    int64_t start_ms;
    uint32_t count;   /* the window's requests: the last shared total, plus pending */
    uint32_t pending; /* counted here and not yet shared (ratelimit_take) */
} slot_t;

typedef struct dirty {
    uint64_t *keys; /* keys whose pending went from 0 */
    size_t n, cap;
} dirty_t;

struct ratelimit {
    uint32_t limit;
    int64_t window_ms;
    uint32_t mask; /* slots - 1 */
    slot_t *slots;
    pthread_mutex_t locks[STRIPES];
    dirty_t dirty[STRIPES];      /* under the stripe's lock */
    ratelimit_dirty_fn on_dirty; /* set: windows are shared (ratelimit_share) */
    void *dirty_arg;
};

ratelimit_t *ratelimit_new(uint32_t limit, int64_t window_ms, uint32_t slots)
{
    uint32_t n = 1024;
    while (n < slots && n < (1u << 30))
        n <<= 1;
    ratelimit_t *rl = xcalloc(1, sizeof(*rl));
    rl->limit = limit;
    rl->window_ms = window_ms;
    rl->mask = n - 1;
    rl->slots = xcalloc(n, sizeof(slot_t));
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->locks[i], NULL);
    return rl;
}

void ratelimit_free(ratelimit_t *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_destroy(&rl->locks[i]);
        free(rl->dirty[i].keys);
    }
    free(rl->slots);
    free(rl);
}

uint64_t ratelimit_key(const void *p, size_t n)
{
    /* A fixed key is fine: this only spreads keys, the table is not exposed. */
    static const unsigned char k[crypto_shorthash_KEYBYTES] = "picogram-ratelim";
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, p, n, k);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | out[i];
    return v ? v : 1;
}

void ratelimit_share(ratelimit_t *rl, ratelimit_dirty_fn fn, void *arg)
{
    rl->dirty_arg = arg;
    rl->on_dirty = fn;
}

static uint32_t stripe_of(uint64_t key)
{
    return (uint32_t)(key % STRIPES);
}

/* The key's slot in its stripe (whose lock the caller holds), or NULL. */
static slot_t *do_find(ratelimit_t *rl, uint64_t key)
{
    uint32_t per_stripe = (rl->mask + 1) / STRIPES;
    slot_t *base = rl->slots + (size_t)stripe_of(key) * per_stripe;
    uint32_t h = (uint32_t)(key >> 8);
    for (uint32_t i = 0; i < PROBES; i++) {
        slot_t *s = &base[(h + i) & (per_stripe - 1)];
        if (s->key == key)
            return s;
    }
    return NULL;
}

static void do_mark(ratelimit_t *rl, uint64_t key)
{
    dirty_t *d = &rl->dirty[stripe_of(key)];
    if (d->n == d->cap)
        d->keys = xrealloc(d->keys, (d->cap = d->cap ? d->cap * 2 : 64) * sizeof(uint64_t));
    d->keys[d->n++] = key;
}

ratelimit_result_t ratelimit_hit(ratelimit_t *rl, uint64_t key, int64_t now_ms)
{
    if (key == 0)
        key = 1;
    /* shared windows start on multiples of the window, the same on every server */
    int64_t start = rl->on_dirty ? now_ms - now_ms % rl->window_ms : now_ms;
    /* Probes stay inside one stripe: slots are grouped by stripe in the high bits. */
    uint32_t per_stripe = (rl->mask + 1) / STRIPES;
    uint32_t stripe = stripe_of(key);
    slot_t *base = rl->slots + (size_t)stripe * per_stripe;
    uint32_t h = (uint32_t)(key >> 8);
    pthread_mutex_lock(&rl->locks[stripe]);
    slot_t *found = NULL, *reusable = NULL, *oldest = NULL;
    for (uint32_t i = 0; i < PROBES && found == NULL; i++) {
        slot_t *s = &base[(h + i) & (per_stripe - 1)];
        if (s->key == key)
            found = s;
        else if (s->key == 0 || now_ms - s->start_ms >= rl->window_ms)
            reusable = reusable ? reusable : s;
        else if (oldest == NULL || s->start_ms < oldest->start_ms)
            oldest = s;
    }
    slot_t *victim = reusable ? reusable : oldest;
    if (found == NULL) {
        found = victim;
        found->key = key;
        found->start_ms = start;
        found->count = found->pending = 0;
    } else if (now_ms - found->start_ms >= rl->window_ms || now_ms < found->start_ms - rl->window_ms) {
        found->start_ms = start; /* window over (or the clock jumped far back) */
        found->count = found->pending = 0;
    }
    ratelimit_result_t r = {.limit = rl->limit, .reset_at_ms = found->start_ms + rl->window_ms};
    bool marked = false, fresh = found->count == 0;
    if (found->count < rl->limit) {
        found->count++;
        r.allowed = true;
        if (rl->on_dirty && found->pending++ == 0) {
            do_mark(rl, key);
            marked = true;
        }
    }
    r.remaining = found->count >= rl->limit ? 0 : rl->limit - found->count; /* (a shared total may pass it) */
    pthread_mutex_unlock(&rl->locks[stripe]);
    if (marked)
        rl->on_dirty(rl->dirty_arg, fresh);
    return r;
}

size_t ratelimit_take(ratelimit_t *rl, rl_delta_t **out, size_t *cap)
{
    size_t n = 0;
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&rl->locks[i]);
        dirty_t *d = &rl->dirty[i];
        for (size_t k = 0; k < d->n; k++) {
            slot_t *s = do_find(rl, d->keys[k]);
            if (s == NULL || s->pending == 0)
                continue; /* recycled, or listed twice */
            if (n == *cap)
                *out = xrealloc(*out, (*cap = *cap ? *cap * 2 : 256) * sizeof(rl_delta_t));
            (*out)[n++] = (rl_delta_t){s->key, s->start_ms, s->pending};
            s->pending = 0;
        }
        d->n = 0;
        pthread_mutex_unlock(&rl->locks[i]);
    }
    return n;
}

static slot_t *do_find_window(ratelimit_t *rl, const rl_delta_t *d)
{
    slot_t *s = do_find(rl, d->key);
    return s && s->start_ms == d->start_ms ? s : NULL;
}

void ratelimit_total(ratelimit_t *rl, const rl_delta_t *d, uint64_t total)
{
    uint32_t stripe = stripe_of(d->key);
    pthread_mutex_lock(&rl->locks[stripe]);
    slot_t *s = do_find_window(rl, d);
    if (s) {
        uint64_t c = total + s->pending;
        s->count = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
    }
    pthread_mutex_unlock(&rl->locks[stripe]);
}

void ratelimit_untake(ratelimit_t *rl, const rl_delta_t *d)
{
    uint32_t stripe = stripe_of(d->key);
    pthread_mutex_lock(&rl->locks[stripe]);
    slot_t *s = do_find_window(rl, d);
    if (s) {
        if (s->pending == 0)
            do_mark(rl, d->key);
        s->pending += d->n;
    }
    pthread_mutex_unlock(&rl->locks[stripe]);
}
