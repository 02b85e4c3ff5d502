/* Fuzzes the JSON array stream reader of picogram admin import (an
 * archive's media.json is untrusted): any bytes, read in any sizes (the
 * first byte picks them), end in 0 or -1 without a fault, and every item
 * given is an object. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct src {
    const uint8_t *data;
    size_t len, at, step;
} src_t;

static ssize_t src_read(void *arg, void *buf, size_t n)
{
    src_t *s = arg;
    size_t k = s->len - s->at;
    if (k > n)
        k = n;
    if (k > s->step)
        k = s->step;
    memcpy(buf, s->data + s->at, k);
    s->at += k;
    return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    src_t s = {data + 1, size - 1, 0, (size_t)data[0] % 17 + 1};
    jstream_t js;
    jstream_init(&js, src_read, &s, 4096); /* a small max: its edge is reached */
    json_t *o;
    int rc, items = 0;
    while ((rc = jstream_next(&js, &o)) == 1) {
        if (!json_is_object(o))
            abort();
        json_decref(o);
        if (++items > (int)size)
            abort(); /* more items than bytes: a loop */
    }
    if (rc != 0 && rc != -1)
        abort();
    jstream_free(&js);
    return 0;
}
