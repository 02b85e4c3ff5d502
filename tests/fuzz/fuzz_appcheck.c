/* Fuzzes the checks of what apps send (core/appcheck.h): a scope
 * parameter, a registration's fields with its redirect URIs, and v1's
 * request signature over parsed parameters. The input is five fields
 * split at NUL bytes. Whatever comes in: scopes hold basic and nothing an
 * app cannot be granted; every redirect URI kept is absolute and free of
 * the bytes that would end a header or a CSP source, and its origin is a
 * prefix of it; a signature is 64 hex digits. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/appcheck.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *field[5] = {"", "", "", "", ""};
    char *p = copy;
    for (int i = 0; i < 5 && p <= copy + size; i++) {
        field[i] = p;
        p += strlen(p) + 1;
    }

    unsigned mask = 0;
    char bad[128];
    bool ok = scopes_parse(field[0], &mask, bad, sizeof(bad));
    assert(mask & SCOPE_BASIC);
    assert((mask & ~(unsigned)SCOPE_GRANTABLE) == 0);
    assert(ok == (bad[0] == '\0'));

    char *uris = NULL;
    const char *err = app_validate(field[1], NULL, field[2], field[3], &uris);
    assert((err == NULL) == (uris != NULL));
    for (const char *u = uris; u && *u;) {
        size_t n = strcspn(u, "\n");
        assert(n > 0 && n <= APP_REDIRECT_MAX);
        char one[APP_REDIRECT_MAX + 1], origin[APP_REDIRECT_MAX + 1];
        memcpy(one, u, n);
        one[n] = '\0';
        assert(strchr(one, ':') != NULL);
        for (size_t i = 0; i < n; i++)
            assert(one[i] > 0x20 && one[i] < 0x7f && !strchr("\"'<>;,\\`#", one[i]));
        app_redirect_origin(one, origin, sizeof(origin));
        assert(strlen(origin) > 0 && strncmp(origin, one, strlen(origin)) == 0);
        u += n + (u[n] == '\n');
    }
    free(uris);

    params_t ps;
    params_init(&ps);
    const char *perr = NULL;
    if (params_parse_urlencoded(&ps, field[4], strlen(field[4]), &perr) == 0) {
        char sig[65];
        apps_sign("0123456789abcdef0123456789abcdef", field[2], strlen(field[2]), &ps, sig);
        assert(strlen(sig) == 64 && strspn(sig, "0123456789abcdef") == 64);
    }
    params_free(&ps);
    free(copy);
    return 0;
}
