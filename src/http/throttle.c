#include "http/throttle.h"
#include "core/buf.h"

#include <pthread.h>
#include <stdlib.h>

#define STRIPES 64
#define PROBES 8

typedef struct slot {
    uint64_t key; /* 0 = empty */
    uint32_t inflight;
    uint32_t failures;
    int64_t until_ms;   /* no attempt before this */
    int64_t touched_ms; /* last use */
} slot_t;

struct throttle {
    uint32_t per_stripe; /* a power of two */
    slot_t *slots;
    pthread_mutex_t locks[STRIPES];
};

throttle_t *throttle_new(uint32_t slots)
{
    uint32_t n = 1024;
    while (n < slots && n < (1u << 28))
        n <<= 1;
    throttle_t *t = xcalloc(1, sizeof(*t));
    t->per_stripe = n / STRIPES;
    t->slots = xcalloc(n, sizeof(slot_t));
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&t->locks[i], NULL);
    return t;
}

void throttle_free(throttle_t *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&t->locks[i]);
    free(t->slots);
    free(t);
}

static bool idle(const slot_t *s, int64_t now_ms)
{
    return s->key == 0 || (s->inflight == 0 && now_ms - s->touched_ms >= THROTTLE_FORGET_MS && now_ms >= s->until_ms);
}

/* The key's slot (made if `make`), with its stripe locked; NULL (and
 * unlocked) if it has none, or none can be made. */
static slot_t *find(throttle_t *t, uint64_t key, bool make, int64_t now_ms, pthread_mutex_t **lock)
{
    if (key == 0)
        key = 1;
    uint32_t stripe = (uint32_t)(key % STRIPES);
    slot_t *base = t->slots + (size_t)stripe * t->per_stripe;
    uint32_t h = (uint32_t)(key >> 8);
    *lock = &t->locks[stripe];
    pthread_mutex_lock(*lock);
    slot_t *reusable = NULL, *oldest = NULL;
    for (uint32_t i = 0; i < PROBES; i++) {
        slot_t *s = &base[(h + i) & (t->per_stripe - 1)];
        if (s->key == key)
            return s;
        if (idle(s, now_ms))
            reusable = reusable ? reusable : s;
        else if (s->inflight == 0 && (oldest == NULL || s->touched_ms < oldest->touched_ms))
            oldest = s;
    }
    slot_t *victim = reusable ? reusable : oldest;
    if (!make || victim == NULL) {
        pthread_mutex_unlock(*lock);
        return NULL;
    }
    *victim = (slot_t){.key = key, .touched_ms = now_ms};
    return victim;
}

bool throttle_acquire(throttle_t *t, uint64_t key, uint32_t max, int64_t now_ms)
{
    pthread_mutex_t *lock;
    slot_t *s = find(t, key, true, now_ms, &lock);
    if (s == NULL)
        return false;
    bool ok = s->inflight < max;
    if (ok)
        s->inflight++;
    s->touched_ms = now_ms;
    pthread_mutex_unlock(lock);
    return ok;
}

void throttle_release(throttle_t *t, uint64_t key)
{
    pthread_mutex_t *lock;
    slot_t *s = find(t, key, false, 0, &lock);
    if (s == NULL)
        return;
    if (s->inflight > 0)
        s->inflight--;
    pthread_mutex_unlock(lock);
}

int64_t throttle_wait_ms(throttle_t *t, uint64_t key, int64_t now_ms)
{
    pthread_mutex_t *lock;
    slot_t *s = find(t, key, false, now_ms, &lock);
    if (s == NULL)
        return 0;
    int64_t wait = s->until_ms > now_ms ? s->until_ms - now_ms : 0;
    pthread_mutex_unlock(lock);
    return wait;
}

void throttle_failure(throttle_t *t, uint64_t key, uint32_t free_failures, int64_t now_ms)
{
    pthread_mutex_t *lock;
    slot_t *s = find(t, key, true, now_ms, &lock);
    if (s == NULL)
        return;
    if (now_ms - s->touched_ms >= THROTTLE_FORGET_MS)
        s->failures = 0; /* the last failure was long ago */
    s->failures++;
    s->touched_ms = now_ms;
    if (s->failures > free_failures) {
        uint32_t extra = s->failures - free_failures - 1;
        int64_t backoff = extra >= 20 ? THROTTLE_MAX_BACKOFF_MS : 1000LL << extra;
        s->until_ms = now_ms + (backoff < THROTTLE_MAX_BACKOFF_MS ? backoff : THROTTLE_MAX_BACKOFF_MS);
    }
    pthread_mutex_unlock(lock);
}

void throttle_success(throttle_t *t, uint64_t key)
{
    pthread_mutex_t *lock;
    slot_t *s = find(t, key, false, 0, &lock);
    if (s == NULL)
        return;
    s->failures = 0;
    s->until_ms = 0;
    pthread_mutex_unlock(lock);
}
