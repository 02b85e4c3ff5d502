/* Fuzzes sealed cursors: opening never crashes, accepts only what sealing
 * made, and what it accepts seals back to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cursor_key_t k;
    static int ready;
    if (!ready) {
        unsigned char secret[SECRET_BYTES] = "fuzz secret, fuzz secret, fuzz";
        cursor_key_derive(&k, secret);
        ready = 1;
    }
    int64_t pos = 0;
    if (cursor_open(&k, (const char *)data, size, &pos)) {
        char again[CURSOR_SEALED_LEN + 1];
        cursor_seal(&k, pos, again);
        if (pos <= 0 || size != CURSOR_SEALED_LEN)
            abort();
        if (memcmp(again, data, CURSOR_SEALED_LEN) != 0)
            abort();
    }
    if (size >= 8) { /* any position seals to a cursor that opens to it */
        int64_t p;
        memcpy(&p, data, 8);
        if (p > 0) {
            char c[CURSOR_SEALED_LEN + 1];
            cursor_seal(&k, p, c);
            int64_t back = 0;
            if (!cursor_open(&k, c, strlen(c), &back) || back != p)
                abort();
        }
    }
    return 0;
}
