#include "core/token.h"
#include "core/ids.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void token_generate(int64_t user_id, char *out)
{
    unsigned char rnd[TOKEN_RANDOM_BYTES];
    randombytes_buf(rnd, sizeof(rnd));
    int n = snprintf(out, TOKEN_MAX_LEN + 1, "%lld.", (long long)user_id);
    sodium_bin2base64(out + n, TOKEN_MAX_LEN + 1 - (size_t)n, rnd, sizeof(rnd),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(rnd, sizeof(rnd));
}

int64_t token_user_id(const char *tok, size_t n)
{
    if (n > TOKEN_MAX_LEN)
        return 0;
    const char *dot = memchr(tok, '.', n);
    if (dot == NULL || dot == tok + n - 1)
        return 0;
    for (const char *p = dot + 1; p < tok + n; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return ids_parse(tok, (size_t)(dot - tok));
}

void token_hash(const char *tok, size_t n, unsigned char out[TOKEN_HASH_BYTES])
{
    crypto_generichash(out, TOKEN_HASH_BYTES, (const unsigned char *)tok, n, NULL, 0);
}
