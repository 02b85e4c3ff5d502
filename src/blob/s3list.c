/* ListObjectsV2 replies (see s3list.h). */
#include "blob/s3list.h"
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The text of the next <tag>...</tag> in [p, end), or NULL. */
static const char *element(const char *p, const char *end, const char *tag, size_t *n, const char **after)
{
    char open[48], close[48];
    size_t tl = strlen(tag);
    open[0] = '<', memcpy(open + 1, tag, tl), open[tl + 1] = '>';
    close[0] = '<', close[1] = '/', memcpy(close + 2, tag, tl), close[tl + 2] = '>';
    const char *a = memmem(p, (size_t)(end - p), open, tl + 2);
    if (a == NULL)
        return NULL;
    a += tl + 2;
    const char *b = memmem(a, (size_t)(end - a), close, tl + 3);
    if (b == NULL)
        return NULL;
    *n = (size_t)(b - a);
    if (after)
        *after = b + tl + 3;
    return a;
}

/* Copies XML text, decoding the five predefined entities and numeric
 * ones below 128. -1 if it does not fit in cap (with its NUL) or has a bad entity. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
    static const struct { const char *name; char c; } ents[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        size_t used = 1;
        if (c == '&') {
            used = 0;
            for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
                size_t el = strlen(ents[k].name);
                if (n - i >= el && memcmp(s + i, ents[k].name, el) == 0) {
                    c = ents[k].c, used = el;
                    break;
                }
            }
            if (used == 0 && n - i >= 4 && s[i + 1] == '#') {
                size_t j = i + 2;
                unsigned v = 0;
                while (j < n && j < i + 6 && s[j] >= '0' && s[j] <= '9')
                    v = v * 10 + (unsigned)(s[j++] - '0');
                if (j < n && s[j] == ';' && j > i + 2 && v > 0 && v < 128)
                    c = (char)v, used = j + 1 - i;
            }
            if (used == 0)
                return -1;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
        i += used;
    }
    out[o] = '\0';
    return 0;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int64_t s3_time_parse(const char *s, size_t n)
{
    /* YYYY-MM-DDTHH:MM:SS, then optional .fraction, then Z */
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n - 1] != 'Z')
        return -1;
    for (size_t i = 19; i < n - 1; i++)
        if (!(i == 19 ? s[i] == '.' : (s[i] >= '0' && s[i] <= '9')))
            return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2), mi = digits(s + 14, 2),
        se = digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
    return (int64_t)timegm(&tm);
}

int s3_list_parse(const char *xml, size_t len, s3_list_t *out)
{
    memset(out, 0, sizeof(*out));
    if (xml == NULL || memmem(xml, len, "<ListBucketResult", 17) == NULL)
        return -1;
    const char *end = xml + len, *p = xml;
    size_t n;
    const char *t = element(xml, end, "IsTruncated", &n, NULL);
    out->truncated = t != NULL && n == 4 && memcmp(t, "true", 4) == 0;
    t = element(xml, end, "NextContinuationToken", &n, NULL);
    if (t != NULL && unescape(t, n, out->next, sizeof(out->next)) != 0)
        return -1;
    size_t cap = 0;
    const char *c, *after;
    while ((c = element(p, end, "Contents", &n, &after)) != NULL) {
        const char *ce = c + n;
        size_t kn, mn;
        const char *k = element(c, ce, "Key", &kn, NULL), *m = element(c, ce, "LastModified", &mn, NULL);
        p = after;
        if (k == NULL)
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 64;
            out->entries = xrealloc(out->entries, cap * sizeof(*out->entries));
        }
        s3_entry_t *e = &out->entries[out->n];
        if (unescape(k, kn, e->key, sizeof(e->key)) != 0)
            continue;
        e->modified = m ? s3_time_parse(m, mn) : -1;
        out->n++;
    }
    return 0;
}

void s3_list_free(s3_list_t *l)
{
    free(l->entries);
    memset(l, 0, sizeof(*l));
}
