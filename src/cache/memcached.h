/* The memcached backend of the object cache (cache.h; design in memcached.c). */
#ifndef PICOGRAM_CACHE_MEMCACHED_H
#define PICOGRAM_CACHE_MEMCACHED_H

#include <stddef.h>

#include "cache/cache.h"
#include "cache/url.h"

/* The cache on the instances url names, its keys in namespace ns. NULL
 * with a message in err if the URL is bad. */
cache_t *cache_memcached_open(const char *url, const char *ns, char *err, size_t errlen);

#endif
