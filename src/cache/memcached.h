/* The memcached backend of the object cache (cache.h; design in memcached.c). */
#ifndef PICOGRAM_CACHE_MEMCACHED_H
#define PICOGRAM_CACHE_MEMCACHED_H

#include <stddef.h>

#include "cache/cache.h"

/* Calls fn for each HOST:PORT of "memcached://HOST:PORT[,HOST:PORT...]"
 * (fn may be NULL). Returns how many there are, or -1 if the URL is bad or
 * fn returned non-zero. */
typedef int (*cache_memcached_server_fn)(void *arg, const char *host, int port);
int cache_memcached_url_parse(const char *url, cache_memcached_server_fn fn, void *arg);

/* The cache on the instances url names, its keys in namespace ns. NULL
 * with a message in err if the URL is bad. */
cache_t *cache_memcached_open(const char *url, const char *ns, char *err, size_t errlen);

#endif
