/* Fuzzes the Range header check: whatever it lets through is one range of
 * bytes with no comma, and deciding twice gives the same answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v = (const char *)data;
    bool ok = range_single_ok(v, size);
    if (ok && (memchr(v, ',', size) != NULL || size < 8))
        abort();
    if (ok != range_single_ok(v, size))
        abort();
    return 0;
}
