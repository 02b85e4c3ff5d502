/*
 * GET /v1/users/self/feed: the home feed, newest first, with count, max_id
 * and min_id, and next_url / next_max_id pagination.
 *
 * A timeline that was never built is rebuilt from the database first, on
 * the worker pool (it is a write); after that a feed read is reads only,
 * inline on the loop. With the timelines in Redis (feeds/redis.c), a read
 * that misses the cached head goes to a worker, which may find the
 * timeline lost and rebuild it there; with Redis down, pages are pulled
 * from the database.
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

/* The head of the viewer's feed: the newest FEED_HEAD IDs, in the object
 * cache for a short while (a change to the timeline through this process
 * drops it at once; through another, it shows within CACHE_SHORT_TTL_MS).
 * A page that falls inside it reads nothing else. */
#define FEED_HEAD 100

static bool from_head(api_req_t *ar, int64_t before, int64_t min_id, int limit, int64_t *out, int *n)
{
    buf_t h;
    buf_init(&h, (FEED_HEAD + 2) * sizeof(int64_t)); /* whole, generation, IDs */
    /* the head is [whole, celebrity generation, IDs...]: a celebrity's post
     * since it was built (in no pushed timeline) makes it old */
    int64_t gen = timeline_celebrity_gen();
    bool hit = api_cache_get(ar, CACHE_TIMELINE, ar->viewer, &h);
    if (hit && (h.len < 2 * sizeof(int64_t) || memcmp(h.data + sizeof(int64_t), &gen, sizeof(gen)) != 0)) {
        hit = false;
        h.len = 0;
    }
    if (!hit) {
        int64_t *ids = xcalloc(FEED_HEAD, sizeof(int64_t));
        int k = 0;
        bool merged = false;
        if (timeline_home(&ar->srv->feeds, ar->db, ar->viewer, INT64_MAX, 0, FEED_HEAD, ids, &k, &merged) == 0) {
            int64_t whole = k < FEED_HEAD; /* the timeline ends inside the head */
            buf_append(&h, &whole, sizeof(whole));
            buf_append(&h, &gen, sizeof(gen));
            buf_append(&h, ids, (size_t)k * sizeof(int64_t));
            /* a reader of celebrities' posts (which no push announces)
             * reads them fresh: nobody may be served an older head */
            if (!merged)
                api_cache_set(ar, CACHE_TIMELINE, ar->viewer, h.data, h.len, CACHE_SHORT_TTL_MS);
            else
                cache_del_local(ar->srv->cache, CACHE_TIMELINE, ar->viewer);
            hit = true;
        }
        free(ids);
    }
    bool ok = false;
    if (hit && h.len >= 2 * sizeof(int64_t)) {
        int64_t whole;
        memcpy(&whole, h.data, sizeof(whole));
        const int64_t *ids = (const int64_t *)(h.data + 2 * sizeof(int64_t));
        int k = (int)((h.len - 2 * sizeof(int64_t)) / sizeof(int64_t)), i = 0;
        while (i < k && ids[i] >= before)
            i++;
        *n = 0;
        while (i < k && *n < limit && ids[i] > min_id)
            out[(*n)++] = ids[i++];
        /* served if the page is whole: it filled, reached min_id, or reached the timeline's end */
        ok = *n == limit || (i < k && ids[i] <= min_id) || (i == k && whole);
    }
    buf_free(&h);
    return ok;
}

static int feed_fetch(api_req_t *ar, page_src_t *src, int64_t before, int limit, int *n)
{
    feed_src_t *fs = (feed_src_t *)src;
    if (from_head(ar, before, fs->min_id, limit, src->keys, n)) {
        api_prefetch_liked(ar, src->keys, *n);
        return 0;
    }
    if (timeline_home(&ar->srv->feeds, ar->db, ar->viewer, before, fs->min_id, limit, src->keys, n, NULL) != 0)
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
    if (w->result != FEEDS_OK && w->result != FEEDS_DOWN) /* down: the page is pulled from the database */
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
    int rc;
    buf_t flag;
    buf_init(&flag, 16);
    if (api_cache_get(ar, CACHE_BUILT, ar->viewer, &flag)) { /* built once, built for good */
        built = true;
    } else if ((rc = f->be->is_built(f, ar->db, ar->viewer, &built)) == FEEDS_DOWN) {
        built = true; /* the store cannot be reached: the page is pulled from the database */
    } else if (rc != FEEDS_OK) {
        buf_free(&flag);
        api_internal_error(ar, "feed state lookup failed");
        return;
    } else if (built) {
        api_cache_set(ar, CACHE_BUILT, ar->viewer, "1", 1, 0);
    }
    buf_free(&flag);
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
