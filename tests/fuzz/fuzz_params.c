/* Fuzzes the form, query and JSON parameter parsers. The first byte picks
 * the parser; every accepted key and value must be NUL-free valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/params.h"
#include "core/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    params_t p;
    params_init(&p);
    const char *err = NULL;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    int rc = (data[0] & 1) ? params_parse_json(&p, s, n, &err) : params_parse_urlencoded(&p, s, n, &err);
    if (rc == 0) {
        for (size_t i = 0; i < p.n; i++) {
            const param_t *x = &p.items[i];
            if (strlen(x->key) != x->klen || strlen(x->val) != x->vlen || !utf8_valid(x->key, x->klen) ||
                !utf8_valid(x->val, x->vlen))
                abort();
            if (params_get(&p, x->key) == NULL)
                abort();
        }
    } else if (err == NULL || p.n != 0) {
        abort();
    }
    params_free(&p);
    return 0;
}
