/*
 * Users: GET /v1/users/{id|self}, POST /v1/users/self (profile edit),
 * GET /v1/users/search.
 */
#include "api/handlers.h"
#include "api/render.h"
#include "model/graph.h"
#include "model/users.h"

#include <stdlib.h>
#include <string.h>

int api_user_fragment(api_req_t *ar, int64_t id, buf_t *out, bool *is_private)
{
    /* cached value: one byte (is_private) then the short-user JSON */
    buf_t v;
    buf_init(&v, 4096);
    int rc = USERS_OK;
    const char *val = NULL;
    size_t len = 0;
    if (!api_cache_view(ar, CACHE_USER, id, &v, &val, &len)) {
        user_t u;
        rc = users_get(ar->db, id, &u);
        if (rc == USERS_OK) {
            buf_putc(&v, u.is_private ? 1 : 0);
            render_user_short(&v, &u);
            api_cache_set(ar, CACHE_USER, id, v.data, v.len, 0);
            val = v.data, len = v.len;
        }
    }
    if (rc == USERS_OK && len > 0) {
        if (is_private)
            *is_private = val[0] != 0;
        buf_append(out, val + 1, len - 1);
    }
    buf_free(&v);
    return rc;
}

/* Renders the users whose IDs are given, skipping ones that are gone. */
void api_render_users(api_req_t *ar, buf_t *b, const int64_t *ids, int n)
{
    buf_putc(b, '[');
    for (int i = 0; i < n; i++) {
        size_t before = b->len;
        if (before > 0 && b->data[before - 1] != '[')
            buf_putc(b, ',');
        if (api_user_fragment(ar, ids[i], b, NULL) != USERS_OK)
            b->len = before; /* gone since: leave out */
    }
    buf_putc(b, ']');
}

bool api_user_arg_brief(api_req_t *ar, size_t i, int64_t *id, bool *is_private)
{
    *id = api_arg_user(ar, i);
    buf_t probe;
    buf_init(&probe, 1024);
    int rc = *id ? api_user_fragment(ar, *id, &probe, is_private) : USERS_NOT_FOUND;
    buf_free(&probe);
    if (rc == USERS_NOT_FOUND)
        api_error(ar, 404, E_NOT_FOUND, "this user does not exist");
    else if (rc != USERS_OK)
        api_internal_error(ar, "user lookup failed");
    return rc == USERS_OK;
}

bool api_load_user_arg(api_req_t *ar, size_t i, user_t *out)
{
    int64_t id = api_arg_user(ar, i);
    int rc = id ? users_get(ar->db, id, out) : USERS_NOT_FOUND;
    if (rc == USERS_NOT_FOUND) {
        api_error(ar, 404, E_NOT_FOUND, "this user does not exist");
        return false;
    }
    if (rc != USERS_OK) {
        api_internal_error(ar, "user lookup failed");
        return false;
    }
    return true;
}

/* A user's full object is cached whole: its counts change with follows and
 * posts, which drop it here (api_profile_changed) and, from other
 * processes, within the short TTL. */
