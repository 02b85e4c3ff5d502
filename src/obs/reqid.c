#include "obs/reqid.h"

#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

bool reqid_valid(const char *p, size_t n)
{
    if (n == 0 || n > REQID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static uint64_t prefix;
static _Atomic uint64_t counter;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_prefix(void)
{
    randombytes_buf(&prefix, sizeof(prefix));
    uint64_t start;
    randombytes_buf(&start, sizeof(start));
    atomic_store(&counter, start);
}

void reqid_new(char out[REQID_MAX + 1])
{
    pthread_once(&once, init_prefix);
    uint64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    snprintf(out, REQID_MAX + 1, "%016" PRIx64 "%016" PRIx64, prefix, n);
}
