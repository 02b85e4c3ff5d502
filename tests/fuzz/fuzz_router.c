/* Fuzzes the router with arbitrary methods and paths: it must answer one of
 * its three results, and arguments must lie inside the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h(void) {}
static const route_t routes[] = {
    {"GET", "/v1/users/{id}", h, 0},          {"GET", "/v1/users/search", h, 0},
    {"POST", "/v1/users/self", h, 0},         {"GET", "/v1/media/{id}/comments", h, 0},
    {"DELETE", "/v1/media/{id}/comments/{cid}", h, 0}, {"POST", "/oauth/access_token", h, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static router_t *r;
    if (r == NULL) {
        const char *err;
        r = router_new(routes, sizeof(routes) / sizeof(routes[0]), &err);
    }
    const char *sep = memchr(data, ' ', size);
    if (sep == NULL)
        return 0;
    const char *m = (const char *)data, *path = sep + 1;
    size_t ml = (size_t)(sep - m), pl = size - ml - 1;
    route_match_t match;
    int rc = router_match(r, m, ml, path, pl, &match);
    if (rc != ROUTER_FOUND && rc != ROUTER_NOT_FOUND && rc != ROUTER_METHOD_NOT_ALLOWED)
        abort();
    for (size_t i = 0; rc == ROUTER_FOUND && i < match.nargs; i++)
        if (match.args[i].base < path || match.args[i].base + match.args[i].len > path + pl || match.args[i].len == 0)
            abort();
    return 0;
}
