/* Pure checks of apps and OAuth parameters: see appcheck.h. */
#include "core/appcheck.h"
#include "core/validate.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- scopes ---- */

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {
    {"basic", SCOPE_BASIC},
    {"comments", SCOPE_COMMENTS},
    {"relationships", SCOPE_RELATIONSHIPS},
    {"likes", SCOPE_LIKES},
};
#define NSCOPES (sizeof(scope_names) / sizeof(scope_names[0]))

bool scopes_parse(const char *s, unsigned *out, char *bad, size_t badlen)
{
    unsigned mask = SCOPE_BASIC;
    size_t bl = 0;
    if (badlen)
        bad[0] = '\0';
    for (const char *p = s ? s : ""; *p;) {
        while (*p == ' ' || *p == '+' || *p == ',')
            p++;
        size_t n = strcspn(p, " +,");
        if (n == 0)
            break;
        unsigned bit = 0;
        for (size_t i = 0; i < NSCOPES && !bit; i++)
            if (strlen(scope_names[i].name) == n && memcmp(scope_names[i].name, p, n) == 0)
                bit = scope_names[i].bit;
        if (bit == 0 && bl + n + 2 < badlen) { /* names the client's own bytes back: printable ASCII only */
            if (bl)
                bad[bl++] = ' ';
            for (size_t i = 0; i < n; i++)
                bad[bl++] = p[i] > 0x20 && p[i] < 0x7f ? p[i] : '?';
            bad[bl] = '\0';
        }
        if (bit == 0 && bl == 0 && badlen > 1) /* a name too long to echo */
            snprintf(bad, badlen, "?");
        mask |= bit;
        p += n;
    }
    *out = mask;
    return badlen == 0 || bad[0] == '\0';
}

void scopes_json(buf_t *b, unsigned mask)
{
    buf_putc(b, '[');
    bool first = true;
    for (size_t i = 0; i < NSCOPES; i++) {
        if (!(mask & scope_names[i].bit))
            continue;
        if (!first)
            buf_putc(b, ',');
        first = false;
        buf_json_cstr(b, scope_names[i].name);
    }
    buf_putc(b, ']');
}

const char *scope_name(unsigned one)
{
    for (size_t i = 0; i < NSCOPES; i++)
        if (scope_names[i].bit == one)
            return scope_names[i].name;
    return "first_party";
}

/* A URI's scheme: letters, digits, '+', '-', '.', a letter first. Its
 * length, or 0. */
