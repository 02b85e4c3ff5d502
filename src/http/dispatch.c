/*
 * dispatch: a request's life, from h2o's handler to its answer (the DESIGN
 * block of http/api.h says where each part runs).
 *
 * The api_req_t is the server's, not h2o's: it is allocated apart and
 * counted (ar->refs, on the loop thread only). The h2o request holds one
 * reference through a link in its pool, given back when h2o disposes of it
 * (the answer was sent, or the client went away); the worker part of a
 * request holds another. So a worker can finish a request whose client has
 * gone, and the loop drops the answer.
 *
 * With databases across a network, a request is first tried on its loop,
 * speculatively: its loop's database context opens no connection, so a
 * request that the object cache answers whole (a warm feed page, a user)
 * never leaves the loop, and one that needs a database notes it
 * (db_ctx_would_block), its kept answer is thrown away, and it runs again
 * on a worker. Nothing before a handler's first database call may have a
 * visible effect: writes (api_defer) and hashing always need the worker.
 * (Measured in BENCHMARKS.md: handing a request to a worker and back costs
 * about half the loop's throughput on a cached feed page.)
 */
#include "http/api.h"
#include "model/apps.h"
#include "model/tokens.h"
#include "model/users.h"
#include "obs/log.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* ---- the request ---- */

typedef struct ar_link {
    api_req_t *ar;
} ar_link_t;

/* A read request's memo of the object cache: a page names the same users
 * again and again (authors, commenters, likers). With a shared cache each
 * ask would be a round trip; with the local one, two misses of the CPU's
 * caches (its bucket and its entry, anywhere in memory). A list page fills
 * the memo in batches (api_cache_prefetch), and every later ask is found
 * here through a small hash index. Only reads (GET, HEAD) keep one: a
 * write may change an entry it has read. */
#define MEMO_MAX 512
#define MEMO_CHUNK (64u << 10) /* a page of twenty photos and their users, about 45 KB */
typedef struct memo_entry {
    int kind;
    int64_t id;
    const char *val; /* in a chunk: it stays where it is until the request ends */
    size_t len;
} memo_entry_t;
typedef struct memo_chunk {
    struct memo_chunk *prev;
    size_t used, cap;
    char data[];
} memo_chunk_t;
typedef struct cache_memo {
    int n, cap; /* entries, and room for them (grown to MEMO_MAX) */
    memo_entry_t *e;
    int16_t *index;      /* 2 * cap slots: an entry's number + 1, or 0 */
    memo_chunk_t *chunk; /* the values, never moved (api_cache_view) */
    int prefetch_kind;   /* api_cache_prefetch's, for its callback */
} cache_memo_t;

static void memo_free(cache_memo_t *m)
{
    if (m != NULL) {
        for (memo_chunk_t *c = m->chunk, *p; c; c = p) {
            p = c->prev;
            free(c);
        }
        free(m->e);
        free(m->index);
        free(m);
    }
}

/* Each thread keeps the memo of its last request for its next one (its
 * index, its entries' array and one chunk of values), so a page of photos
 * does not malloc and free them again, some 50 KB in five pieces; and an
 * event loop keeps its last request's api_req_t (4.7 KB). */
static pthread_key_t spare_key, spare_ar_key;
/* under ASan every request's memory is its own: a use after the end is caught */
#if defined(__SANITIZE_ADDRESS__)
#define SPARES 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPARES 0
#endif
#endif
#ifndef SPARES
#define SPARES 1
#endif
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_free(void *m)
{
    memo_free(m);
}

static void spare_init(void)
{
    if (pthread_key_create(&spare_key, spare_free) != 0 || pthread_key_create(&spare_ar_key, free) != 0)
        abort();
}

/* The request is done with m: kept as this thread's spare, emptied. */
static void memo_release(cache_memo_t *m)
{
    if (m == NULL)
        return;
    pthread_once(&spare_once, spare_init);
    if (!SPARES || pthread_getspecific(spare_key) != NULL) {
        memo_free(m);
        return;
    }
    memo_chunk_t *keep = m->chunk;
    for (memo_chunk_t *c = keep ? keep->prev : NULL, *p; c; c = p) {
        p = c->prev;
        free(c);
    }
    if (keep != NULL && keep->cap > MEMO_CHUNK) { /* one value larger than a chunk */
        free(keep);
        keep = NULL;
    }
    if (keep != NULL)
        keep->prev = NULL, keep->used = 0;
    m->chunk = keep;
    if (m->index != NULL)
        memset(m->index, 0, (size_t)(2 * m->cap) * sizeof(*m->index));
    m->n = 0;
    pthread_setspecific(spare_key, m);
}

static cache_memo_t *memo_of(api_req_t *ar)
{
    if (ar->memo != NULL)
        return ar->memo;
    if (strcmp(ar->method, "GET") != 0 && strcmp(ar->method, "HEAD") != 0)
        return NULL;
    pthread_once(&spare_once, spare_init);
    if ((ar->memo = pthread_getspecific(spare_key)) != NULL)
        pthread_setspecific(spare_key, NULL);
    else
        ar->memo = xcalloc(1, sizeof(*ar->memo));
    return ar->memo;
}

static size_t memo_slot(const cache_memo_t *m, int kind, int64_t id)
{
    uint64_t x = ((uint64_t)id ^ (uint64_t)kind << 56) * 0x9e3779b97f4a7c15ULL;
    return (size_t)(x >> 40) & (size_t)(2 * m->cap - 1);
}

