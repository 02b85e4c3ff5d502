/* The Range headers let through (see range.h). */
#include "http/range.h"

#include <stdint.h>
#include <strings.h>

#define RANGE_DIGITS_MAX 18

/* Reads the digits at *p into *out: true if there was at least one. Past
 * RANGE_DIGITS_MAX it stops on the next digit, which no caller accepts. */
static bool number(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (*p - s == RANGE_DIGITS_MAX)
            return false;
        v = v * 10 + (uint64_t)(**p - '0');
        ++*p;
    }
    *out = v;
    return *p > s;
}

static void spaces(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        ++*p;
}

bool range_single_ok(const char *v, size_t len)
{
    const char *p = v, *end = v + len;
    if (len < 6 || strncasecmp(p, "bytes=", 6) != 0)
        return false;
    p += 6;
    spaces(&p, end);
    uint64_t first = 0, last = 0;
    bool has_first = number(&p, end, &first);
    if (p == end || *p != '-')
        return false;
    p++;
    bool has_last = number(&p, end, &last);
    spaces(&p, end);
    if (p != end)
        return false; /* a second range, or anything else */
    if (has_first)
        return !has_last || first <= last;
    return has_last && last > 0; /* a suffix */
}
