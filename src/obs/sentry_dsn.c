/* sentry_dsn's syntax (sentry.h): pure, so the config checks it too. */
#include "obs/sentry.h"
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

/* SCHEME://KEY[:SECRET]@HOST[:PORT][/PATH]/PROJECT into the envelope URL and the key. */
int sentry_dsn_parse(const char *dsn, char **url, char **key)
{
    const char *sep = strstr(dsn, "://");
    if (sep == NULL ||
        !((sep - dsn == 4 && strncmp(dsn, "http", 4) == 0) || (sep - dsn == 5 && strncmp(dsn, "https", 5) == 0)))
        return -1;
    const char *user = sep + 3, *at = strchr(user, '@');
    if (at == NULL || at == user)
        return -1;
    const char *colon = memchr(user, ':', (size_t)(at - user));
    size_t keylen = (size_t)((colon ? colon : at) - user);
    const char *hostp = at + 1, *slash = strchr(hostp, '/');
    if (slash == NULL || slash == hostp)
        return -1;
    const char *last = strrchr(slash, '/');
    const char *project = last + 1;
    size_t plen = strlen(project);
    while (plen > 0 && project[plen - 1] == '/') /* a trailing slash */
        plen--;
    if (plen == 0 || last == slash + strlen(slash) - 1)
        return -1;
    for (size_t i = 0; i < plen; i++)
        if (project[i] < '0' || project[i] > '9')
            return -1;
    for (const char *p = dsn; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\')
            return -1;
    buf_t b;
    buf_init(&b, 4096);
    buf_printf(&b, "%.*s%.*s/api/%.*s/envelope/", (int)(sep + 3 - dsn), dsn, (int)(last - hostp), hostp, (int)plen,
               project);
    *url = buf_steal(&b, NULL);
    *key = xmalloc(keylen + 1);
    memcpy(*key, user, keylen);
    (*key)[keylen] = '\0';
    return 0;
}
