/* The URLs of the shared services: Redis and memcached. Pure parsing. */
#ifndef PICOGRAM_CACHE_URL_H
#define PICOGRAM_CACHE_URL_H

#include <stddef.h>

/* Parses "redis://HOST:PORT[/]" into host (NUL-terminated) and port.
 * Returns 0, or -1. */
int redis_url_parse(const char *url, char *host, size_t hostlen, int *port);

/* Calls fn for each HOST:PORT of "memcached://HOST:PORT[,HOST:PORT...]"
 * (fn may be NULL; HOST is NUL-terminated, at most 255 bytes, without
 * "/?#@" or spaces; PORT is 1-65535). Returns how many there are, or -1 if
 * the URL is bad or fn returned non-zero. */
typedef int (*cache_memcached_server_fn)(void *arg, const char *host, int port);
int cache_memcached_url_parse(const char *url, cache_memcached_server_fn fn, void *arg);
/* The same for a bare list, "HOST:PORT[,HOST:PORT...]" (gearmand's too). */
int hostport_list_parse(const char *list, cache_memcached_server_fn fn, void *arg);

#endif
