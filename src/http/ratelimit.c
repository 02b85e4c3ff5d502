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
    uint32_t count;
} slot_t;

struct ratelimit {
    uint32_t limit;
    int64_t window_ms;
    uint32_t mask; /* slots - 1 */
    slot_t *slots;
    pthread_mutex_t locks[STRIPES];
    unsigned char hashkey[crypto_shorthash_KEYBYTES];
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
    randombytes_buf(rl->hashkey, sizeof(rl->hashkey));
    return rl;
}

void ratelimit_free(ratelimit_t *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->locks[i]);
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

ratelimit_result_t ratelimit_hit(ratelimit_t *rl, uint64_t key, int64_t now_ms)
{
    if (key == 0)
        key = 1;
    /* Probes stay inside one stripe: slots are grouped by stripe in the high bits. */
    uint32_t per_stripe = (rl->mask + 1) / STRIPES;
    uint32_t stripe = (uint32_t)(key % STRIPES);
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
        found->start_ms = now_ms;
        found->count = 0;
    } else if (now_ms - found->start_ms >= rl->window_ms || now_ms < found->start_ms - rl->window_ms) {
        found->start_ms = now_ms; /* window over (or the clock jumped far back) */
        found->count = 0;
    }
    ratelimit_result_t r = {.limit = rl->limit, .reset_at_ms = found->start_ms + rl->window_ms};
    if (found->count < rl->limit) {
        found->count++;
        r.allowed = true;
    }
    r.remaining = rl->limit - found->count;
    pthread_mutex_unlock(&rl->locks[stripe]);
    return r;
}
