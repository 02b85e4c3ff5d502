/* Fuzzes the ListObjectsV2 reader of the S3 photo store's sweep: any bytes
 * parse or fail without a fault, every key found is NUL-terminated within
 * its bound, and a time is -1 or a plausible unix time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob/s3list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s3_list_t l;
    if (s3_list_parse((const char *)data, size, &l) == 0) {
        for (size_t i = 0; i < l.n; i++) {
            if (strnlen(l.entries[i].key, sizeof(l.entries[i].key)) > S3_KEY_MAX)
                abort();
            if (l.entries[i].modified < -1)
                abort();
        }
        if (strnlen(l.next, sizeof(l.next)) > S3_KEY_MAX)
            abort();
    }
    s3_list_free(&l);
    int64_t t = s3_time_parse((const char *)data, size < 40 ? size : 40);
    if (t < -1)
        abort();
    return 0;
}
