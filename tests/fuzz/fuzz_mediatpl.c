/* Fuzzes the object cache's media templates (api/mediatpl.h), whose bytes
 * come back from memcached in the cluster:
 *  - any bytes read as a value either fail the read or fill without a
 *    fault, and the answer is no longer than the template and what the
 *    holes put in (1 byte for a comma, 5 for "false", 4 for a user here);
 *  - any bytes written as a template's body read back with the head they
 *    were written with, and fill without a fault. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/mediatpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void user(void *ctx, int64_t id, buf_t *out)
{
    (void)ctx;
    buf_puts(out, id & 1 ? "null" : "{}");
}

static bool hidden(void *ctx, int64_t id)
{
    (void)ctx;
    return (id & 2) != 0;
}

static bool liked(void *ctx)
{
    int *n = ctx;
    return (++*n & 1) != 0;
}

static const mediatpl_ops_t ops = {user, hidden, liked};

static void fill_checked(const media_tpl_t *tp)
{
    int n = 0;
    buf_t out;
    buf_init(&out, 64u << 20);
    mediatpl_fill(tp, &ops, &n, &out);
    if (out.overflow || out.len > tp->len + 5 * (size_t)tp->head.holes)
        abort();
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    media_tpl_t tp;
    if (mediatpl_read((const char *)data, size, &tp)) {
        if (tp.body < (const char *)data || tp.body + tp.len != (const char *)data + size)
            abort();
        fill_checked(&tp);
    }
    /* the bytes as a body: the first 16 as the owner and like count */
    if (size < 16)
        return 0;
    int64_t head[2], users[3] = {1, 2, 3};
    memcpy(head, data, sizeof(head));
    buf_t t;
    buf_init(&t, 64u << 20);
    mediatpl_write(&t, head[0], head[1], users, 3, (const char *)data + 16, size - 16);
    media_tpl_t back;
    if (t.overflow || !mediatpl_read(t.data, t.len, &back) || back.head.owner != head[0] ||
        back.head.like_count != head[1] || back.head.users != 3 || back.len != size - 16 ||
        memcmp(back.users, users, sizeof(users)) != 0 || memcmp(back.body, data + 16, size - 16) != 0)
        abort();
    fill_checked(&back);
    buf_free(&t);
    return 0;
}
