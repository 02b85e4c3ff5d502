#include "http/router.h"
#include "core/buf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct seg {
    const char *lit; /* NULL for a parameter */
    size_t len;
} seg_t;

typedef struct compiled {
    route_t route;
    seg_t segs[ROUTER_MAX_SEGS];
    size_t nsegs, nlit;
} compiled_t;

struct router {
    compiled_t *routes;
    size_t n;
};

static int split(const char *path, size_t plen, route_arg_t *out)
{
    size_t n = 0, i = 0;
    if (plen == 0 || path[0] != '/')
        return -1;
    while (i < plen) {
        i++; /* skip '/' */
        size_t start = i;
        while (i < plen && path[i] != '/')
            i++;
        if (n == ROUTER_MAX_SEGS)
            return -1;
        out[n].base = path + start, out[n].len = i - start;
        n++;
    }
    return (int)n;
}

router_t *router_new(const route_t *routes, size_t n, const char **err)
{
    router_t *r = xcalloc(1, sizeof(*r));
    r->routes = xcalloc(n, sizeof(compiled_t));
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        compiled_t *c = &r->routes[i];
        route_arg_t parts[ROUTER_MAX_SEGS];
        int k = split(routes[i].pattern, strlen(routes[i].pattern), parts);
        if (k < 0) {
            *err = routes[i].pattern;
            router_free(r);
            return NULL;
        }
        size_t nparams = 0;
        c->route = routes[i];
        c->nsegs = (size_t)k;
        for (int j = 0; j < k; j++) {
            bool param = parts[j].len >= 2 && parts[j].base[0] == '{' && parts[j].base[parts[j].len - 1] == '}';
            if (param && ++nparams > ROUTER_MAX_ARGS) {
                *err = routes[i].pattern;
                router_free(r);
                return NULL;
            }
            c->segs[j].lit = param ? NULL : parts[j].base;
            c->segs[j].len = parts[j].len;
            c->nlit += !param;
        }
    }
    return r;
}

void router_free(router_t *r)
{
    if (r) {
        free(r->routes);
        free(r);
    }
}

size_t router_count(const router_t *r)
{
    return r->n;
}

const route_t *router_route(const router_t *r, size_t i)
{
    return &r->routes[i].route;
}

size_t router_index(const router_t *r, const route_t *route)
{
    return (size_t)((const compiled_t *)route - r->routes); /* route is its compiled_t's first member */
}

static bool seg_match(const compiled_t *c, const route_arg_t *parts, size_t nparts)
{
    if (c->nsegs != nparts)
        return false;
    for (size_t j = 0; j < nparts; j++) {
        if (c->segs[j].lit == NULL) {
            if (parts[j].len == 0)
                return false;
        } else if (c->segs[j].len != parts[j].len || memcmp(c->segs[j].lit, parts[j].base, parts[j].len) != 0) {
            return false;
        }
    }
    return true;
}

static bool method_is(const char *m, size_t mlen, const char *want)
{
    size_t wl = strlen(want);
    return mlen == wl && memcmp(m, want, wl) == 0;
}

static void allow_add(char *allow, const char *method)
{
    if (strstr(allow, method) != NULL)
        return;
    size_t used = strlen(allow), ml = strlen(method);
    if (used + ml + 3 > 64)
        return;
    if (used)
        memcpy(allow + used, ", ", 2), used += 2;
    memcpy(allow + used, method, ml + 1);
}

int router_match(const router_t *r, const char *method, size_t mlen, const char *path, size_t plen, route_match_t *m)
{
    memset(m, 0, sizeof(*m));
    if (plen > 5 && memcmp(path + plen - 5, ".json", 5) == 0 && path[plen - 6] != '/')
        plen -= 5;
    route_arg_t parts[ROUTER_MAX_SEGS];
    int nparts = split(path, plen, parts);
    if (nparts < 0)
        return ROUTER_NOT_FOUND;
    const compiled_t *best = NULL;
    bool any_path = false;
    bool head = method_is(method, mlen, "HEAD");
    for (size_t i = 0; i < r->n; i++) {
        const compiled_t *c = &r->routes[i];
        if (!seg_match(c, parts, (size_t)nparts))
            continue;
        any_path = true;
        allow_add(m->allow, c->route.method);
        bool ok = method_is(method, mlen, c->route.method) || (head && strcmp(c->route.method, "GET") == 0);
        if (ok && (best == NULL || c->nlit > best->nlit))
            best = c;
    }
    if (best == NULL)
        return any_path ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
    m->route = &best->route;
    for (size_t j = 0; j < best->nsegs; j++)
        if (best->segs[j].lit == NULL)
            m->args[m->nargs++] = parts[j];
    return ROUTER_FOUND;
}
