/*
 * GET /v1/users/self/feed: the home feed, newest first, with count, max_id
 * and min_id, and next_url / next_max_id pagination.
 *
 * A timeline that was never built is rebuilt from the database first, on
 * the worker pool (it is a write); after that a feed read is reads only,
 * inline on the loop.
 */
#include "api/handlers.h"
#include "api/render.h"
#include "feeds/feeds.h"
#include "model/graph.h"
#include "model/media.h"
#include "model/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEED_MAX 100

typedef struct feed_query {
    int count;
    int64_t max_id, min_id;
} feed_query_t;

/* Renders one page. Items the viewer may no longer see (a block, a private
 * account unfollowed, a deleted photo) are left out; pagination still moves
 * past them, so walking next_url returns each visible item exactly once. */
static void render_page(api_req_t *ar, const feed_query_t *q)
{
    int64_t *ids = xcalloc((size_t)q->count + 1, sizeof(int64_t));
    int n = 0;
    if (feeds_home(&ar->srv->feeds, ar->db, ar->viewer, q->max_id, q->min_id, q->count + 1, ids, &n) != 0) {
        free(ids);
        api_internal_error(ar, "feed read failed");
        return;
    }
    bool more = n > q->count;
    if (more)
        n = q->count;
    buf_t b, pg;
    buf_init(&b, 16u << 20);
    buf_init(&pg, 8192);
    media_t *m = xmalloc(sizeof(*m));
    int shown = 0;
    buf_putc(&b, '[');
    for (int i = 0; i < n; i++) {
        user_t owner;
        bool ok = false;
        if (media_get(ar->db, ids[i], m) != MEDIA_OK || users_get(ar->db, m->user_id, &owner) != USERS_OK ||
            graph_can_view(ar->db, ar->viewer, owner.id, owner.is_private, &ok) != GRAPH_OK || !ok)
            continue;
        if (shown++)
            buf_putc(&b, ',');
        api_render_media(ar, &b, m, &owner);
    }
    buf_putc(&b, ']');
    if (more) {
        char next[24];
        snprintf(next, sizeof(next), "%lld", (long long)ids[n - 1]);
        buf_puts(&pg, "{\"next_url\":");
        api_next_url(ar, &pg, "max_id", next);
        buf_puts(&pg, ",\"next_max_id\":");
        buf_json_cstr(&pg, next);
        buf_putc(&pg, '}');
    }
    free(m);
    free(ids);
    api_ok(ar, &b, &pg);
    buf_free(&b);
    buf_free(&pg);
}

typedef struct rebuild_work {
    api_work_t super;
    feeds_t *feeds;
    int64_t user;
    feed_query_t q;
    int result;
} rebuild_work_t;

static void rebuild_run(api_work_t *w_, worker_ctx_t *wc)
{
    rebuild_work_t *w = (rebuild_work_t *)w_;
    w->result = w->feeds->be->rebuild(w->feeds, wc->db, w->user);
}

static void rebuild_done(api_work_t *w_, api_req_t *ar)
{
    rebuild_work_t *w = (rebuild_work_t *)w_;
    if (w->result != 0)
        api_internal_error(ar, "timeline rebuild failed");
    else
        render_page(ar, &w->q);
}

/* A media ID bound, bare or MEDIAID_OWNERID. False after answering 400. */
static bool media_bound(api_req_t *ar, const char *key, int64_t *out)
{
    const param_t *p = params_get(&ar->params, key);
    if (p == NULL || p->vlen == 0)
        return true;
    const char *us = memchr(p->val, '_', p->vlen);
    *out = ids_parse(p->val, us ? (size_t)(us - p->val) : p->vlen);
    if (*out == 0) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%s must be a media ID", key);
        api_error(ar, 400, E_INVALID, msg);
        return false;
    }
    return true;
}

void users_feed(api_req_t *ar)
{
    feed_query_t q = {.max_id = INT64_MAX, .min_id = 0};
    if (!api_count(ar, 20, FEED_MAX, &q.count) || !media_bound(ar, "max_id", &q.max_id) ||
        !media_bound(ar, "min_id", &q.min_id))
        return;
    feeds_t *f = &ar->srv->feeds;
    bool built = false;
    if (f->be->is_built(f, ar->db, ar->viewer, &built) != 0) {
        api_internal_error(ar, "feed state lookup failed");
        return;
    }
    if (built) {
        render_page(ar, &q);
        return;
    }
    rebuild_work_t *w = xcalloc(1, sizeof(*w));
    w->super.run = rebuild_run;
    w->super.done = rebuild_done;
    w->feeds = f;
    w->user = ar->viewer;
    w->q = q;
    api_defer(ar, &w->super);
}