static size_t scheme_len(const char *u, size_t n)
{
    size_t i = 0;
    if (n == 0 || !((u[0] | 32) >= 'a' && (u[0] | 32) <= 'z'))
        return 0;
    while (i < n && u[i] != ':') {
        char c = u[i];
        if (!((c | 32) >= 'a' && (c | 32) <= 'z') && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.')
            return 0;
        i++;
    }
    return i < n ? i : 0;
}

/* One redirect URI: absolute, printable ASCII without the characters that
 * would end a header value or a CSP source (space, quotes, '<', '>', ';',
 * ',', '\\', '`'), no fragment (RFC 6749, 3.1.2), no user name, not a
 * script scheme; http(s) with a host. */
static const char *redirect_check(const char *u, size_t n)
{
    if (n > APP_REDIRECT_MAX)
        return "each redirect_uri must be at most 512 characters";
    for (size_t i = 0; i < n; i++)
        if (u[i] <= 0x20 || u[i] >= 0x7f || strchr("\"'<>;,\\`{}|^", u[i]))
            return "a redirect_uri contains a character it may not";
    size_t sl = scheme_len(u, n);
    if (sl == 0)
        return "each redirect_uri must be an absolute URI (https://... or an app's own scheme)";
    if (memchr(u, '#', n))
        return "a redirect_uri may not have a fragment (#)";
    static const char *const refused[] = {"javascript", "data", "vbscript", "file", "blob", "about"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (strlen(refused[i]) == sl && strncasecmp(u, refused[i], sl) == 0)
            return "a redirect_uri may not use that scheme";
    bool web = (sl == 4 && strncasecmp(u, "http", 4) == 0) || (sl == 5 && strncasecmp(u, "https", 5) == 0);
    if (web) {
        if (n < sl + 4 || memcmp(u + sl, "://", 3) != 0 || u[sl + 3] == '/' || u[sl + 3] == '?' || u[sl + 3] == ':')
            return "an http(s) redirect_uri needs a host";
        size_t auth = strcspn(u + sl + 3, "/?");
        if (memchr(u + sl + 3, '@', auth))
            return "a redirect_uri may not carry a user name";
    } else if (n == sl + 1) {
        return "each redirect_uri must be an absolute URI (https://... or an app's own scheme)";
    }
    return NULL;
}

const char *app_validate(const char *name, const char *description, const char *website, const char *redirect_uris,
                         char **uris)
{
    *uris = NULL;
    size_t nl = name ? strlen(name) : 0;
    if (nl == 0)
        return "name is required";
    const char *err = validate_text(name, nl, APP_NAME_MAX, false, "name must be at most 50 characters",
                                    "name contains invalid characters");
    if (err == NULL && description)
        err = validate_text(description, strlen(description), APP_DESCRIPTION_MAX, true,
                            "description must be at most 300 characters", "description contains invalid characters");
    if (err == NULL && website)
        err = validate_website(website, strlen(website));
    if (err)
        return err;
    buf_t b;
    buf_init(&b, APP_REDIRECTS_MAX * (APP_REDIRECT_MAX + 1));
    int count = 0;
    for (const char *p = redirect_uris ? redirect_uris : ""; *p && err == NULL;) {
        p += strspn(p, " \t\r\n");
        size_t n = strcspn(p, " \t\r\n");
        if (n == 0)
            break;
        if ((err = redirect_check(p, n)) == NULL && ++count > APP_REDIRECTS_MAX)
            err = "at most 10 redirect_uri";
        if (err == NULL) {
            buf_append(&b, p, n);
            buf_putc(&b, '\n');
        }
        p += n;
    }
    if (err == NULL && count == 0)
        err = "redirect_uri is required";
    if (err) {
        buf_free(&b);
        return err;
    }
    b.len--; /* the last newline */
    *uris = buf_steal(&b, NULL);
    return NULL;
}

void app_redirect_origin(const char *uri, char *out, size_t cap)
{
    size_t n = strlen(uri);
    size_t sl = scheme_len(uri, n);
    size_t end = sl + 1; /* an app's own scheme: "myapp:", a scheme source */
    bool web = (sl == 4 && strncasecmp(uri, "http", 4) == 0) || (sl == 5 && strncasecmp(uri, "https", 5) == 0);
    if (web && n >= sl + 3 && memcmp(uri + sl, "://", 3) == 0)
        end = sl + 3 + strcspn(uri + sl + 3, "/?");
    snprintf(out, cap, "%.*s", (int)end, uri);
}

static int param_cmp(const void *a, const void *b)
{
    const param_t *x = *(const param_t *const *)a, *y = *(const param_t *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

void apps_sign(const char *secret, const char *endpoint, size_t elen, const params_t *p, char out[65])
{
    const param_t *sorted[PARAMS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        const param_t *x = &p->items[i];
        if (x->klen == 3 && memcmp(x->key, "sig", 3) == 0)
            continue;
        bool seen = false; /* the first of a repeated key is the one the API reads */
        for (size_t j = 0; j < n && !seen; j++)
            seen = sorted[j]->klen == x->klen && memcmp(sorted[j]->key, x->key, x->klen) == 0;
        if (!seen)
            sorted[n++] = x;
    }
    qsort(sorted, n, sizeof(sorted[0]), param_cmp);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)endpoint, elen);
    for (size_t i = 0; i < n; i++) {
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)"|", 1);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)sorted[i]->key, sorted[i]->klen);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)"=", 1);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)sorted[i]->val, sorted[i]->vlen);
    }
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 65, mac, sizeof(mac));
}

