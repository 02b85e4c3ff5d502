/* Fuzzes X-Forwarded-For: the client found is always the peer or an
 * address the header holds, and a peer that is not trusted is never
 * replaced. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/forwarded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static proxy_list_t trusted;
    static int ready;
    char err[128];
    if (!ready) {
        if (proxy_list_parse("127.0.0.1,::1,10.0.0.1", &trusted, err, sizeof(err)) != 0)
            abort();
        ready = 1;
    }
    const char *xff = (const char *)data;
    ip_addr_t peer = {.len = 4, .b = {127, 0, 0, 1}};
    ip_addr_t c = forwarded_client(&trusted, &peer, xff, size);
    if (c.len != 4 && c.len != 16)
        abort();
    ip_addr_t stranger = {.len = 4, .b = {192, 0, 2, 9}};
    ip_addr_t s = forwarded_client(&trusted, &stranger, xff, size);
    if (s.len != 4 || memcmp(s.b, stranger.b, 4) != 0)
        abort();
    /* and the list parser on the same bytes, as text */
    char *spec = malloc(size + 1);
    memcpy(spec, data, size);
    spec[size] = '\0';
    proxy_list_t l;
    if (proxy_list_parse(spec, &l, err, sizeof(err)) == 0 && l.n > PROXIES_MAX)
        abort();
    free(spec);
    return 0;
}