/* The memo's entry for (kind, id), or -1. */
static int memo_find(const cache_memo_t *m, int kind, int64_t id)
{
    if (m == NULL || m->n == 0)
        return -1;
    for (size_t i = memo_slot(m, kind, id);; i = (i + 1) & (size_t)(2 * m->cap - 1)) {
        int k = m->index[i] - 1;
        if (k < 0)
            return -1;
        if (m->e[k].id == id && m->e[k].kind == kind)
            return k;
    }
}

static void memo_index(cache_memo_t *m, int k)
{
    size_t i = memo_slot(m, m->e[k].kind, m->e[k].id);
    while (m->index[i] != 0)
        i = (i + 1) & (size_t)(2 * m->cap - 1);
    m->index[i] = (int16_t)(k + 1);
}

static bool memo_get(cache_memo_t *m, int kind, int64_t id, buf_t *out)
{
    int i = memo_find(m, kind, id);
    if (i >= 0)
        buf_append(out, m->e[i].val, m->e[i].len);
    return i >= 0;
}

/* Room for `need` entries in all (at most MEMO_MAX): the capacity
 * doubled (16 at first) until it holds them, the index made again once. */
static void memo_reserve(cache_memo_t *m, int need)
{
    if (need <= m->cap)
        return;
    int cap = m->cap ? m->cap : 16;
    while (cap < need && cap < MEMO_MAX)
        cap *= 2;
    if (cap == m->cap)
        return;
    m->cap = cap;
    m->e = xrealloc(m->e, (size_t)m->cap * sizeof(*m->e));
    free(m->index);
    m->index = xcalloc((size_t)(2 * m->cap), sizeof(*m->index));
    for (int k = 0; k < m->n; k++)
        memo_index(m, k);
}

/* Adds an entry the memo does not hold: its number, or -1 (no memo, or a
 * full one). */
static int memo_add(cache_memo_t *m, int kind, int64_t id, const void *val, size_t len)
{
    if (m == NULL || m->n == MEMO_MAX)
        return -1;
    memo_reserve(m, m->n + 1);
    memo_chunk_t *c = m->chunk;
    if (c == NULL || c->cap - c->used < len) {
        size_t cap = len > MEMO_CHUNK ? len : MEMO_CHUNK;
        c = xmalloc(sizeof(*c) + cap);
        c->prev = m->chunk, c->used = 0, c->cap = cap;
        m->chunk = c;
    }
    memcpy(c->data + c->used, val, len);
    m->e[m->n] = (memo_entry_t){.kind = kind, .id = id, .val = c->data + c->used, .len = len};
    c->used += len;
    memo_index(m, m->n);
    return m->n++;
}

static void ar_unref(api_req_t *ar)
{
    if (--ar->refs > 0)
        return;
    if (ar->srv->metrics != NULL)
        metrics_end(ar->srv->metrics, ar->thr->index);
    params_free(&ar->params);
    free(ar->path);
    free((char *)ar->token);
    free(ar->photo_copy);
    memo_release(ar->memo);
    free(ar->blocks);
    free(ar->out.body);
    free(ar->out.post_owned);
    if (ar->out.file) /* never sent: the client went */
        unlink(ar->out.file);
    free(ar->out.file);
    free(ar->out.file_name);
    for (int i = 0; i < ar->out.nheaders; i++) {
        free(ar->out.headers[i][0]);
        free(ar->out.headers[i][1]);
    }
    pthread_once(&spare_once, spare_init);
    if (SPARES && pthread_getspecific(spare_ar_key) == NULL)
        pthread_setspecific(spare_ar_key, ar);
    else
        free(ar);
}

static void unlink_hash_waiting(api_req_t *ar)
{
    if (h2o_linklist_is_linked(&ar->hash_link))
        h2o_linklist_unlink(&ar->hash_link);
}

/* h2o is done with the request: its answer went, or its client did. Work
 * still on a worker must then not touch it (and password hashing not yet
 * begun is dropped). */
static void on_link_dispose(void *p)
{
    api_req_t *ar = ((ar_link_t *)p)->ar;
    ar->req = NULL;
    if (ar->pending) {
        atomic_store(&ar->pending->gone, true);
        ar->pending->ar = NULL;
        ar->pending = NULL;
        ar->thr->in_flight--;
    }
    unlink_hash_waiting(ar);
    ar_unref(ar);
}

static api_req_t *ar_new(server_thread_t *thr, h2o_req_t *req)
{
    pthread_once(&spare_once, spare_init);
    api_req_t *ar = pthread_getspecific(spare_ar_key);
    if (ar != NULL) {
        pthread_setspecific(spare_ar_key, NULL);
        memset(ar, 0, sizeof(*ar));
    } else {
        ar = xcalloc(1, sizeof(*ar));
    }
    ar->req = req;
    ar->thr = thr;
    ar->srv = thr->srv;
    ar->cfg = thr->srv->cfg;
    ar->refs = 1;
    ar_link_t *l = h2o_mem_alloc_shared(&req->pool, sizeof(*l), on_link_dispose);
    l->ar = ar;
    ar->rl.limit = (uint32_t)ar->cfg->rate_limit;
    ar->rl.remaining = ar->rl.limit;
    params_init(&ar->params);
    ar->path = xstrndup(req->path.base, req->path.len);
    ar->path_len = req->path.len;
    ar->query_at = req->query_at;
    ar->client = api_client_key(&ar->srv->trusted, req);
    api_request_id(&ar->srv->trusted, req, ar->request_id);
    if (ar->srv->metrics != NULL)
        metrics_begin(ar->srv->metrics, thr->index);
    return ar;
}

