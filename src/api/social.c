/*
 * Likes, comments and activity:
 *   GET, POST, DELETE /v1/media/{id}/likes;  GET /v1/users/self/media/liked
 *   GET, POST /v1/media/{id}/comments;  DELETE /v1/media/{id}/comments/{cid}
 *   GET /v1/users/self/activity
 * Writes run on the worker pool; POST and DELETE answer data: null.
 */
#include "api/handlers.h"
#include "api/mediatpl.h"
#include "api/render.h"
#include "model/graph.h"
#include "model/media.h"
#include "model/social.h"
#include "model/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- media objects from the object cache ----
 * A media object is cached as a template (api/mediatpl.h): its JSON with
 * holes for the users, the viewer's like and the elements a block hides.
 * Likes, comments and deletion invalidate the entry after their commit. */

static void hole_user(buf_t *b, int64_t id)
{
    mediatpl_hole_id(b, 'U', id);
}

/* Renders m's cached value into t: its header, its users, its template. */
static void build_template(api_req_t *ar, const media_t *m, buf_t *t)
{
    int64_t users[1 + RENDER_LIKERS + RENDER_COMMENTS];
    int nu = 0;
    users[nu++] = m->user_id;
    media_extras_t x = {.user_has_liked_raw = "\0L", .user_has_liked_raw_len = 2};
    buf_init(&x.likers, 64 * 1024);
    buf_init(&x.comments, 64 * 1024);
    buf_t own;
    buf_init(&own, 16);
    hole_user(&own, m->user_id);
    if (m->like_count > 0) {
        int64_t ids[RENDER_LIKERS];
        int n = 0;
        social_likers(ar->db, m->id, RENDER_LIKERS, ids, &n);
        for (int i = 0; i < n; i++) {
            users[nu++] = ids[i];
            mediatpl_hole_id(&x.likers, 'S', ids[i]);
            hole_user(&x.likers, ids[i]);
            mediatpl_element_end(&x.likers);
        }
    }
    if (m->comment_count > 0) {
        comment_t *latest = xcalloc(RENDER_COMMENTS, sizeof(comment_t));
        int n = 0;
        social_comments(ar->db, m->id, RENDER_COMMENTS, latest, &n);
        buf_t from;
        buf_init(&from, 16);
        for (int i = n - 1; i >= 0; i--) { /* oldest first, as a thread reads */
            users[nu++] = latest[i].user_id;
            buf_reset(&from);
            hole_user(&from, latest[i].user_id);
            mediatpl_hole_id(&x.comments, 'S', latest[i].user_id);
            render_comment(&x.comments, &latest[i], from.data, from.len);
            mediatpl_element_end(&x.comments);
        }
        buf_free(&from);
        free(latest);
    }
    render_urls_t urls = {.public_url = ar->cfg->public_url, .photo_url = ar->cfg->photo_url};
    buf_t body;
    buf_init(&body, 16u << 20);
    render_media(&body, m, own.data, own.len, &urls, &x);
    mediatpl_write(t, m->user_id, m->like_count, users, nu, body.data, body.len);
    if (body.overflow)
        t->overflow = true; /* not cached */
    buf_free(&body);
    buf_free(&own);
    buf_free(&x.likers);
    buf_free(&x.comments);
}

static bool viewer_has_blocks(api_req_t *ar);

/* The fill's questions, for one media and the request's viewer. */
typedef struct fill_ctx {
    api_req_t *ar;
    int64_t media, like_count;
    int filter; /* whether any element may be left out: asked at the first */
} fill_ctx_t;

static void fill_user(void *ctx, int64_t id, buf_t *out)
{
    fill_ctx_t *f = ctx;
    if (api_user_fragment(f->ar, id, out, NULL) != USERS_OK)
        buf_puts(out, "null");
}

static bool fill_hidden(void *ctx, int64_t id)
{
    fill_ctx_t *f = ctx;
    if (f->filter < 0)
        f->filter = viewer_has_blocks(f->ar);
    return f->filter && api_block_dir(f->ar, id) != 0; /* hidden, or when in doubt */
}

static bool fill_liked(void *ctx)
{
    fill_ctx_t *f = ctx;
    api_req_t *ar = f->ar;
    bool liked = false;
    if (f->like_count > 0 && ar->liked.known && f->media >= ar->liked.lo && f->media <= ar->liked.hi) {
        for (int i = 0; i < ar->liked.n && !liked; i++)
            liked = ar->liked.ids[i] == f->media;
    } else if (f->like_count > 0) {
        social_has_liked(ar->db, f->media, ar->viewer, &liked);
    }
    return liked;
}

