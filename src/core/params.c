#include "core/params.h"
#include "core/buf.h"
#include "core/validate.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void params_init(params_t *p)
{
    memset(p, 0, sizeof(*p));
}

void params_free(params_t *p)
{
    for (size_t i = 0; i < p->nchunks; i++)
        free(p->chunks[i]);
    params_init(p);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long params_pct_decode(char *out, const char *s, size_t n, bool plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
                return -1;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return (long)o;
}

const param_t *params_get(const params_t *p, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].klen == kl && memcmp(p->items[i].key, key, kl) == 0)
            return &p->items[i];
    return NULL;
}

static bool clean_text(const char *s, size_t n)
{
    return memchr(s, '\0', n) == NULL && utf8_valid(s, n);
}

int params_parse_urlencoded(params_t *p, const char *s, size_t n, const char **err)
{
    if (n == 0)
        return 0;
    if (p->nchunks == sizeof(p->chunks) / sizeof(p->chunks[0])) {
        *err = "too many parameter sources";
        return -1;
    }
    /* Decoded text is never longer than its source, plus two NULs per field. */
    char *arena = xmalloc(2 * n + 2), *w = arena;
    size_t n0 = p->n;
    const char *end = s + n;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *fend = amp ? amp : end;
        if (fend > s) {
            const char *eq = memchr(s, '=', (size_t)(fend - s));
            const char *kend = eq ? eq : fend, *v = eq ? eq + 1 : fend;
            if (p->n == PARAMS_MAX) {
                *err = "too many parameters";
                goto fail;
            }
            param_t *it = &p->items[p->n];
            long kl = params_pct_decode(w, s, (size_t)(kend - s), true);
            if (kl < 0 || !clean_text(w, (size_t)kl))
                goto bad;
            it->key = w, it->klen = (size_t)kl, w += kl + 1;
            long vl = params_pct_decode(w, v, (size_t)(fend - v), true);
            if (vl < 0 || !clean_text(w, (size_t)vl))
                goto bad;
            it->val = w, it->vlen = (size_t)vl, w += vl + 1;
            if (kl > 0)
                p->n++;
        }
        s = amp ? amp + 1 : end;
    }
    p->chunks[p->nchunks++] = arena;
    return 0;
bad:
    *err = "parameters are not valid percent-encoded UTF-8";
fail:
    p->n = n0;
    free(arena);
    return -1;
}

int params_add(params_t *p, const char *key, size_t klen, const char *val, size_t vlen, const char **err)
{
    if (p->n == PARAMS_MAX || p->nchunks == sizeof(p->chunks) / sizeof(p->chunks[0])) {
        *err = "too many parameters";
        return -1;
    }
    if (!clean_text(key, klen) || !clean_text(val, vlen)) {
        *err = "parameters must be valid UTF-8 without NUL bytes";
        return -1;
    }
    char *arena = xmalloc(klen + vlen + 2);
    memcpy(arena, key, klen);
    arena[klen] = '\0';
    memcpy(arena + klen + 1, val, vlen);
    arena[klen + 1 + vlen] = '\0';
    p->chunks[p->nchunks++] = arena;
    param_t *it = &p->items[p->n++];
    it->key = arena, it->klen = klen, it->val = arena + klen + 1, it->vlen = vlen;
    return 0;
}

int params_parse_json(params_t *p, const char *s, size_t n, const char **err)
{
    if (p->nchunks == sizeof(p->chunks) / sizeof(p->chunks[0])) {
        *err = "too many parameter sources";
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        *err = "request body is not valid JSON";
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *err = "JSON body must be an object";
        return -1;
    }
    buf_t text;
    buf_init(&text, n * 2 + 64 * PARAMS_MAX);
    struct {
        size_t koff, klen, voff, vlen;
    } tmp[PARAMS_MAX];
    size_t cnt = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (json_is_null(val))
            continue;
        if (cnt + p->n >= PARAMS_MAX) {
            *err = "too many parameters";
            goto fail;
        }
        size_t klen = strlen(key);
        tmp[cnt].koff = text.len, tmp[cnt].klen = klen;
        buf_append(&text, key, klen);
        buf_putc(&text, '\0');
        tmp[cnt].voff = text.len;
        if (json_is_string(val)) {
            if (memchr(json_string_value(val), '\0', json_string_length(val)) != NULL) {
                *err = "JSON strings may not contain NUL";
                goto fail;
            }
            buf_append(&text, json_string_value(val), json_string_length(val));
        } else if (json_is_integer(val)) {
            buf_i64(&text, (int64_t)json_integer_value(val));
        } else if (json_is_real(val)) {
            buf_printf(&text, "%.17g", json_real_value(val));
        } else if (json_is_boolean(val)) {
            buf_puts(&text, json_is_true(val) ? "true" : "false");
        } else {
            *err = "JSON parameter values must be strings, numbers or booleans";
            goto fail;
        }
        tmp[cnt].vlen = text.len - tmp[cnt].voff;
        buf_putc(&text, '\0');
        if (klen > 0)
            cnt++;
    }
    if (text.overflow) {
        *err = "JSON body too large";
        goto fail;
    }
    json_decref(root);
    char *arena = buf_steal(&text, NULL);
    for (size_t i = 0; i < cnt; i++) {
        param_t *it = &p->items[p->n++];
        it->key = arena + tmp[i].koff, it->klen = tmp[i].klen;
        it->val = arena + tmp[i].voff, it->vlen = tmp[i].vlen;
    }
    p->chunks[p->nchunks++] = arena;
    return 0;
fail:
    buf_free(&text);
    json_decref(root);
    return -1;
}

bool params_int(const char *s, long long lo, long long hi, long long *out)
{
    if (s == NULL || *s == '\0')
        return false;
    const char *q = s;
    if (*q == '-')
        q++;
    if (*q < '0' || *q > '9')
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool params_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"}, *const no[] = {"false", "0", "no", "off"};
    if (s == NULL)
        return false;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return (*out = true);
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}
