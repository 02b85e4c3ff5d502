/*
 * appcheck: the pure parts of third-party apps (model/apps.h): scopes,
 * what an app may register (names, redirect URIs), a redirect URI's
 * origin as a CSP source, and v1's request signature. No database; a
 * fuzz target (tests/fuzz/fuzz_appcheck.c) runs them on any input.
 */
#ifndef PICOGRAM_APPCHECK_H
#define PICOGRAM_APPCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/params.h"

/* Scopes, as a token holds them. A first-party token (the password grant,
 * the web session) holds them all; an app's, what the user granted, with
 * basic always. SCOPE_FIRST_PARTY is no scope an app can ask for: it marks
 * the endpoints of the account itself (password, tokens, export, upload,
 * apps). */
enum {
    SCOPE_BASIC = 1,
    SCOPE_COMMENTS = 2,
    SCOPE_RELATIONSHIPS = 4,
    SCOPE_LIKES = 8,
    SCOPE_FIRST_PARTY = 16,
    SCOPE_ALL = 31,
    SCOPE_GRANTABLE = 15,
};

#define APP_NAME_MAX 50 /* characters */
#define APP_DESCRIPTION_MAX 300
#define APP_REDIRECT_MAX 512 /* bytes, each */
#define APP_REDIRECTS_MAX 10
#define APPS_PER_OWNER_MAX 25
#define APP_CLIENT_ID_LEN 32
#define APP_SECRET_LEN 32
#define APPS_CODE_TTL_S 600

/* The mask of a scope parameter ("likes comments", "likes+comments" once
 * decoded, or comma-separated; empty: basic), basic always in it. False if
 * a name is unknown: bad gets them, space-separated. */
bool scopes_parse(const char *s, unsigned *out, char *bad, size_t badlen);
/* ["basic","likes",...] */
void scopes_json(buf_t *b, unsigned mask);
/* The name of the one scope in mask (for messages). */
const char *scope_name(unsigned one);

/* What an app is registered with. redirect_uris: one or more, separated by
 * whitespace. NULL, or a message for the client. On success *uris is the
 * list one per line (xmalloc'd). */
const char *app_validate(const char *name, const char *description, const char *website, const char *redirect_uris,
                         char **uris);
/* A redirect URI's origin, as a CSP source ("https://host:port", or
 * "scheme:" for an app's own scheme), into out. */
void app_redirect_origin(const char *uri, char *out, size_t cap);
/* The signature of a request as v1 defined it: the lower-case hex
 * HMAC-SHA256, keyed with the client secret, of the endpoint (the path
 * without /v1 and the query) followed by "|key=value" for each parameter
 * sent (query and body, decoded; the first of a repeated key), sorted by
 * key, but sig itself. */
void apps_sign(const char *secret, const char *endpoint, size_t elen, const params_t *p, char out[65]);

#endif