static const mediatpl_ops_t fill_ops = {fill_user, fill_hidden, fill_liked};

/* Fills the holes of a template into out. */
static void assemble(api_req_t *ar, const media_tpl_t *tp, int64_t media, buf_t *out)
{
    fill_ctx_t f = {ar, media, tp->head.like_count, -1};
    mediatpl_fill(tp, &fill_ops, &f, out);
}

/* The cached template of a media, loading and caching it on a miss (m may
 * be NULL: then the row is read here): *tp points into the request's memo
 * or into t (api_cache_view). False if the media does not exist. */
static bool media_template(api_req_t *ar, int64_t id, const media_t *m, buf_t *t, media_tpl_t *tp)
{
    const char *tv;
    size_t tl;
    if (api_cache_view(ar, CACHE_MEDIA, id, t, &tv, &tl) && mediatpl_read(tv, tl, tp))
        return true;
    buf_reset(t);
    media_t *own = NULL;
    if (m == NULL) {
        own = xmalloc(sizeof(*own));
        if (media_get(ar->db, id, own) != MEDIA_OK) {
            free(own);
            return false;
        }
        m = own;
    }
    build_template(ar, m, t);
    if (!t->overflow)
        api_cache_set(ar, CACHE_MEDIA, id, t->data, t->len, 0);
    free(own);
    return mediatpl_read(t->data, t->len, tp);
}

void api_render_media(api_req_t *ar, buf_t *b, const media_t *m, bool m_from_this_request)
{
    buf_t t;
    buf_init(&t, 16u << 20);
    media_tpl_t tp;
    bool ok;
    if (m_from_this_request) {
        ok = media_template(ar, m->id, m, &t, &tp);
    } else { /* read elsewhere (a worker): render it, but do not cache it */
        build_template(ar, m, &t);
        ok = mediatpl_read(t.data, t.len, &tp);
    }
    if (ok)
        assemble(ar, &tp, m->id, b);
    buf_free(&t);
}

/* The viewer's likes in [lo, hi] from the cached likes of a range that
 * holds it. *ranged: whether likes of a narrower range than every ID were
 * cached (a viewer with too many to hold them all). */
static bool liked_from_cache(api_req_t *ar, int64_t lo, int64_t hi, int *got, bool *ranged)
{
    buf_t v;
    buf_init(&v, sizeof(int64_t) * (API_LIKED_MEMO + 2));
    bool ok = api_cache_get(ar, CACHE_LIKED, ar->viewer, &v) && v.len >= 2 * sizeof(int64_t);
    *ranged = false;
    if (ok) {
        int64_t clo, chi;
        memcpy(&clo, v.data, sizeof(clo));
        memcpy(&chi, v.data + sizeof(clo), sizeof(chi));
        *ranged = !(clo == 0 && chi == INT64_MAX);
        ok = clo <= lo && hi <= chi;
        size_t k = (v.len - 2 * sizeof(int64_t)) / sizeof(int64_t);
        *got = 0;
        for (size_t i = 0; ok && i < k && *got < API_LIKED_MEMO; i++) {
            int64_t id;
            memcpy(&id, v.data + (2 + i) * sizeof(int64_t), sizeof(id));
            if (id >= lo && id <= hi)
                ar->liked.ids[(*got)++] = id;
        }
    }
    buf_free(&v);
    return ok;
}

/* With a shared cache: a page's media templates in one round trip, then
 * the users their holes name in another, rather than one per object. */
static void prefetch_objects(api_req_t *ar, const int64_t *ids, int n)
{
    if (n <= 1 || !api_cache_prefetch(ar, CACHE_MEDIA, ids, n))
        return;
    size_t cap = 64, nu = 0;
    int64_t *users = xmalloc(cap * sizeof(int64_t));
    buf_t t;
    buf_init(&t, 16u << 20);
    for (int i = 0; i < n; i++) {
        buf_reset(&t);
        const char *tv;
        size_t tl;
        media_tpl_t tp;
        if (!api_cache_view(ar, CACHE_MEDIA, ids[i], &t, &tv, &tl) || !mediatpl_read(tv, tl, &tp))
            continue;
        while (nu + (size_t)tp.head.users > cap)
            users = xrealloc(users, (cap *= 2) * sizeof(int64_t));
        memcpy(users + nu, tp.users, (size_t)tp.head.users * sizeof(int64_t));
        nu += (size_t)tp.head.users;
    }
    buf_free(&t);
    api_cache_prefetch(ar, CACHE_USER, users, (int)nu);
    free(users);
}

