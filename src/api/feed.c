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
#include "model/timeline.h"
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

/* The feed as a page source: candidate IDs from the timeline (merged with
 * unfanned posts of followed authors); an item is shown if the photo still
 * exists and the viewer may still see it (a block or a private account
 * unfollowed since it was fanned out hide it). */
typedef struct feed_src {
    page_src_t super;
    int64_t min_id;
} feed_src_t;

static int feed_fetch(api_req_t *ar, page_src_t *src, int64_t before, int limit, int *n)
{
    feed_src_t *fs = (feed_src_t *)src;
    if (timeline_home(&ar->srv->feeds, ar->db, ar->viewer, before, fs->min_id, limit, src->keys, n) != 0)
        return -1;
    api_prefetch_liked(ar, src->keys, *n);
    return 0;
}

static bool feed_emit(api_req_t *ar, page_src_t *src, int i, buf_t *b)
{
    return api_emit_visible_media(ar, src->keys[i], b);
}

static void render_page(api_req_t *ar, const feed_query_t *q)
{
    feed_src_t src = {.super = {.fetch = feed_fetch, .emit = feed_emit}, .min_id = q->min_id};
    api_page_reply(ar, &src.super, q->count, q->max_id, "max_id", "next_max_id");
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
    w->result = timeline_rebuild(w->feeds, wc->db, w->user);
}

static void rebuild_done(api_work_t *w_, api_req_t *ar)
{
    rebuild_work_t *w = (rebuild_work_t *)w_;
    if (w->result != 0)
        api_internal_error(ar, "timeline rebuild failed");
    else
        render_page(ar, &w->q);
}

void users_feed(api_req_t *ar)
{
    feed_query_t q = {.max_id = INT64_MAX, .min_id = 0};
    if (!api_count(ar, 20, FEED_MAX, &q.count) || !api_media_id_param(ar, "max_id", &q.max_id) ||
        !api_media_id_param(ar, "min_id", &q.min_id))
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
