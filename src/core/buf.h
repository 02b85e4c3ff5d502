/*
 * buf: a growable byte buffer with a hard maximum size, plus the JSON
 * writing helpers the renderers use.
 *
 * Every buffer has a limit (like curl's dynbuf "toobig"): an append that
 * would pass it sets buf->overflow and is dropped, so a renderer can write
 * freely and check once at the end. Allocation failure aborts (see xmalloc).
 * A buf is not thread safe; it is owned by whoever initialised it.
 */
#ifndef PICOGRAM_BUF_H
#define PICOGRAM_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
    bool overflow;
} buf_t;

/* malloc/realloc/strdup that abort loudly on OOM, like Redis zmalloc. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

void buf_init(buf_t *b, size_t max);
void buf_free(buf_t *b);
void buf_reset(buf_t *b);
/* Hands the bytes to the caller (NUL-terminated); the buf is left empty. */
char *buf_steal(buf_t *b, size_t *len);

/* Room for n more bytes now, so that appends up to them move nothing
 * (past max: overflow, as an append). */
void buf_reserve(buf_t *b, size_t n);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_putc(buf_t *b, char c);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_i64(buf_t *b, int64_t v);
void buf_u64(buf_t *b, uint64_t v);

/* JSON: a quoted, escaped string. Input must be valid UTF-8 (validate first). */
void buf_json_str_begin(buf_t *b);
void buf_json_str_part(buf_t *b, const char *s, size_t n); /* escapes; call between begin and end */
void buf_json_str_end(buf_t *b);
void buf_json_str(buf_t *b, const char *s, size_t n);
static inline void buf_json_cstr(buf_t *b, const char *s)
{
    if (s == NULL)
        buf_puts(b, "null");
    else {
        size_t n = 0;
        while (s[n])
            n++;
        buf_json_str(b, s, n);
    }
}
/* An ID as a JSON string: "123". */
void buf_json_id(buf_t *b, int64_t id);

#endif