void api_prefetch_liked(api_req_t *ar, const int64_t *ids, int n)
{
    prefetch_objects(ar, ids, n);
    ar->liked.known = false;
    if (n <= 1 || ar->viewer == 0)
        return; /* one item: one point query is as cheap */
    int64_t lo = ids[0], hi = ids[0];
    for (int i = 1; i < n; i++) {
        lo = ids[i] < lo ? ids[i] : lo;
        hi = ids[i] > hi ? ids[i] : hi;
    }
    int got = 0;
    bool ranged = false;
    if (liked_from_cache(ar, lo, hi, &got, &ranged)) {
        /* the viewer's likes in a range that holds this one: all of them
         * (most viewers), or the same page's range (a refreshed page) */
    } else {
        /* Most viewers have liked fewer than API_LIKED_MEMO photos: then
         * all of them are read, once, and every page of any user's, tag's
         * or place's reads them from the cache, kept for a short while (a
         * like through this process drops it at once). A viewer with more
         * (a ranged entry is cached: this is not tried again while it
         * lasts) has the likes of this page's range read and cached. */
        int64_t clo = 0, chi = INT64_MAX;
        int n = 0;
        if (ranged ||
            social_liked_between(ar->db, ar->viewer, clo, chi, API_LIKED_MEMO, ar->liked.ids, &n) != SOCIAL_OK ||
            n >= API_LIKED_MEMO) {
            clo = lo, chi = hi;
            if (social_liked_between(ar->db, ar->viewer, lo, hi, API_LIKED_MEMO, ar->liked.ids, &n) != SOCIAL_OK ||
                n >= API_LIKED_MEMO)
                return; /* too many to hold: each item asks for itself */
        }
        buf_t v;
        buf_init(&v, sizeof(int64_t) * (API_LIKED_MEMO + 2));
        buf_append(&v, &clo, sizeof(clo));
        buf_append(&v, &chi, sizeof(chi));
        buf_append(&v, ar->liked.ids, (size_t)n * sizeof(int64_t));
        api_cache_set(ar, CACHE_LIKED, ar->viewer, v.data, v.len, CACHE_SHORT_TTL_MS);
        buf_free(&v);
        for (int i = 0; i < n; i++) /* this page's range */
            if (ar->liked.ids[i] >= lo && ar->liked.ids[i] <= hi)
                ar->liked.ids[got++] = ar->liked.ids[i];
    }
    ar->liked.known = true;
    ar->liked.lo = lo;
    ar->liked.hi = hi;
    ar->liked.n = got;
}

/* ---- blocks ----
 * The users a block stands between the viewer and, either way, read once
 * per request at its first need: from the object cache for a short while
 * (a block made through another process shows within CACHE_SHORT_TTL_MS;
 * through this one, at once: it drops both sides' entries), else from
 * every database. Most viewers have none, and pay one cache read. The
 * cached value: a byte, 1 if the list is complete, then 9 bytes a user
 * (the ID, then the direction). For a viewer with more than API_BLOCKS_MAX,
 * or while a database cannot be read, each other user is asked about on
 * their own (graph_get: the two users' databases). */
#define API_BLOCKS_MAX 256
#define BLOCK_ENTRY 9

struct api_blocks {
    bool known; /* false: the databases could not be read (a try on the loop, or an outage) */
    bool complete;
    int n;
    graph_block_t e[];
};

static struct api_blocks *blocks_new(int n, bool known, bool complete)
{
    struct api_blocks *b = xmalloc(sizeof(*b) + (size_t)n * sizeof(graph_block_t));
    b->known = known, b->complete = complete, b->n = n;
    return b;
}

static struct api_blocks *viewer_blocks(api_req_t *ar)
{
    if (ar->blocks != NULL)
        return ar->blocks;
    buf_t v;
    buf_init(&v, 1 + BLOCK_ENTRY * API_BLOCKS_MAX);
    struct api_blocks *b;
    if (api_cache_get(ar, CACHE_BLOCKS, ar->viewer, &v) && v.len >= 1 && (v.len - 1) % BLOCK_ENTRY == 0 &&
        (v.len - 1) / BLOCK_ENTRY <= API_BLOCKS_MAX) {
        /* the usual case, and most often an empty list: decoded in place */
        b = blocks_new((int)((v.len - 1) / BLOCK_ENTRY), true, v.data[0] == 1);
        for (int i = 0; i < b->n; i++) {
            memcpy(&b->e[i].user, v.data + 1 + (size_t)i * BLOCK_ENTRY, 8);
            b->e[i].dir = (unsigned char)v.data[1 + (size_t)i * BLOCK_ENTRY + 8];
        }
    } else {
        graph_block_t *tmp = xcalloc(API_BLOCKS_MAX, sizeof(*tmp));
        int n = 0;
        bool complete = true;
        if (graph_block_list(ar->db, ar->viewer, tmp, API_BLOCKS_MAX, &n, &complete) == GRAPH_OK) {
            buf_reset(&v);
            buf_putc(&v, complete ? 1 : 0);
            for (int i = 0; i < n; i++) {
                buf_append(&v, &tmp[i].user, 8);
                buf_putc(&v, (char)tmp[i].dir);
            }
            api_cache_set(ar, CACHE_BLOCKS, ar->viewer, v.data, v.len, CACHE_SHORT_TTL_MS);
            b = blocks_new(n, true, complete);
            memcpy(b->e, tmp, (size_t)n * sizeof(graph_block_t));
        } else {
            b = blocks_new(0, false, false);
        }
        free(tmp);
    }
    buf_free(&v);
    ar->blocks = b;
    return b;
}