/* ---- the loop's part: what the h2o request says ---- */

static bool ct_is(h2o_iovec_t ct, const char *want)
{
    size_t wl = strlen(want);
    if (ct.len < wl || strncasecmp(ct.base, want, wl) != 0)
        return false;
    return ct.len == wl || ct.base[wl] == ';' || ct.base[wl] == ' ';
}

static h2o_iovec_t header(h2o_req_t *req, const h2o_token_t *tok)
{
    ssize_t i = h2o_find_header(&req->headers, tok, -1);
    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

/* An upload form: text fields become parameters; the one file field (named
 * "photo") stays where it is in the body, as ar->photo. */
static int parse_multipart(api_req_t *ar, h2o_iovec_t ct, const char **err)
{
    mp_span_t boundary;
    mp_part_t parts[MULTIPART_MAX_PARTS];
    if (multipart_boundary(ct.base, ct.len, &boundary) != 0) {
        *err = "multipart/form-data needs a boundary";
        return -1;
    }
    int n = multipart_parse(ar->req->entity.base, ar->req->entity.len, boundary, parts, MULTIPART_MAX_PARTS, err);
    for (int i = 0; i < n; i++) {
        mp_part_t *p = &parts[i];
        bool is_photo = p->name.len == 5 && memcmp(p->name.base, "photo", 5) == 0;
        if (is_photo) {
            if (ar->photo.base != NULL) {
                *err = "only one photo per upload";
                return -1;
            }
            ar->photo = p->data;
            if (ar->photo.base == NULL || ar->photo.len == 0)
                ar->photo.base = "", ar->photo.len = 0;
        } else if (params_add(&ar->params, p->name.base, p->name.len, p->data.base, p->data.len, err) != 0) {
            return -1; /* (a field sent as a file, a caption from a .txt say, is a field as well) */
        }
    }
    return n < 0 ? -1 : 0;
}

/* Parses the query string and the body into ar->params (body first, so a
 * form field wins over the query). Returns 0, or an HTTP status with *err. */
static int parse_params(api_req_t *ar, const char **err)
{
    h2o_req_t *req = ar->req;
    if (req->entity.base != NULL && req->entity.len > 0) {
        h2o_iovec_t ct = header(req, H2O_TOKEN_CONTENT_TYPE);
        int rc = 0;
        if (ct.base == NULL || ct_is(ct, "application/x-www-form-urlencoded"))
            rc = params_parse_urlencoded(&ar->params, req->entity.base, req->entity.len, err);
        else if (ct_is(ct, "application/json"))
            rc = params_parse_json(&ar->params, req->entity.base, req->entity.len, err);
        else if (ct_is(ct, "multipart/form-data") && (ar->flags & R_UPLOAD))
            rc = parse_multipart(ar, ct, err);
        else {
            *err = "unsupported Content-Type; send application/x-www-form-urlencoded or application/json";
            return 415;
        }
        if (rc != 0)
            return 400;
    }
    if (ar->query_at != SIZE_MAX) {
        const char *q = ar->path + ar->query_at + 1;
        size_t ql = ar->path_len - ar->query_at - 1;
        if (params_parse_urlencoded(&ar->params, q, ql, err) != 0)
            return 400;
    }
    return 0;
}

static void set_token(api_req_t *ar, const char *p, size_t n, bool cookie)
{
    ar->token = xstrndup(p, n);
    ar->token_len = n;
    ar->via_cookie = cookie;
}

static void find_token(api_req_t *ar)
{
    h2o_iovec_t auth = header(ar->req, H2O_TOKEN_AUTHORIZATION);
    if (auth.base && auth.len > 7 && strncasecmp(auth.base, "Bearer ", 7) == 0) {
        const char *t = auth.base + 7;
        size_t n = auth.len - 7;
        while (n && t[0] == ' ')
            t++, n--;
        set_token(ar, t, n, false);
        return;
    }
    const param_t *p = params_get(&ar->params, "access_token");
    if (p) {
        set_token(ar, p->val, p->vlen, false);
        return;
    }
    /* the browser session: Cookie: ...; pg_session=TOKEN; ... */
    for (ssize_t i = -1; (i = h2o_find_header(&ar->req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
        h2o_iovec_t v = ar->req->headers.entries[i].value;
        const char *end = v.base + v.len;
        for (const char *c = v.base; c < end;) {
            while (c < end && (*c == ' ' || *c == ';'))
                c++;
            const char *e = memchr(c, ';', (size_t)(end - c));
            if (e == NULL)
                e = end;
            size_t nl = sizeof(SESSION_COOKIE) - 1;
            if ((size_t)(e - c) > nl + 1 && memcmp(c, SESSION_COOKIE "=", nl + 1) == 0) {
                set_token(ar, c + nl + 1, (size_t)(e - c) - nl - 1, true);
                return;
            }
            c = e;
        }
    }
}

/* Effective method: GET/HEAD/POST/DELETE, with POST + _method=DELETE as DELETE. */
static h2o_iovec_t effective_method(api_req_t *ar)
{
    h2o_iovec_t m = ar->req->method;
    if (m.len == 4 && memcmp(m.base, "POST", 4) == 0) {
        const char *o = api_param(ar, "_method");
        if (o && strcasecmp(o, "DELETE") == 0)
            return h2o_iovec_init(H2O_STRLIT("DELETE"));
    }
    return m;
}

/* Everything the rest needs from the h2o request, into ar. */
static void front(api_req_t *ar)
{
    h2o_req_t *req = ar->req;
    size_t plen = api_path_len(ar);
    ar->route_rc = router_match(ar->srv->router, req->method.base, req->method.len, ar->path, plen, &ar->match);
    if (ar->route_rc == ROUTER_FOUND)
        ar->flags = ar->match.route->flags;
    /* The body limit per route: h2o has already refused anything over
     * max_upload from its Content-Length, before reading it. */
    size_t limit = (ar->flags & R_UPLOAD) ? (size_t)ar->cfg->max_upload : (size_t)ar->cfg->max_body;
    if (req->entity.base != NULL && req->entity.len > limit)
        ar->parse_status = 413;
    else
        ar->parse_status = parse_params(ar, &ar->parse_err);
    find_token(ar);
    h2o_iovec_t method = effective_method(ar);
    snprintf(ar->method, sizeof(ar->method), "%.*s", (int)method.len, method.base);
    if (method.base != req->method.base) {
        ar->route_rc = router_match(ar->srv->router, method.base, method.len, ar->path, plen, &ar->match);
        ar->flags = ar->route_rc == ROUTER_FOUND ? ar->match.route->flags : 0;
    }
    static h2o_iovec_t csrf = {H2O_STRLIT("x-csrf-token")};
    ssize_t i = h2o_find_header_by_str(&req->headers, csrf.base, csrf.len, -1);
    if (i >= 0 && req->headers.entries[i].value.len == CSRF_TOKEN_LEN)
        memcpy(ar->csrf_header, req->headers.entries[i].value.base, CSRF_TOKEN_LEN);
    ar->has_xrw = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-requested-with"), -1) >= 0;
}

/* ---- the rest: token, checks, the handler ---- */

/* A state-changing request on the browser session must prove it comes
 * from our pages: the session's CSRF token in X-CSRF-Token. */
static bool csrf_ok(api_req_t *ar)
{
    if (!ar->via_cookie || strcmp(ar->method, "GET") == 0 || strcmp(ar->method, "HEAD") == 0)
        return true;
    const char *given = ar->csrf_header;
    if (given[0] == '\0' && (ar->flags & R_FORM_CSRF)) { /* a form cannot send a header */
        const char *f = api_param(ar, "csrf_token");
        given = f && strlen(f) == CSRF_TOKEN_LEN ? f : "";
    }
    if (given[0] == '\0')
        return false;
    char want[CSRF_TOKEN_LEN + 1];
    api_csrf_token(ar->token, ar->token_len, want);
    return sodium_memcmp(want, given, CSRF_TOKEN_LEN) == 0;
}

/* A token's grant as the object cache keeps it (the user, the app, the
 * scopes); an entry of another length (another build's) is a miss. */
#define GRANT_BYTES 20
#define GRANT_SIGNED 0x80000000u /* in the scopes' word: the app enforces signed requests */

/* The token's grant, from the object cache (a hash of the token as the
 * key, for CACHE_SHORT_TTL_MS: a token revoked by another process, or an
 * app deleted, stops working within that) or the database. */
static int check_token(api_req_t *ar, token_grant_t *g)
{
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(ar->token, ar->token_len, h);
    int64_t key = tokens_cache_key(h); /* from the stored hash: a revocation by hash reaches it */
    unsigned char e[GRANT_BYTES];
    buf_t v;
    buf_init(&v, 64);
    bool hit = api_cache_get(ar, CACHE_TOKEN, key, &v) && v.len == GRANT_BYTES;
    if (hit)
        memcpy(e, v.data, GRANT_BYTES);
    buf_free(&v);
    if (hit) {
        uint32_t sc;
        memcpy(&g->user, e, 8);
        memcpy(&g->app, e + 8, 8);
        memcpy(&sc, e + 16, 4);
        g->scopes = sc & SCOPE_ALL;
        g->signed_only = (sc & GRANT_SIGNED) != 0;
        return USERS_OK;
    }
    int rc = tokens_check(ar->db, ar->token, ar->token_len, g);
    if (rc == USERS_OK) {
        uint32_t sc = g->scopes | (g->signed_only ? GRANT_SIGNED : 0);
        memcpy(e, &g->user, 8);
        memcpy(e + 8, &g->app, 8);
        memcpy(e + 16, &sc, 4);
        api_cache_set(ar, CACHE_TOKEN, key, e, GRANT_BYTES, CACHE_SHORT_TTL_MS);
    }
    return rc;
}

/* Whether a request of an app that enforces signed requests carries the
 * right sig (apps_sign); answers 403 if not. */
static bool signature_ok(api_req_t *ar)
{
    const char *sig = api_param(ar, "sig");
    const char *why = NULL;
    app_t a;
    int rc = apps_get_id(ar->db, &ar->srv->apps_key, ar->app, &a);
    if (rc == USERS_ERROR) {
        api_internal_error(ar, "app lookup failed");
        return false;
    }
    if (sig == NULL || *sig == '\0') {
        why = "Invalid signed-request: Missing required parameter 'sig'";
    } else {
        size_t plen = api_path_len(ar);
        const char *ep = ar->path;
        if (plen >= 3 && memcmp(ep, "/v1", 3) == 0)
            ep += 3, plen -= 3;
        char want[65];
        apps_sign(a.secret, ep, plen, &ar->params, want);
        if (rc != USERS_OK || a.secret[0] == '\0' || strlen(sig) != 64 || sodium_memcmp(want, sig, 64) != 0)
            why = "Invalid signed-request: Signature does not match";
    }
    app_free(&a);
    if (why)
        api_error(ar, 403, E_OAUTH_FORBIDDEN, why);
    return why == NULL;
}

/* The scopes a route asks of a token, and the message when one lacks. */
static unsigned route_scopes(unsigned flags)
{
    return (flags & R_COMMENTS ? SCOPE_COMMENTS : 0) | (flags & R_RELATIONSHIPS ? SCOPE_RELATIONSHIPS : 0) |
           (flags & R_LIKES ? SCOPE_LIKES : 0) | (flags & R_FIRST_PARTY ? SCOPE_FIRST_PARTY : 0);
}

static void scope_error(api_req_t *ar, unsigned missing)
{
    if (missing & SCOPE_FIRST_PARTY) {
        api_error(ar, 400, E_OAUTH_PERM,
                  "This endpoint is open only to the account's own clients (a log-in or the web session), "
                  "not to an app's access_token.");
        return;
    }
    const char *name = scope_name(missing & (unsigned)-(int)missing); /* its lowest bit */
    char msg[320];
    snprintf(msg, sizeof(msg),
             "This request requires scope=%s, but this access token is not authorized with this scope. The user "
             "must re-authorize your application with scope=%s to be granted write permissions.",
             name, name);
    api_error(ar, 400, E_OAUTH_PERM, msg);
}

void api_forget_token(cache_t *cache, const char *token, size_t len)
{
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(token, len, h);
    cache_del(cache, CACHE_TOKEN, tokens_cache_key(h));
}

/* A shared cache is a network round trip: never on an event loop, where
 * the request is marked to go to a worker instead (as a database read). */
static bool cache_reachable(api_req_t *ar)
{
    return !cache_remote(ar->srv->cache) || db_ctx_may_block(ar->db);
}

bool api_cache_get(api_req_t *ar, int kind, int64_t id, buf_t *out)
{
    if (!cache_reachable(ar))
        return false;
    cache_memo_t *m = memo_of(ar);
    if (memo_get(m, kind, id, out))
        return true;
    size_t at = out->len;
    /* the request's address: the same on its loop try and its worker run */
    if (!cache_read(ar->srv->cache, &ar->cache_ticket, kind, id, out, (uint64_t)(uintptr_t)ar))
        return false;
    memo_add(m, kind, id, out->data + at, out->len - at); /* (memo_get found none) */
    return true;
}

bool api_cache_view(api_req_t *ar, int kind, int64_t id, buf_t *scratch, const char **val, size_t *len)
{
    if (!cache_reachable(ar))
        return false;
    cache_memo_t *m = memo_of(ar);
    int i = memo_find(m, kind, id);
    if (i < 0) {
        size_t at = scratch->len;
        if (!cache_read(ar->srv->cache, &ar->cache_ticket, kind, id, scratch, (uint64_t)(uintptr_t)ar))
            return false;
        if ((i = memo_add(m, kind, id, scratch->data + at, scratch->len - at)) < 0) { /* no memo, or a full one: the copy */
            *val = scratch->data + at, *len = scratch->len - at;
            return true;
        }
    }
    *val = m->e[i].val, *len = m->e[i].len;
    return true;
}

static void memo_found(void *arg, int64_t id, const void *val, size_t len)
{
    cache_memo_t *m = arg;
    memo_add(m, m->prefetch_kind, id, val, len); /* asked for once each, and not held */
}

bool api_cache_prefetch(api_req_t *ar, int kind, const int64_t *ids, int n)
{
    cache_memo_t *m = cache_reachable(ar) ? memo_of(ar) : NULL;
    if (m == NULL)
        return false;
    /* the IDs not in the memo yet, each once (a set of those taken:
     * open addressing over twice as many slots, a power of two) */
    size_t slots = 16;
    while (slots < 2 * (size_t)(n > 0 ? n : 1))
        slots *= 2;
    /* a page's asks on the stack (a hundred or so), more on the heap */
    int64_t want_s[256], taken_s[512];
    bool small = slots <= 512;
    int64_t *want = small ? want_s : xmalloc((size_t)n * sizeof(int64_t));
    int64_t *taken = small ? taken_s : xmalloc(slots * sizeof(int64_t));
    memset(taken, 0, slots * sizeof(int64_t)); /* 0: free (IDs are positive) */
    int k = 0;
    for (int i = 0; i < n && m->n + k < MEMO_MAX; i++) {
        if (ids[i] <= 0 || memo_find(m, kind, ids[i]) >= 0)
            continue;
        size_t j = (size_t)(((uint64_t)ids[i] * 0x9e3779b97f4a7c15ULL) >> 40) & (slots - 1);
        while (taken[j] != 0 && taken[j] != ids[i])
            j = (j + 1) & (slots - 1);
        if (taken[j] == 0) {
            taken[j] = ids[i];
            want[k++] = ids[i];
        }
    }
    if (!small)
        free(taken);
    memo_reserve(m, m->n + k); /* a page's hundred or so entries: one growth, not four */
    m->prefetch_kind = kind;
    cache_read_many(ar->srv->cache, &ar->cache_ticket, kind, want, (size_t)k, memo_found, m);
    if (!small)
        free(want);
    return true;
}

void api_cache_set(api_req_t *ar, int kind, int64_t id, const void *val, size_t len, int64_t ttl_ms)
{
    if (!cache_reachable(ar))
        return;
    cache_set_ttl(ar->srv->cache, kind, id, val, len, &ar->cache_ticket, ttl_ms);
    cache_memo_t *m = memo_of(ar);
    if (memo_find(m, kind, id) < 0) /* (one held stays: the request's reads agree) */
        memo_add(m, kind, id, val, len);
}

static void back_checked(api_req_t *ar);

/* The rest of the request, with its ID in every line it logs. */
static void back(api_req_t *ar)
{
    const char *prev = log_request_id;
    log_request_id = ar->request_id;
    back_checked(ar);
    log_request_id = prev;
}

static void back_checked(api_req_t *ar)
{
    /* Authenticate, then count the request against the token (or the client address). */
    token_grant_t grant = {0};
    if (ar->token && ar->token_key == 0) /* once: a speculative try and its worker run share it */
        ar->token_key = ratelimit_key(ar->token, ar->token_len);
    int trc = ar->token ? check_token(ar, &grant) : USERS_NOT_FOUND;
    if (ar->speculative && db_ctx_would_block(ar->thr->db))
        return; /* the token needs the database: all of it runs on a worker */
    /* A browser session is a person's own log-in. An app's token sent as
     * the session cookie is none: with it, the app would get the session's
     * CSRF token and answer the consent form itself, granting itself any
     * scope. */
    if (trc == USERS_OK && ar->via_cookie && grant.app != 0)
        trc = USERS_NOT_FOUND;
    if (trc == USERS_OK) {
        ar->viewer = grant.user;
        ar->app = grant.app;
        ar->scopes = grant.scopes;
        ar->signed_only = grant.signed_only;
    }
    if (!ar->rl_counted) { /* once, also when a speculative try gave up later */
        uint64_t key = ar->viewer ? ar->token_key : ar->client;
        ar->rl = ratelimit_hit(ar->srv->rl, key, ids_now_ms());
        ar->rl_counted = true;
    }

    if (ar->parse_status == 413) {
        char msg[96];
        size_t limit = (ar->flags & R_UPLOAD) ? (size_t)ar->cfg->max_upload : (size_t)ar->cfg->max_body;
        snprintf(msg, sizeof(msg), "request body is larger than %zu bytes", limit);
        api_error(ar, 413, E_INVALID, msg);
        return;
    }
    if (ar->parse_status != 0) {
        api_error(ar, ar->parse_status, E_INVALID, ar->parse_err);
        return;
    }
    if (!ar->rl.allowed) {
        if (ar->srv->metrics != NULL)
            metrics_refused(ar->srv->metrics);
        api_error(ar, 429, E_RATE, "The maximum number of requests per hour has been exceeded.");
        return;
    }
    if (trc == USERS_ERROR) {
        api_internal_error(ar, "token check failed");
        return;
    }
    if (ar->route_rc == ROUTER_NOT_FOUND) {
        api_error(ar, 404, E_NOT_FOUND, "this endpoint does not exist");
        return;
    }
    if (ar->route_rc == ROUTER_METHOD_NOT_ALLOWED) {
        api_error(ar, 405, E_INVALID, "method not allowed on this endpoint");
        return;
    }
    if ((ar->flags & R_WEB) && !ar->has_xrw) {
        api_error(ar, 403, E_OAUTH_PERM, "browser session requests need an X-Requested-With header");
        return;
    }
    if (ar->viewer && !csrf_ok(ar)) {
        api_error(ar, 403, E_OAUTH_PERM, "missing or wrong X-CSRF-Token for this browser session");
        return;
    }
    if (ar->flags & R_AUTH) {
        if (ar->token == NULL) {
            api_error(ar, 400, E_OAUTH_PARAM, "Missing access_token");
            return;
        }
        if (ar->viewer == 0) {
            api_error(ar, 400, E_OAUTH_TOKEN, "The access_token provided is invalid.");
            return;
        }
        unsigned missing = route_scopes(ar->flags) & ~ar->scopes;
        if (missing) {
            scope_error(ar, missing);
            return;
        }
        if (ar->signed_only && !signature_ok(ar))
            return;
    }
    ((api_handler_fn)ar->match.route->handler)(ar);
}

/* ---- on a worker (databases across a network) ---- */

typedef struct req_work {
    work_t super;
    api_req_t *ar;
} req_work_t;

static void submit_hash(api_req_t *ar, api_work_t *w);

static void req_run(work_t *w, worker_ctx_t *wc)
{
    api_req_t *ar = ((req_work_t *)w)->ar;
    ar->on_worker = true;
    ar->wc = wc;
    ar->db = wc->db;
    db_unavailable_clear();
    ar->cache_ticket = cache_ticket(ar->srv->cache);
    back(ar);
    if (!ar->replied && ar->handoff == NULL && !ar->pending)
        api_internal_error(ar, "no answer");
    if (strcmp(ar->method, "GET") != 0 && strcmp(ar->method, "HEAD") != 0)
        cache_flush(ar->srv->cache); /* its invalidations heard before its answer (cache.h) */
    db_ctx_release(wc->db);
    ar->wc = NULL;
}

static void req_done(work_t *w)
{
    api_req_t *ar = ((req_work_t *)w)->ar;
    free(w);
    ar->on_worker = false;
    ar->db = ar->thr->db;
    ar->thr->in_flight--;
    api_work_t *hash = ar->handoff;
    ar->handoff = NULL;
    if (hash && ar->req)
        submit_hash(ar, hash);
    else if (hash) { /* the client has gone: the hash is not worth making */
        throttle_release(hash->throttle, hash->client);
        if (hash->cleanup)
            hash->cleanup(hash);
        free(hash);
    }
    api_flush(ar);
    ar_unref(ar);
}

/* Forgets what a speculative try on the loop did, before the worker's run. */
static void unwind(api_req_t *ar)
{
    ar->replied = false;
    free(ar->out.body);
    free(ar->out.post_owned);
    if (ar->out.file)
        unlink(ar->out.file);
    free(ar->out.file);
    free(ar->out.file_name);
    for (int i = 0; i < ar->out.nheaders; i++) {
        free(ar->out.headers[i][0]);
        free(ar->out.headers[i][1]);
    }
    memset(&ar->out, 0, sizeof(ar->out));
    memset(&ar->vis, 0, sizeof(ar->vis));
    memset(&ar->liked, 0, sizeof(ar->liked));
    free(ar->blocks);
    ar->blocks = NULL;
    memo_release(ar->memo); /* the worker's run takes a new ticket: what the try read may be older */
    ar->memo = NULL;
    ar->viewer = 0;
    ar->app = 0;
    ar->scopes = 0;
    ar->signed_only = false;
    ar->retry_after = 0;
    ar->speculative = false;
    ar->on_worker = false; /* until a worker takes it: an answer now (a full pool) is sent */
}

/* Tries the request on the loop with no database. True if it was answered
 * (or handed to the hashing pool) without one. */
static bool try_on_loop(api_req_t *ar)
{
    server_thread_t *thr = ar->thr;
    ar->speculative = true;
    ar->on_worker = true; /* the answer is kept, not sent */
    ar->db = thr->db;
    ar->cache_ticket = cache_ticket(ar->srv->cache);
    db_ctx_clear_would_block(thr->db);
    back(ar);
    db_ctx_release(thr->db);
    if (db_ctx_would_block(thr->db) || (!ar->replied && ar->handoff == NULL)) {
        unwind(ar);
        return false;
    }
    ar->speculative = false;
    ar->on_worker = false;
    api_work_t *hash = ar->handoff;
    ar->handoff = NULL;
    if (hash)
        submit_hash(ar, hash);
    api_flush(ar);
    return true;
}

int api_dispatch(server_thread_t *thr, h2o_req_t *req)
{
    api_req_t *ar = ar_new(thr, req);
    front(ar);
    if (thr->closing) { /* the loop exits next: what this started would go unanswered */
        ar->db = thr->db;
        ar->retry_after = 1;
        api_error(ar, 503, E_UNAVAILABLE, "this server is stopping; please retry");
        return 0;
    }
    if (thr->srv->req_pool != NULL) {
        if (thr->srv->speculate && try_on_loop(ar))
            return 0;
        if (ar->photo.len > 0) { /* h2o frees the body if the client goes while a worker reads it */
            ar->photo_copy = xmalloc(ar->photo.len);
            memcpy(ar->photo_copy, ar->photo.base, ar->photo.len);
            ar->photo.base = ar->photo_copy;
        }
        req_work_t *w = xcalloc(1, sizeof(*w));
        w->super.run = req_run;
        w->super.done = req_done;
        w->super.reply_to = &thr->work_done;
        w->ar = ar;
        ar->refs++;
        thr->in_flight++;
        if (workpool_submit(thr->srv->req_pool, &w->super) != 0) {
            ar->refs--;
            thr->in_flight--;
            free(w);
            ar->db = thr->db;
            api_error(ar, 503, E_SERVER, "server busy; please retry");
        }
        return 0;
    }
    /* Everything a request reads on the loop, from its token check to its
     * rendering, happens in one read transaction. */
    ar->db = thr->db;
    ar->cache_ticket = cache_ticket(thr->srv->cache);
    db_ctx_read_begin(thr->db);
    back(ar);
    db_ctx_read_end(thr->db);
    return 0;
}

/* ---- deferred work ---- */

static void work_run(work_t *w, worker_ctx_t *wc)
{
    api_work_t *aw = (api_work_t *)w;
    if (aw->client && atomic_load(&aw->gone)) {
        aw->skipped = true; /* a password hash nobody waits for */
        log_debug("password hash dropped: its client has gone");
        return;
    }
    db_unavailable_clear();
    const char *prev = log_request_id;
    log_request_id = aw->request_id;
    aw->run(aw, wc);
    aw->unavailable = db_unavailable();
    if (aw->after == NULL)
        cache_flush(aw->cache); /* its invalidations heard before its answer (cache.h) */
    db_ctx_release(wc->db);
    log_request_id = prev;
}

/* What follows run's commit (in a write group, the group's: workpool.h). */
static void work_after(work_t *w, worker_ctx_t *wc)
{
    api_work_t *aw = (api_work_t *)w;
    db_unavailable_clear();
    const char *prev = log_request_id;
    log_request_id = aw->request_id;
    aw->after(aw, wc);
    cache_flush(aw->cache);
    aw->unavailable = aw->unavailable || db_unavailable();
    db_ctx_release(wc->db);
    log_request_id = prev;
}

static void work_done(work_t *w)
{
    api_work_t *aw = (api_work_t *)w;
    api_req_t *ar = aw->ar;
    if (aw->client)
        throttle_release(aw->throttle, aw->client);
    if (ar != NULL) {
        ar->pending = NULL;
        ar->thr->in_flight--;
        unlink_hash_waiting(ar);
        ar->cache_ticket = cache_ticket(ar->srv->cache);
        db_ctx_t *db = ar->db; /* (ar is not read once answered: the answer may be its end) */
        db_ctx_read_begin(db);
        db_unavailable_clear();
        if (aw->unavailable) /* done() answers as if on the worker's thread: 503, not 500 */
            db_unavailable_note();
        if (aw->skipped)
            api_error(ar, 503, E_SERVER, "request abandoned");
        else
            aw->done(aw, ar);
        db_unavailable_clear();
        db_ctx_read_end(db);
    }
    if (aw->cleanup)
        aw->cleanup(aw);
    free(aw);
}

static void prepare(api_req_t *ar, api_work_t *w)
{
    w->super.run = work_run;
    w->super.done = work_done;
    w->super.after = w->after ? work_after : NULL;
    w->super.group = w->group;
    w->super.reply_to = &ar->thr->work_done;
    w->ar = ar;
    w->cache = ar->srv->cache;
    memcpy(w->request_id, ar->request_id, sizeof(w->request_id));
}

static void refuse(api_req_t *ar, api_work_t *w, int status, const char *msg)
{
    if (w->cleanup)
        w->cleanup(w);
    free(w);
    api_error(ar, status, E_SERVER, msg);
}

/* Work a speculative try cannot do: the request goes to a worker. */
static bool speculative_stop(api_req_t *ar, api_work_t *w)
{
    if (!ar->speculative)
        return false;
    db_ctx_forbid(ar->thr->db);
    db_physical(ar->thr->db, 0); /* marks would_block */
    if (w->cleanup)
        w->cleanup(w);
    free(w);
    return true;
}

void api_defer(api_req_t *ar, api_work_t *w)
{
    if (speculative_stop(ar, w))
        return;
    prepare(ar, w);
    if (!nodes_ok(ar->srv->nodes)) { /* writes make IDs: not while the ID node's lease is in doubt */
        refuse(ar, w, 503, "server cannot make IDs right now; please retry");
        return;
    }
    if (ar->on_worker) { /* already off the loop: now, on this thread */
        w->run(w, ar->wc);
        if (w->after)
            w->after(w, ar->wc);
        w->done(w, ar);
        if (w->cleanup)
            w->cleanup(w);
        free(w);
        return;
    }
    if (workpool_submit(ar->srv->pool, &w->super) != 0) {
        refuse(ar, w, 503, "server busy; please retry");
        return;
    }
    ar->pending = w;
    ar->thr->in_flight++;
}

/* Whether the client of a request waiting for a hash has closed its end.
 * The request's socket is not read while it waits (HTTP/1), so look. */
static bool client_gone(api_req_t *ar)
{
    h2o_socket_t *sock = ar->req->conn->callbacks->get_socket(ar->req->conn);
    if (sock == NULL)
        return false;
    char c;
    ssize_t n = recv(h2o_socket_get_fd(sock), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void on_gone_check(h2o_timeout_entry_t *entry)
{
    server_thread_t *thr = H2O_STRUCT_FROM_MEMBER(server_thread_t, gone_entry, entry);
    for (h2o_linklist_t *l = thr->hash_waiting.next; l != &thr->hash_waiting;) {
        api_req_t *ar = H2O_STRUCT_FROM_MEMBER(api_req_t, hash_link, l);
        l = l->next;
        if (ar->pending && ar->req && client_gone(ar)) {
            atomic_store(&ar->pending->gone, true);
            h2o_linklist_unlink(&ar->hash_link);
        }
    }
    if (!h2o_linklist_is_empty(&thr->hash_waiting))
        h2o_timeout_link(thr->loop, &thr->gone_timeout, &thr->gone_entry);
}

void api_thread_init(server_thread_t *thr)
{
    h2o_linklist_init_anchor(&thr->hash_waiting);
    h2o_timeout_init(thr->loop, &thr->gone_timeout, 100);
    thr->gone_entry.cb = on_gone_check;
}

/* On the loop: hashing work into the hashing pool. */
static void submit_hash(api_req_t *ar, api_work_t *w)
{
    if (workpool_submit(ar->srv->hash_pool, &w->super) != 0) {
        throttle_release(w->throttle, w->client);
        refuse(ar, w, 503, "server busy; please retry");
        return;
    }
    ar->pending = w;
    ar->thr->in_flight++;
    h2o_linklist_insert(&ar->thr->hash_waiting, &ar->hash_link);
    if (!h2o_timeout_is_linked(&ar->thr->gone_entry))
        h2o_timeout_link(ar->thr->loop, &ar->thr->gone_timeout, &ar->thr->gone_entry);
}

void api_defer_hash(api_req_t *ar, api_work_t *w)
{
    server_t *srv = ar->srv;
    if (speculative_stop(ar, w))
        return;
    prepare(ar, w);
    if (!throttle_acquire(srv->throttle, ar->client, (uint32_t)ar->cfg->hash_per_client, ids_now_ms())) {
        ar->retry_after = 1;
        refuse(ar, w, 429, "too many log-ins or sign-ups at once from your address; please retry");
        return;
    }
    w->client = ar->client;
    w->throttle = srv->throttle;
    if (ar->on_worker)
        ar->handoff = w; /* the loop submits it when the worker's part is done */
    else
        submit_hash(ar, w);
}
