/* The URLs of the shared services (url.h): pure parsing, fuzzed. */
#include "cache/url.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int redis_url_parse(const char *url, char *host, size_t hostlen, int *port)
{
    static const char scheme[] = "redis://";
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return -1;
    const char *h = url + sizeof(scheme) - 1, *colon = strrchr(h, ':');
    if (colon == NULL || colon == h || (size_t)(colon - h) >= hostlen)
        return -1;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || p < 1 || p > 65535 || !(*end == '\0' || strcmp(end, "/") == 0))
        return -1;
    memcpy(host, h, (size_t)(colon - h));
    host[colon - h] = '\0';
    *port = (int)p;
    return 0;
}

int cache_memcached_url_parse(const char *url, cache_memcached_server_fn fn, void *arg)
{
    static const char scheme[] = "memcached://";
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return -1;
    return hostport_list_parse(url + sizeof(scheme) - 1, fn, arg);
}

int hostport_list_parse(const char *p, cache_memcached_server_fn fn, void *arg)
{
    int n = 0;
    for (;;) {
        const char *end = p + strcspn(p, ",");
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon == NULL || colon == p || (size_t)(colon - p) >= 256 || end - colon < 2 || end - colon > 6)
            return -1;
        char host[256];
        memcpy(host, p, (size_t)(colon - p));
        host[colon - p] = '\0';
        if (strpbrk(host, "/?#@ ") != NULL)
            return -1;
        long port = 0;
        for (const char *d = colon + 1; d < end; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            port = port * 10 + (*d - '0');
        }
        if (port < 1 || port > 65535)
            return -1;
        if (fn != NULL && fn(arg, host, (int)port) != 0)
            return -1;
        n++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return n;
}