/* Whether a block may stand between the viewer and anyone (true when in doubt). */
static bool viewer_has_blocks(api_req_t *ar)
{
    if (ar->viewer == 0)
        return false;
    const struct api_blocks *b = viewer_blocks(ar);
    return !(b->known && b->complete && b->n == 0);
}

int api_block_dir(api_req_t *ar, int64_t user)
{
    if (ar->viewer == 0 || user == ar->viewer)
        return 0;
    struct api_blocks *b = viewer_blocks(ar);
    for (int i = 0; i < b->n; i++)
        if (b->e[i].user == user)
            return b->e[i].dir;
    if (b->known && b->complete)
        return 0;
    /* not in the list: ask the two users' databases (a database of some
     * other user's being down does not matter here) */
    graph_rel_t r;
    if (graph_get(ar->db, ar->viewer, user, &r) != GRAPH_OK)
        return -1;
    return (r.a_blocks_b ? GRAPH_BLOCKS : 0) | (r.b_blocks_a ? GRAPH_BLOCKED_BY : 0);
}

/* Whether the viewer may see owner's media, asked once per owner per request. */
static bool may_view(api_req_t *ar, int64_t owner)
{
    for (int i = 0; i < ar->vis.n; i++)
        if (ar->vis.owner[i] == owner)
            return ar->vis.ok[i];
    int dir = api_block_dir(ar, owner); /* one probe per request: most readers have no block at all */
    buf_t probe;
    buf_init(&probe, 4096);
    bool is_private = false, ok = false;
    bool known = api_user_fragment(ar, owner, &probe, &is_private) == USERS_OK;
    if (known && (owner == ar->viewer || (!is_private && dir == 0)))
        ok = true; /* public, and no block either way: nothing to ask */
    else if (known && dir > 0)
        ok = false; /* a block either way */
    else if (known)
        known = graph_can_view(ar->db, ar->viewer, owner, is_private, &ok) == GRAPH_OK;
    buf_free(&probe);
    ok = known && ok;
    if (known && ar->vis.n < API_VIS_MEMO) {
        ar->vis.owner[ar->vis.n] = owner;
        ar->vis.ok[ar->vis.n++] = ok;
    }
    return ok;
}

bool api_emit_visible_media(api_req_t *ar, int64_t id, buf_t *b)
{
    buf_t t;
    buf_init(&t, 16u << 20);
    media_tpl_t tp;
    bool found = media_template(ar, id, NULL, &t, &tp) && may_view(ar, tp.head.owner);
    if (found)
        assemble(ar, &tp, id, b);
    buf_free(&t);
    return found;
}

/* GET /v1/media/{id} from the object cache: the media's template (which
 * names its owner), the owner's cached fragment (there? private?), and the
 * viewer's cached likes, with the answers and errors of the rows' path
 * (api_find_media, api_can_view). False, having answered nothing, when the
 * template is not cached: then the caller reads the rows. */
bool api_show_media_cached(api_req_t *ar, int64_t id, int64_t owner_hint)
{
    buf_t t;
    buf_init(&t, 16u << 20);
    const char *tv;
    size_t tl;
    media_tpl_t tp;
    if (id == 0 || !api_cache_view(ar, CACHE_MEDIA, id, &t, &tv, &tl) || !mediatpl_read(tv, tl, &tp)) {
        buf_free(&t);
        return false;
    }
    bool is_private = false;
    int rc = owner_hint && owner_hint != tp.head.owner ? MEDIA_NOT_FOUND : MEDIA_OK, urc = USERS_ERROR;
    if (rc == MEDIA_OK) {
        buf_t probe;
        buf_init(&probe, 4096);
        urc = api_user_fragment(ar, tp.head.owner, &probe, &is_private);
        buf_free(&probe);
    }
    if (api_media_answer(ar, rc, urc) && api_can_view_id(ar, tp.head.owner, is_private, "this media does not exist")) {
        int got = 0;
        bool ranged;
        /* the viewer's likes, if a page cached them; else assemble asks */
        if (ar->viewer != 0 && tp.head.like_count > 0 && liked_from_cache(ar, id, id, &got, &ranged)) {
            ar->liked.known = true; /* (liked_from_cache wrote ids) */
            ar->liked.lo = ar->liked.hi = id;
            ar->liked.n = got;
        }
        buf_t b;
        buf_init(&b, 1 << 20);
        assemble(ar, &tp, id, &b);
        api_ok(ar, &b, NULL);
        buf_free(&b);
    }
    buf_free(&t);
    return true;
}

