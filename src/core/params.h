/*
 * params: request parameters from a query string, a form body
 * (application/x-www-form-urlencoded) or a JSON object body, gathered in
 * one list. The first occurrence of a key wins, and sources are added in
 * order of precedence by the caller (body before query).
 *
 * Every key and value is percent-decoded, NUL-terminated, free of NUL
 * bytes and valid UTF-8; a parser refuses input that is not (returns -1 and
 * leaves the list as it was). A params_t owns its memory; not thread safe.
 */
#ifndef PICOGRAM_PARAMS_H
#define PICOGRAM_PARAMS_H

#include <stddef.h>
#include <stdbool.h>

#define PARAMS_MAX 64

typedef struct param {
    const char *key, *val;
    size_t klen, vlen;
} param_t;

typedef struct params {
    param_t items[PARAMS_MAX];
    size_t n;
    char *chunks[PARAMS_MAX + 4]; /* decoded text, one chunk per parsed source or added field */
    size_t nchunks;
} params_t;

void params_init(params_t *p);
void params_free(params_t *p);

/* Both return 0, or -1 with a reason in err for the client. */
int params_parse_urlencoded(params_t *p, const char *s, size_t n, const char **err);
int params_parse_json(params_t *p, const char *s, size_t n, const char **err);

/* Adds one field (copied); same checks as the parsers. 0 or -1 with *err. */
int params_add(params_t *p, const char *key, size_t klen, const char *val, size_t vlen, const char **err);

const param_t *params_get(const params_t *p, const char *key);
/* The value, or NULL if absent. */
static inline const char *params_str(const params_t *p, const char *key)
{
    const param_t *x = params_get(p, key);
    return x ? x->val : NULL;
}

/* Percent-decodes s into out (which has room for n+1 bytes); '+' is a space
 * only if plus_is_space. Returns the decoded length, or -1 on a bad escape. */
long params_pct_decode(char *out, const char *s, size_t n, bool plus_is_space);

/* Strict integer parse of a whole string. Returns false if not an integer in [lo, hi]. */
bool params_int(const char *s, long long lo, long long hi, long long *out);
/* Booleans: true/false, 1/0, yes/no, on/off (any case). */
bool params_bool(const char *s, bool *out);

#endif
