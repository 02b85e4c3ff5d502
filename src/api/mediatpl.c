#include "api/mediatpl.h"

#include <string.h>

void mediatpl_hole_id(buf_t *b, char type, int64_t id)
{
    char h[10] = {0, type};
    memcpy(h + 2, &id, 8);
    buf_append(b, h, sizeof(h));
}

void mediatpl_element_end(buf_t *b)
{
    buf_append(b, "\0E", 2);
}

/* The hole at z (a NUL) and its bytes: 10 for an ID's, else 2. */
static size_t hole_len(const char *z, const char *end)
{
    return (z[1] == 'U' || z[1] == 'S') && end - z >= 10 ? 10 : 2;
}

void mediatpl_write(buf_t *t, int64_t owner, int64_t like_count, const int64_t *users, int64_t nusers, const char *body,
                    size_t len)
{
    if (len >= UINT32_MAX) { /* the offsets are 4 bytes */
        t->overflow = true;
        return;
    }
    buf_t holes;
    buf_init(&holes, 1u << 30);
    const char *end = body + len;
    for (const char *z = body; (z = memchr(z, 0, (size_t)(end - z))) != NULL && end - z >= 2; z += hole_len(z, end)) {
        uint32_t off = (uint32_t)(z - body);
        buf_append(&holes, &off, sizeof(off));
    }
    media_head_t head = {owner, like_count, nusers, (int64_t)(holes.len / 4)};
    buf_append(t, &head, sizeof(head));
    buf_append(t, users, (size_t)nusers * sizeof(users[0]));
    buf_append(t, holes.data, holes.len);
    buf_append(t, body, len);
    if (holes.overflow)
        t->overflow = true;
    buf_free(&holes);
}

bool mediatpl_read(const char *v, size_t len, media_tpl_t *tp)
{
    if (len < sizeof(media_head_t))
        return false;
    memcpy(&tp->head, v, sizeof(tp->head));
    size_t room = len - sizeof(media_head_t);
    if (tp->head.users < 0 || tp->head.holes < 0 || (uint64_t)tp->head.users > room / 8 ||
        (uint64_t)tp->head.holes > (room - 8 * (size_t)tp->head.users) / 4)
        return false;
    tp->users = v + sizeof(media_head_t);
    tp->holes = tp->users + 8 * tp->head.users;
    tp->body = tp->holes + 4 * tp->head.holes;
    tp->len = len - (size_t)(tp->body - v);
    return true;
}

/* Where hole k is in the template, or NULL if the offset is not one (a
 * value of another layout: its holes are not filled) */
static const char *hole_at(const media_tpl_t *tp, int64_t k)
{
    uint32_t off;
    memcpy(&off, tp->holes + 4 * k, sizeof(off));
    return (size_t)off + 2 <= tp->len && tp->body[off] == '\0' ? tp->body + off : NULL;
}

/* The hole after hole k that ends its element (its 'E'), or head.holes. */
static int64_t element_end_hole(const media_tpl_t *tp, int64_t k)
{
    while (++k < tp->head.holes) {
        const char *z = hole_at(tp, k);
        if (z == NULL || z[1] == 'E')
            break;
    }
    return k;
}

void mediatpl_fill(const media_tpl_t *tp, const mediatpl_ops_t *ops, void *ctx, buf_t *out)
{
    const char *p = tp->body, *end = tp->body + tp->len;
    for (int64_t k = 0; k < tp->head.holes; k++) {
        const char *z = hole_at(tp, k);
        if (z == NULL || z < p)
            break; /* (not this layout's: the rest as it is) */
        buf_append(out, p, (size_t)(z - p));
        if (z[1] == 'S' && end - z >= 10) {
            int64_t id;
            memcpy(&id, z + 2, 8);
            if (ops->hidden(ctx, id)) {
                k = element_end_hole(tp, k);
                const char *e = k < tp->head.holes ? hole_at(tp, k) : NULL;
                p = e != NULL && e > z ? e + 2 : end; /* (an end before its start: the rest left out) */
                continue;
            }
            if (out->len > 0 && out->data[out->len - 1] != '[')
                buf_putc(out, ',');
            p = z + 10;
        } else if (z[1] == 'E') {
            p = z + 2;
        } else if (z[1] == 'U' && end - z >= 10) {
            int64_t id;
            memcpy(&id, z + 2, 8);
            ops->user(ctx, id, out);
            p = z + 10;
        } else {
            buf_puts(out, ops->liked(ctx) ? "true" : "false");
            p = z + 2;
        }
    }
    if (p < end)
        buf_append(out, p, (size_t)(end - p));
}
