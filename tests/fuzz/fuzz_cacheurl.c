/* Fuzzes the shared services' URLs: whatever is accepted names hosts and
 * ports in range, as many as the parser counts, and a Redis host fits its
 * buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(void *arg, const char *host, int port)
{
    size_t n = strlen(host);
    if (n == 0 || n > 255 || port < 1 || port > 65535 || strpbrk(host, "/?#@ ,") != NULL)
        abort();
    ++*(int *)arg;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    int seen = 0;
    int n = cache_memcached_url_parse(s, check, &seen);
    if (n >= 0 ? n != seen || n == 0 : 0)
        abort();
    if (n > 0 && cache_memcached_url_parse(s, NULL, NULL) != n)
        abort();
    int bare = 0;
    int nb = hostport_list_parse(s, check, &bare);
    if (nb >= 0 ? nb != bare || nb == 0 : 0)
        abort();
    char host[64];
    int port = 0;
    if (redis_url_parse(s, host, sizeof(host), &port) == 0 &&
        (strlen(host) >= sizeof(host) || port < 1 || port > 65535))
        abort();
    free(s);
    return 0;
}
