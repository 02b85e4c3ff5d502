#include "http/multipart.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define HEADER_BLOCK_MAX 8192

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

int multipart_boundary(const char *ct, size_t n, mp_span_t *b)
{
    static const char type[] = "multipart/form-data";
    if (n < sizeof(type) - 1 || strncasecmp(ct, type, sizeof(type) - 1) != 0)
        return -1;
    size_t i = sizeof(type) - 1;
    while (i < n) {
        while (i < n && (is_space(ct[i]) || ct[i] == ';'))
            i++;
        size_t key = i;
        while (i < n && ct[i] != '=' && ct[i] != ';')
            i++;
        if (i >= n || ct[i] != '=')
            continue;
        size_t klen = i - key;
        i++;
        const char *v = ct + i;
        size_t vlen;
        if (i < n && ct[i] == '"') {
            v++, i++;
            while (i < n && ct[i] != '"')
                i++;
            vlen = (size_t)(ct + i - v);
            i++;
        } else {
            while (i < n && ct[i] != ';' && !is_space(ct[i]))
                i++;
            vlen = (size_t)(ct + i - v);
        }
        if (klen == 8 && strncasecmp(ct + key, "boundary", 8) == 0) {
            if (vlen == 0 || vlen > 70) /* RFC 2046: 1 to 70 characters */
                return -1;
            b->base = v, b->len = vlen;
            return 0;
        }
    }
    return -1;
}

/* Finds `name="value"` (or name=value) in a Content-Disposition value. */
static bool disposition_param(const char *s, size_t n, const char *name, mp_span_t *out)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 1 <= n; i++) {
        if ((i > 0 && s[i - 1] != ';' && !is_space(s[i - 1])) || strncasecmp(s + i, name, nl) != 0 || s[i + nl] != '=')
            continue;
        size_t j = i + nl + 1;
        if (j < n && s[j] == '"') {
            const char *end = memchr(s + j + 1, '"', n - j - 1);
            if (end == NULL)
                return false;
            out->base = s + j + 1, out->len = (size_t)(end - s - j - 1);
        } else {
            size_t k = j;
            while (k < n && s[k] != ';' && !is_space(s[k]))
                k++;
            out->base = s + j, out->len = k - j;
        }
        return true;
    }
    return false;
}

static int parse_headers(const char *h, size_t n, mp_part_t *p, const char **err)
{
    bool have_disp = false;
    while (n > 0) {
        const char *eol = memmem(h, n, "\r\n", 2);
        size_t ll = eol ? (size_t)(eol - h) : n;
        const char *colon = memchr(h, ':', ll);
        if (colon != NULL) {
            size_t nl = (size_t)(colon - h);
            const char *v = colon + 1;
            size_t vl = ll - nl - 1;
            while (vl && is_space(*v))
                v++, vl--;
            if (nl == 19 && strncasecmp(h, "Content-Disposition", 19) == 0) {
                if (vl < 9 || strncasecmp(v, "form-data", 9) != 0 || !disposition_param(v, vl, "name", &p->name)) {
                    *err = "multipart part has no form-data name";
                    return -1;
                }
                p->has_filename = disposition_param(v, vl, "filename", &p->filename);
                have_disp = true;
            } else if (nl == 12 && strncasecmp(h, "Content-Type", 12) == 0) {
                p->content_type.base = v, p->content_type.len = vl;
            }
        }
        if (eol == NULL)
            break;
        h += ll + 2, n -= ll + 2;
    }
    if (!have_disp) {
        *err = "multipart part has no Content-Disposition";
        return -1;
    }
    return 0;
}

int multipart_parse(const char *body, size_t n, mp_span_t boundary, mp_part_t *parts, size_t max, const char **err)
{
    /* delimiter = "--" boundary; between parts it is preceded by CRLF */
    char delim[76];
    size_t dl = boundary.len + 2;
    if (boundary.len == 0 || boundary.len > 70) {
        *err = "bad multipart boundary";
        return -1;
    }
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary.base, boundary.len);
    /* The first delimiter may start the body (no CRLF before it). */
    const char *p;
    if (n >= dl && memcmp(body, delim + 2, dl) == 0)
        p = body + dl;
    else {
        const char *first = memmem(body, n, delim, dl + 2);
        if (first == NULL) {
            *err = "multipart body has no boundary";
            return -1;
        }
        p = first + dl + 2;
    }
    const char *end = body + n;
    size_t count = 0;
    for (;;) {
        /* after a delimiter: "--" ends the body, CRLF starts a part */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return (int)count;
        while (p < end && is_space(*p))
            p++; /* transport padding */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            *err = "malformed multipart delimiter";
            return -1;
        }
        p += 2;
        if (count == max) {
            *err = "too many multipart parts";
            return -1;
        }
        size_t avail = (size_t)(end - p);
        const char *hend = memmem(p, avail < HEADER_BLOCK_MAX ? avail : HEADER_BLOCK_MAX, "\r\n\r\n", 4);
        const char *data;
        mp_part_t *part = &parts[count];
        memset(part, 0, sizeof(*part));
        if (avail >= 2 && p[0] == '\r' && p[1] == '\n') {
            *err = "multipart part has no headers";
            return -1;
        }
        if (hend == NULL) {
            *err = "multipart part headers are malformed or too long";
            return -1;
        }
        if (parse_headers(p, (size_t)(hend - p), part, err) != 0)
            return -1;
        data = hend + 4;
        const char *next = memmem(data, (size_t)(end - data), delim, dl + 2);
        if (next == NULL) {
            *err = "multipart body is truncated (no closing boundary)";
            return -1;
        }
        part->data.base = data;
        part->data.len = (size_t)(next - data);
        count++;
        p = next + dl + 2;
    }
}
