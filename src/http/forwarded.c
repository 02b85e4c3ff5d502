/* The client's address behind trusted proxies (see forwarded.h). */
#include "http/forwarded.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

void ip_addr_set(ip_addr_t *a, const void *bytes, size_t len)
{
    if (len == 16 && memcmp(bytes, mapped, sizeof(mapped)) == 0) {
        memcpy(a->b, (const unsigned char *)bytes + 12, 4);
        a->len = 4;
    } else {
        memcpy(a->b, bytes, len == 16 ? 16 : 4);
        a->len = len == 16 ? 16 : 4;
    }
}

bool ip_addr_parse(const char *s, size_t n, ip_addr_t *out)
{
    while (n && blank(*s))
        s++, n--;
    while (n && blank(s[n - 1]))
        n--;
    char tmp[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    unsigned char b[16];
    if (inet_pton(AF_INET, tmp, b) == 1) {
        ip_addr_set(out, b, 4);
        return true;
    }
    if (inet_pton(AF_INET6, tmp, b) != 1)
        return false;
    ip_addr_set(out, b, 16); /* an IPv4-mapped address is its IPv4 */
    return true;
}

int proxy_list_parse(const char *spec, proxy_list_t *out, char *err, size_t errlen)
{
    out->n = 0;
    if (strcmp(spec, "off") == 0)
        return 0;
    for (const char *p = spec;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (out->n == PROXIES_MAX) {
            snprintf(err, errlen, "bad value for trusted_proxies: more than %d addresses", PROXIES_MAX);
            return -1;
        }
        if (!ip_addr_parse(p, n, &out->v[out->n])) {
            snprintf(err, errlen, "bad value for trusted_proxies: '%.*s' is not an IP address", (int)n, p);
            return -1;
        }
        out->n++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

bool proxy_list_has(const proxy_list_t *l, const ip_addr_t *a)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].len == a->len && memcmp(l->v[i].b, a->b, a->len) == 0)
            return true;
    return false;
}

ip_addr_t forwarded_client(const proxy_list_t *l, const ip_addr_t *peer, const char *xff, size_t len)
{
    ip_addr_t client = *peer;
    if (xff == NULL || !proxy_list_has(l, peer))
        return client;
    /* right to left: each hop is believed while the one who wrote it is trusted */
    size_t end = len;
    while (proxy_list_has(l, &client)) {
        if (end == 0)
            break;
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        ip_addr_t a;
        if (!ip_addr_parse(xff + start, end - start, &a))
            break; /* not an address: the last trusted hop is all that is known */
        client = a;
        end = start ? start - 1 : 0;
        if (start == 0)
            break;
    }
    return client;
}