/* The media named by the first path argument, visible to the viewer. */
static bool media_arg(api_req_t *ar, media_t *m, user_t *owner)
{
    int64_t hint;
    int64_t id = parse_media_id(ar->match.args[0].base, ar->match.args[0].len, &hint);
    return api_load_media(ar, id, hint, m, owner);
}

/* The same, seen or not (the caller checks). */
static bool media_arg_found(api_req_t *ar, media_t *m, user_t *owner)
{
    int64_t hint;
    int64_t id = parse_media_id(ar->match.args[0].base, ar->match.args[0].len, &hint);
    return api_find_media(ar, id, hint, m, owner);
}

/* A media's owner, from the object cache (CACHE_OWNER, or the media's
 * template when that is cached), else from the database, then cached. */
static int media_owner(api_req_t *ar, int64_t id, int64_t *owner)
{
    buf_t v;
    buf_init(&v, 64);
    const char *val;
    size_t len;
    media_tpl_t tp;
    bool hit = api_cache_view(ar, CACHE_OWNER, id, &v, &val, &len) && len == sizeof(*owner);
    if (hit)
        memcpy(owner, val, sizeof(*owner));
    else if ((hit = api_cache_view(ar, CACHE_MEDIA, id, &v, &val, &len) && mediatpl_read(val, len, &tp)))
        *owner = tp.head.owner;
    buf_free(&v);
    if (hit)
        return MEDIA_OK;
    media_t *m = xmalloc(sizeof(*m));
    int rc = media_get(ar->db, id, m);
    if (rc == MEDIA_OK) {
        *owner = m->user_id;
        api_cache_set(ar, CACHE_OWNER, id, owner, sizeof(*owner), 0);
    }
    free(m);
    return rc;
}

/* The media named by the first path argument, for a write on it (a like,
 * an unlike, a comment): its ID, its owner and the owner's privacy, read
 * from the object cache where it holds them. These checks run on the event
 * loop, and each commit empties the page cache of the loop's SQLite
 * connection, so every read went back to the file, a pread a page, while
 * the loop's other requests waited. A media's owner never changes; whether
 * the media still exists is the write's own check, in its transaction
 * (media_alive), which answers the same 404. False after answering. */
static bool write_media_arg(api_req_t *ar, int64_t *id, int64_t *owner, bool *owner_private)
{
    int64_t hint;
    *id = parse_media_id(ar->match.args[0].base, ar->match.args[0].len, &hint);
    int rc = *id ? media_owner(ar, *id, owner) : MEDIA_NOT_FOUND;
    if (rc == MEDIA_OK && hint && hint != *owner)
        rc = MEDIA_NOT_FOUND;
    int urc = USERS_ERROR;
    if (rc == MEDIA_OK) {
        buf_t probe;
        buf_init(&probe, 1024);
        urc = api_user_fragment(ar, *owner, &probe, owner_private);
        buf_free(&probe);
    }
    return api_media_answer(ar, rc, urc);
}

/* ---- likes ---- */

typedef struct like_work {
    api_work_t super;
    cache_t *cache;
    int64_t media, owner, user;
    bool add;
    int result;
} like_work_t;

static void like_run(api_work_t *w_, worker_ctx_t *wc)
{
    like_work_t *w = (like_work_t *)w_;
    w->result = w->add ? social_like(wc->db, w->media, w->owner, w->user) : social_unlike(wc->db, w->media, w->user);
}

static void like_after(api_work_t *w_, worker_ctx_t *wc)
{
    (void)wc;
    like_work_t *w = (like_work_t *)w_;
    /* after the commit, or after a failure that may have come once the
     * commit reached the database (a primary lost mid-commit): either way
     * the cached counts may be stale now */
    if (w->result == SOCIAL_OK || w->result == SOCIAL_ERROR) {
        cache_del(w->cache, CACHE_MEDIA, w->media);
        cache_del(w->cache, CACHE_LIKED, w->user);
    }
}

