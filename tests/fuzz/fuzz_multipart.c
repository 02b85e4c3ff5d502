/* Fuzzes the multipart/form-data parser: the first line of the input is the
 * Content-Type, the rest the body. Parts must lie inside the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    if (nl == NULL)
        return 0;
    mp_span_t b;
    if (multipart_boundary(s, (size_t)(nl - s), &b) != 0)
        return 0;
    const char *body = nl + 1;
    size_t n = size - (size_t)(body - s);
    mp_part_t parts[MULTIPART_MAX_PARTS];
    const char *err = NULL;
    int k = multipart_parse(body, n, b, parts, MULTIPART_MAX_PARTS, &err);
    if (k < 0 && err == NULL)
        abort();
    for (int i = 0; i < k; i++) {
        const mp_span_t *sp[] = {&parts[i].name, &parts[i].data};
        for (int j = 0; j < 2; j++)
            if (sp[j]->len && (sp[j]->base < body || sp[j]->base + sp[j]->len > body + n))
                abort();
    }
    return 0;
}
