/* Fuzzes the input validators. utf8_valid is checked against an
 * independent decoder (mbrtowc-free, by the Unicode table 3-7 ranges). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool ref_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c <= 0x7f) {
            i++;
            continue;
        }
        uint8_t lo = 0x80, hi = 0xbf;
        size_t len;
        if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c == 0xe0)
            len = 3, lo = 0xa0;
        else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
            len = 3;
        else if (c == 0xed)
            len = 3, hi = 0x9f;
        else if (c == 0xf0)
            len = 4, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3)
            len = 4;
        else if (c == 0xf4)
            len = 4, hi = 0x8f;
        else
            return false;
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return false;
        i += len;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    if (utf8_valid(s, size) != ref_valid(data, size))
        abort();
    validate_username(s, size);
    validate_password(s, size);
    validate_full_name(s, size);
    validate_bio(s, size);
    validate_website(s, size);
    validate_email(s, size);
    return 0;
}