static void null_done(api_work_t *w_, api_req_t *ar)
{
    like_work_t *w = (like_work_t *)w_;
    if (w->result == SOCIAL_OK)
        api_ok_null(ar);
    else if (w->result == SOCIAL_NOT_FOUND)
        api_error(ar, 404, E_NOT_FOUND, "this media does not exist");
    else
        api_internal_error(ar, "like change failed");
}

static void like_change(api_req_t *ar, bool add)
{
    int64_t media, owner;
    bool owner_private = false;
    if (!write_media_arg(ar, &media, &owner, &owner_private))
        return;
    /* a like may be taken back on a photo the viewer can no longer see
     * (its owner blocked them: until the block's purge takes it); whether
     * it is seen is asked first, since it needs no query when the owner is
     * public and no block stands between them (api_can_view_id) */
    bool seen = owner == ar->viewer || (!owner_private && api_block_dir(ar, owner) == 0);
    bool liked = false;
    if (!seen && !add && social_has_liked(ar->db, media, ar->viewer, &liked) != SOCIAL_OK) {
        api_internal_error(ar, "like lookup failed");
        return;
    }
    if (!seen && !liked && !api_can_view_id(ar, owner, owner_private, "this media does not exist"))
        return;
    like_work_t *w = xcalloc(1, sizeof(*w));
    w->super.run = like_run;
    w->super.after = like_after;
    w->super.group = true;
    w->super.done = null_done;
    w->media = media;
    w->owner = owner;
    w->user = ar->viewer;
    w->add = add;
    w->cache = ar->srv->cache;
    api_defer(ar, &w->super);
}

void likes_add(api_req_t *ar)
{
    like_change(ar, true);
}

void likes_remove(api_req_t *ar)
{
    like_change(ar, false);
}

#define LIKERS_MAX 120