void users_show(api_req_t *ar)
{
    int64_t id = api_arg_user(ar, 0);
    if (id != 0 && !api_user_there(ar, id))
        return;
    buf_t b;
    buf_init(&b, 16384);
    if (id == 0 || !api_cache_get(ar, CACHE_PROFILE, id, &b)) {
        user_t u;
        if (!api_load_user_arg(ar, 0, &u)) {
            buf_free(&b);
            return;
        }
        render_user_full(&b, &u);
        api_cache_set(ar, CACHE_PROFILE, u.id, b.data, b.len, CACHE_SHORT_TTL_MS);
    }
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

void api_profile_changed(cache_t *cache, int64_t user)
{
    cache_del(cache, CACHE_PROFILE, user);
}

void api_posts_changed(cache_t *cache, int64_t user)
{
    cache_del(cache, CACHE_PROFILE, user);
    cache_del(cache, CACHE_RECENT, user);
}

/* The fields a profile edit may set; NULL where the request leaves them. */
typedef struct edit_work {
    api_work_t super;
    cache_t *cache;
    char *full_name, *bio, *website, *email;
    int is_private; /* -1: unchanged */
    int result;
    user_t user;
} edit_work_t;

static void set_field(char *dst, size_t cap, const char *src)
{
    if (src) {
        size_t n = strlen(src);
        memcpy(dst, src, n < cap ? n + 1 : cap); /* validated to fit */
        dst[cap - 1] = '\0';
    }
}

static void edit_run(api_work_t *w_, worker_ctx_t *wc)
{
    edit_work_t *w = (edit_work_t *)w_;
    db_conn_t *c = db_shard(wc->db, ids_shard(w->user.id));
    /* Read, change, write in one transaction, so two edits of different
     * fields at once both land. */
    if (c == NULL || db_begin(c) != DB_OK) {
        w->result = USERS_ERROR;
        return;
    }
    /* under a lock: PostgreSQL's READ COMMITTED would let two edits read the same row */
    w->result = db_lock(c, "profile", w->user.id, 0) == DB_OK ? users_get(wc->db, w->user.id, &w->user) : USERS_ERROR;
    bool was_private = w->user.is_private;
    if (w->result == USERS_OK) {
        set_field(w->user.full_name, sizeof(w->user.full_name), w->full_name);
        set_field(w->user.bio, sizeof(w->user.bio), w->bio);
        set_field(w->user.website, sizeof(w->user.website), w->website);
        set_field(w->user.email, sizeof(w->user.email), w->email);
        if (w->is_private >= 0)
            w->user.is_private = w->is_private;
        w->result = users_update(wc->db, &w->user);
    }
    if (w->result == USERS_OK && was_private && !w->user.is_private) {
        /* turned public: the pending requests are approved, by a job (there may be many) */
        char payload[32];
        snprintf(payload, sizeof(payload), "%lld", (long long)w->user.id);
        if (jobs_enqueue(c, ids_shard(w->user.id), "go_public", payload) != DB_DONE)
            w->result = USERS_ERROR;
    }
    bool committing = w->result == USERS_OK;
    if (!committing || db_commit(c) != DB_OK) {
        db_rollback(c);
        w->result = committing ? USERS_ERROR : w->result;
    }
    /* after the commit, or a failed one, which may have landed all the same
     * (a primary lost mid-commit): a stale copy could show a private
     * profile as public */
    if (committing) {
        cache_del(w->cache, CACHE_USER, w->user.id);
        api_profile_changed(w->cache, w->user.id);
    }
}

static void edit_done(api_work_t *w_, api_req_t *ar)
{
    edit_work_t *w = (edit_work_t *)w_;
    if (w->result != USERS_OK) {
        api_internal_error(ar, "profile edit failed");
        return;
    }
    buf_t b;
    buf_init(&b, 16384);
    render_user_full(&b, &w->user);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

static void edit_cleanup(api_work_t *w_)
{
    edit_work_t *w = (edit_work_t *)w_;
    free(w->full_name);
    free(w->bio);
    free(w->website);
    free(w->email);
}

/* Validates an optional field into *out (a copy). False after answering 400. */
static bool take(api_req_t *ar, const char *key, const char *(*check)(const char *, size_t), char **out)
{
    const param_t *p = params_get(&ar->params, key);
    if (p == NULL)
        return true;
    char *v = xstrdup(p->val);
    text_normalize_newlines(v); /* a CRLF is one character */
    const char *err = check(v, strlen(v));
    if (err) {
        free(v);
        api_error(ar, 400, E_INVALID, err);
        return false;
    }
    *out = v;
    return true;
}

void users_edit(api_req_t *ar)
{
    edit_work_t *w = xcalloc(1, sizeof(*w));
    w->super.run = edit_run;
    w->super.done = edit_done;
    w->super.cleanup = edit_cleanup;
    w->user.id = ar->viewer;
    w->cache = ar->srv->cache;
    w->is_private = -1;
    const char *priv = api_param(ar, "is_private");
    if (priv == NULL)
        priv = api_param(ar, "private");
    bool pv = false;
    if (priv && !params_bool(priv, &pv)) {
        api_error(ar, 400, E_INVALID, "is_private must be true or false");
        goto fail;
    }
    if (priv)
        w->is_private = pv;
    if (!take(ar, "full_name", validate_full_name, &w->full_name) || !take(ar, "bio", validate_bio, &w->bio) ||
        !take(ar, "website", validate_website, &w->website) || !take(ar, "email", validate_email, &w->email))
        goto fail;
    api_defer(ar, &w->super);
    return;
fail:
    edit_cleanup(&w->super);
    free(w);
}

#define SEARCH_MAX 100

/* Whether user blocks the viewer (or that cannot be known now). */
static bool hidden_from_viewer(api_req_t *ar, int64_t user)
{
    int dir = api_block_dir(ar, user);
    return dir < 0 || (dir & GRAPH_BLOCKED_BY);
}

void users_search_handler(api_req_t *ar)
{
    const param_t *q = params_get(&ar->params, "q");
    if (q == NULL || q->vlen == 0) {
        api_error(ar, 400, E_INVALID, "q is required");
        return;
    }
    if (utf8_len(q->val, q->vlen) > FULL_NAME_MAX) { /* (a name's prefix; a username is shorter) */
        api_error(ar, 400, E_INVALID, "q must be at most 100 characters");
        return;
    }
    int count;
    if (!api_count(ar, 20, SEARCH_MAX, &count))
        return;
    /* those who block the viewer are left out, and as many more asked for
     * (SEARCH_MAX more at most) */
    user_t *found = NULL;
    int n = 0;
    for (int want = count;;) {
        free(found);
        found = xcalloc((size_t)want, sizeof(user_t));
        if (users_search(ar->db, q->val, want, found, &n) != USERS_OK) {
            free(found);
            api_internal_error(ar, "search failed");
            return;
        }
        int hidden = 0;
        for (int i = 0; i < n; i++)
            hidden += hidden_from_viewer(ar, found[i].id);
        if (n - hidden >= count || n < want || want >= count + SEARCH_MAX)
            break;
        want = want + hidden < count + SEARCH_MAX ? want + hidden : count + SEARCH_MAX;
    }
    buf_t b;
    buf_init(&b, 1 << 20);
    buf_putc(&b, '[');
    for (int i = 0, shown = 0; i < n && shown < count; i++) {
        if (hidden_from_viewer(ar, found[i].id))
            continue;
        if (shown++)
            buf_putc(&b, ',');
        render_user_short(&b, &found[i]);
    }
    buf_putc(&b, ']');
    free(found);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}
