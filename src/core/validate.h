/*
 * validate: pure checks on user input. Each returns NULL if the value is
 * acceptable, or a message for the client saying what is wrong.
 */
#ifndef PICOGRAM_VALIDATE_H
#define PICOGRAM_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#define USERNAME_MAX 30
#define PASSWORD_MIN 8
#define PASSWORD_MAX_BYTES 1024
#define FULL_NAME_MAX 100 /* characters */
#define BIO_MAX 150
#define WEBSITE_MAX 200
#define EMAIL_MAX 254

bool utf8_valid(const char *s, size_t n);
/* Number of code points in valid UTF-8. */
size_t utf8_len(const char *s, size_t n);

/* A username as it may be looked up: letters, digits, '.' and '_', at
 * most USERNAME_MAX. NULL, or why not. */
const char *validate_username(const char *s, size_t n);
/* A username as it may be taken at sign-up: the same, not ending in '.'
 * (a trailing dot ends a mention: "@alice." names alice). */
const char *validate_new_username(const char *s, size_t n);
const char *validate_password(const char *s, size_t n);
/* Text of at most max characters of valid UTF-8 with no control
 * character (but newlines, if `newline`): NULL, too_long or bad. */
const char *validate_text(const char *s, size_t n, size_t max, bool newline, const char *too_long, const char *bad);
const char *validate_full_name(const char *s, size_t n);
const char *validate_bio(const char *s, size_t n);
const char *validate_website(const char *s, size_t n);
const char *validate_email(const char *s, size_t n);
/* Captions and comments: up to 2200 characters, newlines allowed. Check
 * text after text_normalize_newlines (a CRLF counts as one character). */
const char *validate_caption(const char *s, size_t n);
const char *validate_comment(const char *s, size_t n);
/* A photo's filter name: 1 to 40 characters, no control characters. */
const char *validate_filter(const char *s, size_t n);

/* A strictly parsed finite decimal number in [lo, hi] (digits, sign, point
 * and exponent only: no spaces, hex, inf or nan). */
bool parse_number(const char *s, double lo, double hi, double *out);

#define GEO_DISTANCE_DEFAULT 1000.0 /* metres */
#define GEO_DISTANCE_MAX 5000.0
/* The point and radius of a geo search, from the lat, lng and distance
 * parameters as given (NULL when absent; a missing distance is the
 * default). NULL, or a message for the client. */
const char *validate_geo_query(const char *lat, const char *lng, const char *distance, double *la, double *ln,
                               double *dist);

/* CRLF to LF, in place (text that allows newlines is stored with LF). */
void text_normalize_newlines(char *s);

/* ASCII lower-case copy into out (n+1 bytes). Non-ASCII bytes are kept. */
void ascii_lower(char *out, const char *s, size_t n);

#endif