void likes_list(api_req_t *ar)
{
    media_t *m = xmalloc(sizeof(*m));
    user_t owner;
    if (!media_arg(ar, m, &owner)) {
        free(m);
        return;
    }
    int64_t ids[LIKERS_MAX];
    int n = 0;
    int rc = social_likers(ar->db, m->id, LIKERS_MAX, ids, &n);
    free(m);
    if (rc != SOCIAL_OK) {
        api_internal_error(ar, "likes read failed");
        return;
    }
    int kept = 0; /* not those a block stands between the viewer and (nor any when in doubt) */
    for (int i = 0; i < n; i++)
        if (api_block_dir(ar, ids[i]) == 0)
            ids[kept++] = ids[i];
    n = kept;
    buf_t b;
    buf_init(&b, 1 << 20);
    api_render_users(ar, &b, ids, n);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

/* The liked list as a page source: like IDs, with their media beside them. */
typedef struct liked_src {
    page_src_t super;
    int64_t *media_ids;
} liked_src_t;

static int liked_fetch(api_req_t *ar, page_src_t *src, int64_t before, int limit, int *n)
{
    liked_src_t *ls = (liked_src_t *)src;
    if (social_liked(ar->db, ar->viewer, before, limit, src->keys, ls->media_ids, n) != SOCIAL_OK)
        return -1;
    api_prefetch_liked(ar, ls->media_ids, *n);
    return 0;
}

static bool liked_emit(api_req_t *ar, page_src_t *src, int i, buf_t *b)
{
    liked_src_t *ls = (liked_src_t *)src;
    return api_emit_visible_media(ar, ls->media_ids[i], b);
}

void users_liked(api_req_t *ar)
{
    int count;
    int64_t before = INT64_MAX;
    if (!api_count(ar, 20, 100, &count) || !api_id_param(ar, "max_like_id", &before))
        return;
    liked_src_t src = {.super = {.fetch = liked_fetch, .emit = liked_emit}};
    src.media_ids = xcalloc((size_t)count + 1, sizeof(int64_t));
    api_page_reply(ar, &src.super, count, before, "max_like_id", "next_max_like_id");
    free(src.media_ids);
}

/* ---- comments ---- */

#define COMMENTS_MAX 150

void comments_list(api_req_t *ar)
{
    media_t *m = xmalloc(sizeof(*m));
    user_t owner;
    if (!media_arg(ar, m, &owner)) {
        free(m);
        return;
    }
    comment_t *cs = xcalloc(COMMENTS_MAX, sizeof(comment_t));
    int n = 0;
    int rc = social_comments(ar->db, m->id, COMMENTS_MAX, cs, &n);
    free(m);
    if (rc != SOCIAL_OK) {
        free(cs);
        api_internal_error(ar, "comments read failed");
        return;
    }
    buf_t b;
    buf_init(&b, 16u << 20);
    buf_putc(&b, '[');
    int shown = 0;
    buf_t from;
    buf_init(&from, 4096);
    for (int i = n - 1; i >= 0; i--) { /* oldest first */
        buf_reset(&from);
        if (api_block_dir(ar, cs[i].user_id) != 0 || api_user_fragment(ar, cs[i].user_id, &from, NULL) != USERS_OK)
            continue;
        if (shown++)
            buf_putc(&b, ',');
        render_comment(&b, &cs[i], from.data, from.len);
    }
    buf_free(&from);
    buf_putc(&b, ']');
    free(cs);
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

typedef struct comment_work {
    api_work_t super;
    cache_t *cache;
    comment_t c;
    int64_t owner;
    bool add;
    text_mention_t mentions[TEXT_MAX_MENTIONS];
    size_t nmentions;
    int result;
} comment_work_t;

static void comment_run(api_work_t *w_, worker_ctx_t *wc)
{
    comment_work_t *w = (comment_work_t *)w_;
    w->result = w->add ? social_comment_add(wc->db, &w->c, w->owner, w->mentions, w->nmentions)
                       : social_comment_delete(wc->db, &w->c);
}

static void comment_after(api_work_t *w_, worker_ctx_t *wc)
{
    (void)wc;
    comment_work_t *w = (comment_work_t *)w_;
    if (w->result == SOCIAL_OK || w->result == SOCIAL_ERROR) /* as in like_after */
        cache_del(w->cache, CACHE_MEDIA, w->c.media_id);
}

static void comment_done(api_work_t *w_, api_req_t *ar)
{
    comment_work_t *w = (comment_work_t *)w_;
    if (w->result == SOCIAL_OK)
        api_ok_null(ar);
    else if (w->result == SOCIAL_NOT_FOUND)
        api_error(ar, 404, E_NOT_FOUND, w->add ? "this media does not exist" : "this comment does not exist");
    else
        api_internal_error(ar, "comment change failed");
}

void comments_add(api_req_t *ar)
{
    const param_t *t = params_get(&ar->params, "text");
    char *text = xstrdup(t ? t->val : "");
    text_normalize_newlines(text);
    const char *err = validate_comment(text, strlen(text));
    if (err || strlen(text) >= sizeof(((comment_t *)0)->text)) {
        free(text);
        api_error(ar, 400, E_INVALID, err ? err : "text is too long");
        return;
    }
    int64_t media, owner;
    bool owner_private = false;
    if (!write_media_arg(ar, &media, &owner, &owner_private) ||
        !api_can_view_id(ar, owner, owner_private, "this media does not exist")) {
        free(text);
        return;
    }
    comment_work_t *w = xcalloc(1, sizeof(*w));
    w->super.run = comment_run;
    w->super.after = comment_after;
    w->super.group = true;
    w->super.done = comment_done;
    w->cache = ar->srv->cache;
    w->add = true;
    w->owner = owner;
    w->c.media_id = media;
    w->c.user_id = ar->viewer;
    w->c.id = ids_next(ar->srv->ids, ids_shard(media)); /* on the media's shard */
    memcpy(w->c.text, text, strlen(text) + 1);
    free(text);
    w->nmentions = text_mentions(w->c.text, strlen(w->c.text), w->mentions, TEXT_MAX_MENTIONS);
    api_defer(ar, &w->super);
}

void comments_remove(api_req_t *ar)
{
    media_t *m = xmalloc(sizeof(*m));
    user_t owner;
    if (!media_arg_found(ar, m, &owner)) {
        free(m);
        return;
    }
    comment_work_t *w = xcalloc(1, sizeof(*w));
    int64_t cid = ids_parse(ar->match.args[1].base, ar->match.args[1].len);
    int rc = cid ? social_comment_get(ar->db, m->id, cid, &w->c) : SOCIAL_NOT_FOUND;
    int64_t media_owner = m->user_id;
    free(m);
    /* its author may delete a comment on a photo they can no longer see
     * (its owner blocked them: until the block's purge takes it); anyone
     * else learns nothing of a photo they cannot see */
    if (!(rc == SOCIAL_OK && w->c.user_id == ar->viewer) && !api_can_view(ar, &owner, "this media does not exist")) {
        free(w);
        return;
    }
    if (rc != SOCIAL_OK) {
        free(w);
        if (rc == SOCIAL_NOT_FOUND)
            api_error(ar, 404, E_NOT_FOUND, "this comment does not exist");
        else
            api_internal_error(ar, "comment lookup failed");
        return;
    }
    if (w->c.user_id != ar->viewer && media_owner != ar->viewer) {
        free(w);
        api_error(ar, 400, E_NOT_ALLOWED, "only the comment's author or the photo's owner can delete it");
        return;
    }
    w->super.run = comment_run;
    w->super.after = comment_after;
    w->super.group = true;
    w->super.done = comment_done;
    w->cache = ar->srv->cache;
    api_defer(ar, &w->super);
}

/* ---- activity ---- */

#define ACTIVITY_MAX 100

static void render_activity(api_req_t *ar, buf_t *b, const activity_t *a, const buf_t *actor)
{
    buf_puts(b, "{\"id\":");
    buf_json_id(b, a->id);
    buf_puts(b, ",\"type\":");
    buf_json_cstr(b, a->kind);
    buf_puts(b, ",\"created_time\":\"");
    buf_i64(b, ids_unix_ms(a->id) / 1000);
    buf_puts(b, "\",\"user\":");
    buf_append(b, actor->data, actor->len);
    buf_puts(b, ",\"media\":");
    media_t *m = a->media_id ? xmalloc(sizeof(*m)) : NULL;
    if (m && media_get(ar->db, a->media_id, m) == MEDIA_OK) {
        char key[128];
        blob_media_key(key, sizeof(key), m->id, m->file_key, img_renditions[IMG_THUMBNAIL].suffix);
        buf_puts(b, "{\"id\":");
        render_media_id(b, m);
        buf_printf(b, ",\"images\":{\"thumbnail\":{\"url\":\"%s/%s\",\"width\":%d,\"height\":%d}}}", ar->cfg->photo_url,
                   key, m->width[IMG_THUMBNAIL], m->height[IMG_THUMBNAIL]);
    } else {
        buf_puts(b, "null");
    }
    free(m);
    buf_puts(b, ",\"text\":");
    if (a->text[0])
        buf_json_cstr(b, a->text);
    else
        buf_puts(b, "null");
    buf_putc(b, '}');
}

/* Whether the photo exists and the viewer may see it. */
static bool media_visible(api_req_t *ar, int64_t id)
{
    buf_t t, probe;
    buf_init(&t, 16u << 20);
    buf_init(&probe, 4096);
    bool is_private = false, ok = false;
    media_tpl_t tp;
    if (media_template(ar, id, NULL, &t, &tp)) {
        ok = api_user_fragment(ar, tp.head.owner, &probe, &is_private) == USERS_OK &&
             graph_can_view(ar->db, ar->viewer, tp.head.owner, is_private, &ok) == GRAPH_OK && ok;
    }
    buf_free(&t);
    buf_free(&probe);
    return ok;
}

/* The activity list as a page source; entries by users blocked either way
 * are hidden. */
typedef struct activity_src {
    page_src_t super;
    activity_t *items;
} activity_src_t;

static int activity_fetch(api_req_t *ar, page_src_t *src, int64_t before, int limit, int *n)
{
    activity_src_t *as = (activity_src_t *)src;
    if (social_activity(ar->db, ar->viewer, before, limit, as->items, n) != SOCIAL_OK)
        return -1;
    for (int i = 0; i < *n; i++)
        src->keys[i] = as->items[i].id;
    return 0;
}

static bool activity_emit(api_req_t *ar, page_src_t *src, int i, buf_t *b)
{
    activity_src_t *as = (activity_src_t *)src;
    graph_rel_t r;
    int64_t actor_id = as->items[i].actor_id;
    if (graph_get(ar->db, ar->viewer, actor_id, &r) != GRAPH_OK || r.a_blocks_b || r.b_blocks_a)
        return false; /* blocked users' actions never appear */
    activity_t *a = &as->items[i];
    if (a->media_id && !media_visible(ar, a->media_id)) {
        /* a photo you may not see (a private account you don't follow, a
         * block) or that is gone: the news stays, its photo and text don't */
        a->media_id = 0;
        a->text[0] = '\0';
    }
    buf_t actor;
    buf_init(&actor, 4096);
    bool ok = api_user_fragment(ar, actor_id, &actor, NULL) == USERS_OK;
    if (ok)
        render_activity(ar, b, &as->items[i], &actor);
    buf_free(&actor);
    return ok;
}

void users_activity(api_req_t *ar)
{
    int count;
    int64_t before = INT64_MAX;
    if (!api_count(ar, 20, ACTIVITY_MAX, &count) || !api_id_param(ar, "max_id", &before))
        return;
    activity_src_t src = {.super = {.fetch = activity_fetch, .emit = activity_emit}};
    src.items = xcalloc((size_t)count + 1, sizeof(activity_t));
    api_page_reply(ar, &src.super, count, before, "max_id", "next_max_id");
    free(src.items);
}
