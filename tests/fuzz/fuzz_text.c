/* Fuzzes hashtag and mention extraction on valid UTF-8 input: results are
 * non-empty, valid UTF-8, unique, and within their limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "core/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    /* a tag name as a client writes it: accepted names are tags */
    text_tag_t name;
    if (text_tag_name(s, size, name)) {
        size_t l = strlen(name);
        char with[TAG_MAX_BYTES + 2] = "#";
        memcpy(with + 1, name, l);
        text_tag_t again[2];
        if (l == 0 || text_hashtags(with, l + 1, again, 2) != 1 || strcmp(again[0], name) != 0)
            abort();
    }
    if (!utf8_valid(s, size))
        return 0;
    text_tag_t tags[TEXT_MAX_TAGS];
    size_t n = text_hashtags(s, size, tags, TEXT_MAX_TAGS);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(tags[i]);
        if (l == 0 || l > TAG_MAX_BYTES || !utf8_valid(tags[i], l))
            abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(tags[i], tags[j]) == 0)
                abort();
    }
    text_mention_t m[TEXT_MAX_MENTIONS];
    n = text_mentions(s, size, m, TEXT_MAX_MENTIONS);
    for (size_t i = 0; i < n; i++)
        if (validate_username(m[i], strlen(m[i])) != NULL)
            abort();
    return 0;
}
