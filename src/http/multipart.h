/*
 * multipart: a zero-copy parser for multipart/form-data bodies (RFC 7578).
 *
 * Parts point into the body given, which must outlive them. Only what an
 * upload form needs is understood: each part's Content-Disposition name and
 * filename, and its Content-Type. Refuses (returns -1 with a message) a
 * body without a closing delimiter, a part without a name, header blocks
 * over 8 KiB, and more than MULTIPART_MAX_PARTS parts. Pure and thread safe.
 */
#ifndef PICOGRAM_MULTIPART_H
#define PICOGRAM_MULTIPART_H

#include <stddef.h>

#define MULTIPART_MAX_PARTS 16

typedef struct mp_span {
    const char *base;
    size_t len;
} mp_span_t;

typedef struct mp_part {
    mp_span_t name, filename, content_type, data;
    int has_filename;
} mp_part_t;

/* The boundary parameter of a Content-Type value, quoted or not. 0 or -1. */
int multipart_boundary(const char *ct, size_t n, mp_span_t *boundary);
/* Parses body into parts; returns the number of parts, or -1 with *err. */
int multipart_parse(const char *body, size_t n, mp_span_t boundary, mp_part_t *parts, size_t max, const char **err);

#endif
