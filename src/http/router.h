/*
 * router: maps (method, path) to a route, with {name} path parameters.
 *
 * Patterns are literal segments and {param} segments: "/v1/users/{id}".
 * When several routes match a path, the one with the most literal segments
 * wins ("/v1/users/search" beats "/v1/users/{id}"). A path that matches a
 * pattern under another method is ROUTER_METHOD_NOT_ALLOWED, and `allow`
 * lists the methods that would have matched. HEAD matches GET routes.
 * An optional ".json" suffix on the last segment is ignored.
 *
 * A router is immutable after router_new and safe to share across threads.
 * Arguments in a match point into the path given (not decoded).
 */
#ifndef PICOGRAM_ROUTER_H
#define PICOGRAM_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_SEGS 8
#define ROUTER_MAX_ARGS 4

typedef struct route {
    const char *method; /* "GET", "POST", "DELETE" */
    const char *pattern;
    void (*handler)(void); /* opaque to the router: cast back by the caller */
    unsigned flags;
} route_t;

typedef struct router router_t;

typedef struct route_arg {
    const char *base;
    size_t len;
} route_arg_t;

typedef struct route_match {
    const route_t *route;
    route_arg_t args[ROUTER_MAX_ARGS];
    size_t nargs;
    char allow[64]; /* "GET, POST" for 405 */
} route_match_t;

enum { ROUTER_FOUND = 0, ROUTER_NOT_FOUND = 1, ROUTER_METHOD_NOT_ALLOWED = 2 };

/* Copies the table; returns NULL (and a message in *err) on a bad pattern. */
router_t *router_new(const route_t *routes, size_t n, const char **err);
void router_free(router_t *r);
/* The routes, in the order router_new had them: i in [0, router_count). */
size_t router_count(const router_t *r);
const route_t *router_route(const router_t *r, size_t i);
/* The index of a route that router_match gave. */
size_t router_index(const router_t *r, const route_t *route);
/* `path` excludes the query string. */
int router_match(const router_t *r, const char *method, size_t mlen, const char *path, size_t plen, route_match_t *m);

#endif
