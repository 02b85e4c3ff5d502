#include "core/validate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf)
            len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* overlongs, surrogates, beyond U+10FFFF */
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

size_t utf8_len(const char *s, size_t n)
{
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            cnt++;
    return cnt;
}

void ascii_lower(char *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    out[n] = '\0';
}

/* Control characters other than the allowed ones make text unprintable:
 * C0 and DEL, and C1 (U+0080 to U+009F, UTF-8 C2 80 to C2 9F). Where
 * newlines are allowed, so is CRLF (browsers send form newlines so); where
 * they are not, neither are Unicode's line and paragraph separators
 * (U+2028, U+2029: E2 80 A8, E2 80 A9). s is valid UTF-8. */
static bool has_control(const char *s, size_t n, bool allow_newline)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool newline = c == '\n' || (c == '\r' && i + 1 < n && s[i + 1] == '\n');
        if ((c < 0x20 && !(allow_newline && newline)) || c == 0x7f)
            return true;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            return true;
        if (!allow_newline && c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
            ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9))
            return true;
    }
    return false;
}

void text_normalize_newlines(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++)
        if (!(r[0] == '\r' && r[1] == '\n'))
            *w++ = *r;
    *w = '\0';
}

const char *validate_username(const char *s, size_t n)
{
    if (n == 0)
        return "username is required";
    if (n > USERNAME_MAX)
        return "username must be at most 30 characters";
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'))
            return "username may contain only letters, digits, '.' and '_'";
    }
    return NULL;
}

const char *validate_new_username(const char *s, size_t n)
{
    const char *err = validate_username(s, n);
    if (err == NULL && s[n - 1] == '.')
        return "username may not end with '.'";
    return err;
}

const char *validate_password(const char *s, size_t n)
{
    if (n > PASSWORD_MAX_BYTES)
        return "password is too long";
    if (!utf8_valid(s, n))
        return "password is not valid UTF-8";
    if (utf8_len(s, n) < PASSWORD_MIN)
        return "password must be at least 8 characters";
    return NULL;
}

const char *validate_text(const char *s, size_t n, size_t max, bool newline, const char *too_long, const char *bad)
{
    if (!utf8_valid(s, n) || has_control(s, n, newline))
        return bad;
    if (utf8_len(s, n) > max)
        return too_long;
    return NULL;
}

const char *validate_full_name(const char *s, size_t n)
{
    return validate_text(s, n, FULL_NAME_MAX, false, "full_name must be at most 100 characters",
                      "full_name contains invalid characters");
}

const char *validate_bio(const char *s, size_t n)
{
    return validate_text(s, n, BIO_MAX, true, "bio must be at most 150 characters", "bio contains invalid characters");
}

const char *validate_website(const char *s, size_t n)
{
    if (n == 0)
        return NULL;
    const char *err = validate_text(s, n, WEBSITE_MAX, false, "website must be at most 200 characters",
                                 "website contains invalid characters");
    if (err)
        return err;
    if (memchr(s, ' ', n))
        return "website must be an http:// or https:// URL";
    size_t skip = 0;
    if (n > 7 && strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else if (n > 8 && strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    if (skip == 0 || s[skip] == '/')
        return "website must be an http:// or https:// URL";
    return NULL;
}

const char *validate_email(const char *s, size_t n)
{
    if (n == 0)
        return NULL;
    if (n > EMAIL_MAX)
        return "email is too long";
    if (!utf8_valid(s, n) || has_control(s, n, false) || memchr(s, ' ', n))
        return "email is not a valid address";
    const char *at = memchr(s, '@', n);
    if (at == NULL || at == s || at == s + n - 1 || memchr(at + 1, '@', (size_t)(s + n - at - 1)) ||
        memchr(at + 1, '.', (size_t)(s + n - at - 1)) == NULL)
        return "email is not a valid address";
    return NULL;
}

const char *validate_comment(const char *s, size_t n)
{
    size_t blank = 0; /* a comment of spaces and newlines only says nothing */
    while (blank < n && (s[blank] == ' ' || s[blank] == '\t' || s[blank] == '\n' || s[blank] == '\r'))
        blank++;
    if (blank == n)
        return "text is required";
    return validate_text(s, n, 2200, true, "text must be at most 2200 characters", "text contains invalid characters");
}

const char *validate_caption(const char *s, size_t n)
{
    return validate_text(s, n, 2200, true, "caption must be at most 2200 characters",
                      "caption contains invalid characters");
}

bool parse_number(const char *s, double lo, double hi, double *out)
{
    if (s == NULL || *s == '\0' || strlen(s) > 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '+' || *p == 'e' || *p == 'E'))
            return false;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

const char *validate_geo_query(const char *lat, const char *lng, const char *distance, double *la, double *ln,
                               double *dist)
{
    if (!parse_number(lat, -90, 90, la))
        return "lat must be a number from -90 to 90";
    if (!parse_number(lng, -180, 180, ln))
        return "lng must be a number from -180 to 180";
    *dist = GEO_DISTANCE_DEFAULT;
    if (distance != NULL && *distance != '\0' && !parse_number(distance, 0, GEO_DISTANCE_MAX, dist))
        return "distance must be a number of metres from 0 to 5000";
    return NULL;
}

const char *validate_filter(const char *f, size_t n)
{
    if (n == 0 || utf8_len(f, n) > 40)
        return "filter must be 1 to 40 characters";
    if (has_control(f, n, false))
        return "filter contains invalid characters";
    return NULL;
}
