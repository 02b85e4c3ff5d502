/*
 * Pages of lists whose items can be hidden from the viewer only after they
 * are read (a block, a private account, a deleted photo): the page is filled
 * from further rows rather than cut short, and `more` is true only if a
 * visible item remains after it. Scanning is bounded (PAGE_ROUNDS fetches);
 * past that the page ends early with a cursor, so a client walking next_url
 * still sees every visible item exactly once.
 *
 * A cursor never names a hidden item: after a full page it is the last item
 * shown; when the scan stopped among hidden items it is their position,
 * sealed (core/cursor.h).
 */
#include "api/handlers.h"
#include "core/ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_ROUNDS 8
/* room made for each item at the start, so a page's buffer is not grown
 * and copied seven times from 256 bytes: a photo rendered, with its users,
 * is about 1.5 KB (the `small` dataset's median) */
#define PAGE_ITEM_BYTES 1536

int api_page(api_req_t *ar, page_src_t *src, int count, int64_t start, buf_t *out, page_next_t *next)
{
    int cap = count + 1;
    src->keys = xcalloc((size_t)cap, sizeof(int64_t));
    int64_t before = start, last_shown = 0;
    int shown = 0, rc = 0;
    bool exhausted = false, found_more = false;
    *next = (page_next_t){0, false};
    buf_reserve(out, (size_t)cap * PAGE_ITEM_BYTES);
    buf_putc(out, '[');
    for (int round = 0; round < PAGE_ROUNDS && !exhausted && !found_more; round++) {
        int want = count - shown + 1, n = 0;
        if (src->fetch(ar, src, before, want, &n) != 0) {
            rc = -1;
            break;
        }
        exhausted = n < want;
        for (int i = 0; i < n; i++) {
            /* rendered in place, and taken back if it is not shown */
            size_t mark = out->len;
            if (shown)
                buf_putc(out, ',');
            if (!src->emit(ar, src, i, out)) {
                out->len = mark;
                before = src->keys[i]; /* hidden: consumed */
                continue;
            }
            if (shown == count) { /* a visible item after the page: stop before it */
                out->len = mark;
                found_more = true;
                break;
            }
            shown++;
            before = last_shown = src->keys[i];
        }
    }
    buf_putc(out, ']');
    if (rc == 0 && found_more) {
        /* the next page starts after the last item shown; the hidden ones
         * between it and the next visible one are skipped again then */
        *next = (page_next_t){last_shown, false};
    } else if (rc == 0 && !exhausted) {
        /* the scan stopped before the end: go on from where it stopped,
         * which is sealed if it is a hidden item's key */
        *next = (page_next_t){before, before != last_shown};
    }
    free(src->keys);
    src->keys = NULL;
    return rc;
}

void api_cursor_text(const api_req_t *ar, const page_next_t *next, char out[PAGE_CURSOR_MAX])
{
    if (next->pos == 0)
        out[0] = '\0';
    else if (next->sealed)
        cursor_seal(&ar->srv->cursor_key, next->pos, out);
    else
        snprintf(out, PAGE_CURSOR_MAX, "%lld", (long long)next->pos);
}

void api_page_reply(api_req_t *ar, page_src_t *src, int count, int64_t start, const char *param, const char *key)
{
    buf_t b;
    buf_init(&b, 16u << 20);
    page_next_t next;
    if (api_page(ar, src, count, start, &b, &next) != 0) {
        api_internal_error(ar, "list read failed");
    } else {
        char v[PAGE_CURSOR_MAX];
        api_cursor_text(ar, &next, v);
        api_ok_page(ar, &b, param, key, v);
    }
    buf_free(&b);
}

bool api_id_param(api_req_t *ar, const char *key, int64_t *out)
{
    const char *v = api_param(ar, key);
    if (v == NULL || *v == '\0')
        return true;
    size_t n = strlen(v);
    if (cursor_is_sealed(v, n) ? !cursor_open(&ar->srv->cursor_key, v, n, out) : (*out = ids_parse(v, n)) == 0) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%s is not valid", key);
        api_error(ar, 400, E_INVALID, msg);
        return false;
    }
    return true;
}

bool api_ts_param(api_req_t *ar, const char *key, long long *out)
{
    const char *v = api_param(ar, key);
    if (v == NULL || *v == '\0')
        return true;
    if (!params_int(v, 0, 4102444800LL, out)) { /* up to 2100-01-01 */
        char msg[80];
        snprintf(msg, sizeof(msg), "%s must be a unix timestamp in seconds", key);
        api_error(ar, 400, E_INVALID, msg);
        return false;
    }
    return true;
}

bool api_time_bounds(api_req_t *ar, int64_t *min_id, int64_t *max_id)
{
    long long min_ts = -1, max_ts = -1;
    if (!api_ts_param(ar, "min_timestamp", &min_ts) || !api_ts_param(ar, "max_timestamp", &max_ts))
        return false;
    /* IDs sort by time, so the timestamps are ID bounds on the same index.
     * IDs cover PICOGRAM_EPOCH_MS .. +2^41 ms; times outside are open bounds. */
    const int64_t first_ms = PICOGRAM_EPOCH_MS, last_ms = PICOGRAM_EPOCH_MS + (1LL << IDS_TIME_BITS) - 1;
    if (max_ts >= 0) {
        int64_t ms = (max_ts + 1) * 1000;
        int64_t hi = ms <= first_ms ? 1 : ms > last_ms ? INT64_MAX : ids_floor_for_ms(ms);
        *max_id = hi < *max_id ? hi : *max_id;
    }
    if (min_ts >= 0) {
        int64_t ms = min_ts * 1000;
        int64_t lo = ms <= first_ms ? 0 : ms > last_ms ? INT64_MAX : ids_floor_for_ms(ms) - 1;
        *min_id = lo > *min_id ? lo : *min_id;
    }
    return true;
}
