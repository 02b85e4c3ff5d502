#include "core/ids.h"
#include "core/buf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* State per shard: (ms since epoch << IDS_COUNTER_BITS) | last counter
 * issued. One word, so a CAS moves both at once. */
struct ids_gen {
    unsigned node;
    _Atomic uint64_t last[IDS_NSHARDS];
};

void ids_gen_set_node(ids_gen_t *g, unsigned node)
{
    g->node = node & (IDS_NODES - 1);
}

ids_gen_t *ids_gen_new(void)
{
    ids_gen_t *g = xmalloc(sizeof(*g));
    g->node = 0;
    for (unsigned i = 0; i < IDS_NSHARDS; i++)
        atomic_init(&g->last[i], 0);
    return g;
}

void ids_gen_free(ids_gen_t *g)
{
    free(g);
}

static ids_gen_t *global_gen;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void make_global(void)
{
    global_gen = ids_gen_new();
}

ids_gen_t *ids_global(void)
{
    pthread_once(&global_once, make_global);
    return global_gen;
}

int64_t ids_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ids_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ids_make(int64_t unix_ms, unsigned shard, unsigned seq)
{
    uint64_t t = (uint64_t)(unix_ms - PICOGRAM_EPOCH_MS) & ((1ULL << IDS_TIME_BITS) - 1);
    return (int64_t)((t << (IDS_SHARD_BITS + IDS_SEQ_BITS)) | ((uint64_t)(shard & (IDS_NSHARDS - 1)) << IDS_SEQ_BITS) |
                     (seq & IDS_SEQ_MAX));
}

int64_t ids_next_at(ids_gen_t *g, unsigned shard, int64_t unix_ms)
{
    shard &= IDS_NSHARDS - 1;
    uint64_t now = unix_ms > PICOGRAM_EPOCH_MS ? (uint64_t)(unix_ms - PICOGRAM_EPOCH_MS) : 0;
    _Atomic uint64_t *slot = &g->last[shard];
    uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);
    uint64_t next;
    do {
        uint64_t old_ms = old >> IDS_COUNTER_BITS, old_seq = old & IDS_COUNTER_MAX;
        if (old == 0 && now == 0)
            next = 0; /* the very first ID at the epoch itself */
        else if (now > old_ms)
            next = now << IDS_COUNTER_BITS;
        else if (old_seq < IDS_COUNTER_MAX)
            next = old + 1; /* same ms, or the clock stepped back: keep the old ms */
        else
            next = (old_ms + 1) << IDS_COUNTER_BITS; /* the counter ran out: borrow the next ms */
    } while (!atomic_compare_exchange_weak_explicit(slot, &old, next, memory_order_relaxed, memory_order_relaxed));
    uint64_t ms = next >> IDS_COUNTER_BITS, seq = next & IDS_COUNTER_MAX;
    return ids_make((int64_t)ms + PICOGRAM_EPOCH_MS, shard, g->node << IDS_COUNTER_BITS | (unsigned)seq);
}

int64_t ids_next(ids_gen_t *g, unsigned shard)
{
    return ids_next_at(g, shard, ids_now_ms());
}

int64_t ids_parse(const char *s, size_t n)
{
    if (n == 0 || n > 19)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return 0;
    return (int64_t)v;
}

static const char shortcode_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void ids_shortcode(int64_t id, char out[IDS_SHORTCODE_MAX + 1])
{
    char tmp[IDS_SHORTCODE_MAX];
    size_t n = 0;
    uint64_t v = (uint64_t)id;
    do {
        tmp[n++] = shortcode_alphabet[v & 63];
        v >>= 6;
    } while (v && n < IDS_SHORTCODE_MAX);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

int64_t ids_from_shortcode(const char *s, size_t n)
{
    if (n == 0 || n > IDS_SHORTCODE_MAX)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = s[i] ? strchr(shortcode_alphabet, s[i]) : NULL;
        if (p == NULL)
            return 0;
        if (v >> 58) /* would overflow 64 bits */
            return 0;
        v = v << 6 | (uint64_t)(p - shortcode_alphabet);
    }
    if (v == 0 || v > (uint64_t)INT64_MAX)
        return 0;
    return (int64_t)v;
}
