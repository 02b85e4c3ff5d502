/*
 * The client's address behind trusted proxies. A request that comes from a
 * proxy in the `trusted_proxies` list (nginx, in the cluster) names its
 * client in X-Forwarded-For, each proxy appending the address it received
 * the request from. The client is the rightmost address there that is not
 * itself a trusted proxy: what is left of it was written by the client and
 * proves nothing. A request from anywhere else is its peer's address, and
 * its X-Forwarded-For is ignored. Pure: no sockets, fuzzed.
 */
#ifndef PICOGRAM_FORWARDED_H
#define PICOGRAM_FORWARDED_H

#include <stdbool.h>
#include <stddef.h>

#define PROXIES_MAX 32

typedef struct ip_addr {
    unsigned char len; /* 4 or 16 (an IPv4-mapped IPv6 address is stored as its IPv4) */
    unsigned char b[16];
} ip_addr_t;

typedef struct proxy_list {
    size_t n;
    ip_addr_t v[PROXIES_MAX];
} proxy_list_t;

/* "off", or addresses separated by commas (IPv4 or IPv6, no ranges).
 * Returns 0, or -1 with a message in err. */
int proxy_list_parse(const char *spec, proxy_list_t *out, char *err, size_t errlen);
bool proxy_list_has(const proxy_list_t *l, const ip_addr_t *a);
/* From an address's 4 or 16 bytes. */
void ip_addr_set(ip_addr_t *a, const void *bytes, size_t len);
/* Parses one address (surrounding blanks allowed). Returns false if it is not one. */
bool ip_addr_parse(const char *s, size_t n, ip_addr_t *out);
/* The client's address, given the peer's and the X-Forwarded-For value
 * (several headers joined by ','; NULL if none). */
ip_addr_t forwarded_client(const proxy_list_t *l, const ip_addr_t *peer, const char *xff, size_t len);

#endif
