/* Fuzzes token parsing: a token is accepted only in its exact shape. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t uid = token_user_id(s, size);
    if (uid < 0)
        abort();
    if (uid > 0) {
        const char *dot = memchr(s, '.', size);
        if (dot == NULL || size > TOKEN_MAX_LEN)
            abort();
        for (const char *p = s; p < dot; p++)
            if (*p < '0' || *p > '9')
                abort();
    }
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(s, size, h);
    return 0;
}
