#include "obs/reqid.h"

#include <sodium.h>
#include <stdint.h>

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

/* Each thread draws a random prefix once and counts on from a random
 * start: no lock and no cache line shared between the loops, on a path
 * every request takes. */
static __thread uint64_t prefix, next;
static __thread bool drawn;

static void hex64(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[i] = digits[v & 15];
}

void reqid_new(char out[REQID_MAX + 1])
{
    if (!drawn) {
        randombytes_buf(&prefix, sizeof(prefix));
        randombytes_buf(&next, sizeof(next));
        drawn = true;
    }
    hex64(out, prefix);
    hex64(out + 16, next++);
    out[32] = '\0';
}
