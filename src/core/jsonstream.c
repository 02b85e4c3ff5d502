/* The objects of a JSON array, an object at a time: see jsonstream.h. */
#include "core/jsonstream.h"
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

#define JSTREAM_CHUNK (64u << 10)

void jstream_init(jstream_t *js, jstream_read_fn read, void *arg, size_t max)
{
    memset(js, 0, sizeof(*js));
    js->read = read;
    js->arg = arg;
    js->max = max ? max : JSTREAM_ITEM_MAX;
    js->cap = JSTREAM_CHUNK < js->max ? JSTREAM_CHUNK : js->max;
    js->buf = xmalloc(js->cap);
}

void jstream_free(jstream_t *js)
{
    free(js->buf);
    js->buf = NULL;
}

/* More bytes after what is kept; false at the end, on a read error
 * (failed), or when the item in hand would pass max (failed). */
static bool fill(jstream_t *js)
{
    if (js->eof)
        return false;
    if (js->off > 0) {
        memmove(js->buf, js->buf + js->off, js->len - js->off);
        js->len -= js->off;
        js->off = 0;
    }
    if (js->len == js->cap) {
        if (js->cap >= js->max) {
            js->failed = js->eof = true;
            return false;
        }
        js->cap = js->cap * 2 < js->max ? js->cap * 2 : js->max;
        js->buf = xrealloc(js->buf, js->cap);
    }
    ssize_t n = js->read(js->arg, js->buf + js->len, js->cap - js->len);
    if (n <= 0) {
        js->eof = true;
        js->failed = n < 0;
        return false;
    }
    js->len += (size_t)n;
    return true;
}

/* The next byte that is not white space (not taken), or -1 at the end. */
static int peek(jstream_t *js)
{
    for (;;) {
        while (js->off < js->len && strchr(" \t\r\n", js->buf[js->off]) != NULL && js->buf[js->off] != '\0')
            js->off++;
        if (js->off < js->len)
            return (unsigned char)js->buf[js->off];
        if (!fill(js))
            return -1;
    }
}

int jstream_next(jstream_t *js, json_t **out)
{
    *out = NULL;
    while (js->state != 4) {
        int c = peek(js);
        if (c < 0)
            return -1;
        if (js->state == 0) {
            if (c != '[')
                return -1;
            js->off++;
            js->state = 1;
        } else if ((js->state == 1 || js->state == 2) && c == ']') {
            js->off++;
            js->state = 4;
        } else if (js->state == 2) {
            if (c != ',')
                return -1;
            js->off++;
            js->state = 3;
        } else {
            if (c != '{')
                return -1;
            /* the object's extent first (its closing brace, outside strings),
             * then jansson on exactly those bytes */
            size_t at = 0; /* scanned, from off */
            int depth = 0;
            bool in_string = false, escaped = false;
            for (;;) {
                for (; js->off + at < js->len; at++) {
                    char ch = js->buf[js->off + at];
                    if (in_string) {
                        if (escaped)
                            escaped = false;
                        else if (ch == '\\')
                            escaped = true;
                        else if (ch == '"')
                            in_string = false;
                    } else if (ch == '"') {
                        in_string = true;
                    } else if (ch == '{' || ch == '[') {
                        depth++;
                    } else if ((ch == '}' || ch == ']') && --depth == 0) {
                        break;
                    }
                }
                if (js->off + at < js->len)
                    break;
                if (!fill(js))
                    return -1;
            }
            json_error_t e;
            json_t *v = json_loadb(js->buf + js->off, at + 1, JSON_REJECT_DUPLICATES, &e);
            if (v == NULL || !json_is_object(v)) {
                json_decref(v);
                return -1;
            }
            js->off += at + 1;
            js->state = 2;
            *out = v;
            return 1;
        }
    }
    return peek(js) < 0 && !js->failed ? 0 : -1; /* nothing after the array */
}
