/*
 * Relationships: GET and POST /v1/users/{id}/relationship, GET
 * /v1/users/{id}/follows, /v1/users/{id}/followed-by and
 * /v1/users/self/requested-by.
 */
#include "api/handlers.h"
#include "api/render.h"
#include "model/graph.h"
#include "model/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool api_user_there(api_req_t *ar, int64_t user)
{
    int dir = api_block_dir(ar, user);
    if (dir < 0) {
        api_internal_error(ar, "block lookup failed");
        return false;
    }
    if (dir & GRAPH_BLOCKED_BY) {
        api_error(ar, 404, E_NOT_FOUND, "this user does not exist");
        return false;
    }
    return true;
}

bool api_can_view(api_req_t *ar, const user_t *owner, const char *missing)
{
    return api_can_view_id(ar, owner->id, owner->is_private, missing);
}

bool api_can_view_id(api_req_t *ar, int64_t owner, bool owner_private, const char *missing)
{
    if (owner == ar->viewer || (!owner_private && api_block_dir(ar, owner) == 0))
        return true; /* as graph_can_view would say, from the block list the request holds anyway */
    bool ok = false;
    if (graph_can_view(ar->db, ar->viewer, owner, owner_private, &ok) != GRAPH_OK) {
        api_internal_error(ar, "relationship lookup failed");
        return false;
    }
    if (ok)
        return true;
    /* to those they block, a user and all of theirs are not there */
    int dir = api_block_dir(ar, owner);
    if (dir > 0 && (dir & GRAPH_BLOCKED_BY))
        api_error(ar, 404, E_NOT_FOUND, missing);
    else
        api_error(ar, 400, E_NOT_ALLOWED, "you cannot view this user's media or lists");
    return false;
}

static const char *outgoing_name(int s)
{
    return s == REL_FOLLOWS ? "follows" : s == REL_REQUESTED ? "requested" : "none";
}

static const char *incoming_name(const graph_rel_t *r)
{
    if (r->a_blocks_b)
        return "blocked_by_you";
    return r->incoming == REL_FOLLOWS ? "followed_by" : r->incoming == REL_REQUESTED ? "requested_by" : "none";
}

void relationship_show(api_req_t *ar)
{
    user_t target;
    if (!api_load_user_arg(ar, 0, &target))
        return;
    graph_rel_t r;
    if (graph_get(ar->db, ar->viewer, target.id, &r) != GRAPH_OK) {
        api_internal_error(ar, "relationship lookup failed");
        return;
    }
    if (r.b_blocks_a) { /* to those they block, a user is not there */
        api_error(ar, 404, E_NOT_FOUND, "this user does not exist");
        return;
    }
    buf_t b;
    buf_init(&b, 256);
    buf_printf(&b, "{\"outgoing_status\":\"%s\",\"incoming_status\":\"%s\",\"target_user_is_private\":%s}",
               outgoing_name(r.outgoing), incoming_name(&r), target.is_private ? "true" : "false");
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

enum { ACT_FOLLOW, ACT_UNFOLLOW, ACT_BLOCK, ACT_UNBLOCK, ACT_APPROVE, ACT_IGNORE };

typedef struct rel_work {
    api_work_t super;
    cache_t *cache;
    int action;
    int64_t viewer, target;
    bool target_private;
    int result;
    graph_rel_t after;
} rel_work_t;

static void rel_run(api_work_t *w_, worker_ctx_t *wc)
{
    rel_work_t *w = (rel_work_t *)w_;
    db_ctx_t *db = wc->db;
    switch (w->action) {
    case ACT_FOLLOW: w->result = graph_follow(db, w->viewer, w->target, w->target_private); break;
    case ACT_UNFOLLOW: w->result = graph_unfollow(db, w->viewer, w->target); break;
    case ACT_BLOCK: w->result = graph_block(db, w->viewer, w->target); break;
    case ACT_UNBLOCK: w->result = graph_unblock(db, w->viewer, w->target); break;
    case ACT_APPROVE: w->result = graph_approve(db, w->viewer, w->target); break;
    default: w->result = graph_ignore(db, w->viewer, w->target); break;
    }
}

static void rel_after(api_work_t *w_, worker_ctx_t *wc)
{
    rel_work_t *w = (rel_work_t *)w_;
    db_ctx_t *db = wc->db;
    /* after the commit, or a failure whose commit may have landed (as in
     * like_run, social.c) */
    bool may_have_written = w->result == GRAPH_OK || w->result == GRAPH_ERROR;
    if (may_have_written && (w->action == ACT_BLOCK || w->action == ACT_UNBLOCK)) {
        cache_del(w->cache, CACHE_BLOCKS, w->viewer);
        cache_del(w->cache, CACHE_BLOCKS, w->target);
    }
    if (may_have_written) { /* who follows whom changed: so does which celebrities a feed merges */
        cache_del(w->cache, CACHE_TIMELINE, w->viewer);
        cache_del(w->cache, CACHE_TIMELINE, w->target);
        api_profile_changed(w->cache, w->viewer); /* their counts */
        api_profile_changed(w->cache, w->target);
    }
    if (w->result == GRAPH_OK && graph_get(db, w->viewer, w->target, &w->after) != GRAPH_OK)
        w->result = GRAPH_ERROR;
}

static void rel_done(api_work_t *w_, api_req_t *ar)
{
    rel_work_t *w = (rel_work_t *)w_;
    if (w->result == GRAPH_NOT_ALLOWED) {
        api_error(ar, 400, E_NOT_ALLOWED, "a block stands between you and this user");
        return;
    }
    if (w->result != GRAPH_OK) {
        api_internal_error(ar, "relationship change failed");
        return;
    }
    buf_t b;
    buf_init(&b, 128);
    buf_printf(&b, "{\"outgoing_status\":\"%s\"}", outgoing_name(w->after.outgoing));
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

void relationship_change(api_req_t *ar)
{
    static const char *const names[] = {"follow", "unfollow", "block", "unblock", "approve", "ignore", "deny"};
    const char *action = api_param(ar, "action");
    int act = -1;
    for (int i = 0; action && i < 7; i++)
        if (strcmp(action, names[i]) == 0)
            act = i == 6 ? ACT_IGNORE : i;
    if (act < 0) {
        api_error(ar, 400, E_INVALID, "action must be follow, unfollow, block, unblock, approve or ignore");
        return;
    }
    /* from the user cache, as a like's checks are (api/social.c): not the
     * database, from the event loop */
    int64_t target;
    bool target_private = false;
    if (!api_user_arg_brief(ar, 0, &target, &target_private))
        return;
    if (target == ar->viewer) {
        api_error(ar, 400, E_INVALID, "you cannot do that to yourself");
        return;
    }
    /* to those they block, a user is not there: nothing to follow or
     * answer (a block or an unblock of them tells nothing, and stays) */
    if (act != ACT_BLOCK && act != ACT_UNBLOCK && !api_user_there(ar, target))
        return;
    rel_work_t *w = xcalloc(1, sizeof(*w));
    w->super.run = rel_run;
    w->super.after = rel_after;
    w->super.group = true;
    w->super.done = rel_done;
    w->action = act;
    w->cache = ar->srv->cache;
    w->viewer = ar->viewer;
    w->target = target;
    w->target_private = target_private;
    api_defer(ar, &w->super);
}

#define LIST_MAX 100

/* The cursor of a user list: "AT_ID", the edge's time (ms) and the user
 * of the last entry of the page before. False after answering 400. */
static bool list_cursor(api_req_t *ar, int64_t *at, int64_t *id)
{
    const char *v = api_param(ar, "cursor");
    *at = INT64_MAX, *id = INT64_MAX;
    if (v == NULL || *v == '\0')
        return true;
    const char *sep = strchr(v, '_');
    if (sep == NULL || sep == v || (*at = ids_parse(v, (size_t)(sep - v))) == 0 ||
        (*id = ids_parse(sep + 1, strlen(sep + 1))) == 0) {
        api_error(ar, 400, E_INVALID, "cursor is not valid");
        return false;
    }
    return true;
}

/* One page of a user list, newest edge first (graph_list_recent). */
static void user_list(api_req_t *ar, int which, const user_t *subject)
{
    int count;
    if (!api_count(ar, 50, LIST_MAX, &count))
        return;
    int64_t before_at, before_id;
    if (!list_cursor(ar, &before_at, &before_id))
        return;
    int64_t *ids = xcalloc((size_t)count + 1, sizeof(int64_t)), *at = xcalloc((size_t)count + 1, sizeof(int64_t));
    int n = 0;
    if (graph_list_recent(ar->db, which, subject->id, before_at, before_id, count + 1, ids, at, &n) != GRAPH_OK) {
        free(ids);
        free(at);
        api_internal_error(ar, "list failed");
        return;
    }
    bool more = n > count;
    if (more)
        n = count;
    char next[48] = "";
    if (more)
        snprintf(next, sizeof(next), "%lld_%lld", (long long)at[n - 1], (long long)ids[n - 1]);
    int kept = 0; /* not those a block stands between the viewer and (nor any when in doubt), as the likers */
    for (int i = 0; i < n; i++)
        if (api_block_dir(ar, ids[i]) == 0)
            ids[kept++] = ids[i];
    buf_t b;
    buf_init(&b, 1 << 20);
    api_render_users(ar, &b, ids, kept);
    api_ok_page(ar, &b, "cursor", "next_cursor", next);
    free(ids);
    free(at);
    buf_free(&b);
}

static void list_of(api_req_t *ar, int which)
{
    user_t subject;
    if (!api_load_user_arg(ar, 0, &subject) || !api_can_view(ar, &subject, "this user does not exist"))
        return;
    user_list(ar, which, &subject);
}

void users_follows(api_req_t *ar)
{
    list_of(ar, GRAPH_FOLLOWS);
}

void users_followed_by(api_req_t *ar)
{
    list_of(ar, GRAPH_FOLLOWED_BY);
}

void users_requested_by(api_req_t *ar)
{
    user_t self;
    if (users_get(ar->db, ar->viewer, &self) != USERS_OK) {
        api_internal_error(ar, "user lookup failed");
        return;
    }
    user_list(ar, GRAPH_REQUESTED_BY, &self);
}
