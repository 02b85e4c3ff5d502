#include "http/api.h"
#include "model/tokens.h"
#include "model/users.h"
#include "obs/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- responses ---- */

/* The path without its query string: logs never carry access tokens. */
static size_t path_len(const h2o_req_t *req)
{
    return req->query_at != SIZE_MAX ? req->query_at : req->path.len;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

static void add_header(api_req_t *ar, const char *name, const char *value, size_t vlen)
{
    h2o_add_header_by_str(&ar->req->pool, &ar->req->res.headers, name, strlen(name), 0, NULL,
                          h2o_strdup(&ar->req->pool, value, vlen).base, vlen);
}

void api_send(api_req_t *ar, int status, const char *body, size_t len)
{
    if (ar->replied)
        return;
    ar->replied = true;
    h2o_req_t *req = ar->req;
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    char num[24];
    int n = snprintf(num, sizeof(num), "%u", ar->rl.limit);
    add_header(ar, "x-ratelimit-limit", num, (size_t)n);
    n = snprintf(num, sizeof(num), "%u", ar->rl.remaining);
    add_header(ar, "x-ratelimit-remaining", num, (size_t)n);
    if (status == 405)
        add_header(ar, "allow", ar->match.allow, strlen(ar->match.allow));
    if (status == 429 || status == 503) {
        int64_t wait_s = ar->retry_after ? ar->retry_after
                         : status == 503 ? 1
                                         : (ar->rl.reset_at_ms - ids_now_ms() + 999) / 1000;
        n = snprintf(num, sizeof(num), "%lld", (long long)(wait_s > 0 ? wait_s : 1));
        add_header(ar, "retry-after", num, (size_t)n);
    }
    h2o_send_inline(req, body, len);
}

static void send_buf(api_req_t *ar, int status, buf_t *b)
{
    if (b->overflow) {
        log_error("response for %.*s too large", (int)path_len(ar->req), ar->req->path.base);
        static const char body[] =
            "{\"meta\":{\"code\":500,\"error_type\":\"APIError\",\"error_message\":\"response too large\"}}";
        api_send(ar, 500, body, sizeof(body) - 1);
    } else {
        api_send(ar, status, b->data, b->len);
    }
    buf_free(b);
}

#define RESPONSE_MAX (64u << 20)

void api_ok(api_req_t *ar, const buf_t *data, const buf_t *pagination)
{
    buf_t b;
    buf_init(&b, RESPONSE_MAX);
    buf_puts(&b, "{\"meta\":{\"code\":200},\"data\":");
    buf_append(&b, data->data, data->len);
    if (data->overflow)
        b.overflow = true;
    if (pagination && pagination->len) {
        buf_puts(&b, ",\"pagination\":");
        buf_append(&b, pagination->data, pagination->len);
    }
    buf_putc(&b, '}');
    send_buf(ar, 200, &b);
}

void api_ok_page(api_req_t *ar, const buf_t *data, const char *param, const char *key, const char *next)
{
    buf_t pg;
    buf_init(&pg, 8192);
    if (next && *next) {
        buf_puts(&pg, "{\"next_url\":");
        api_next_url(ar, &pg, param, next);
        buf_puts(&pg, ",\"");
        buf_puts(&pg, key);
        buf_puts(&pg, "\":");
        buf_json_cstr(&pg, next);
        buf_putc(&pg, '}');
    }
    api_ok(ar, data, &pg);
    buf_free(&pg);
}

void api_ok_null(api_req_t *ar)
{
    static const char body[] = "{\"meta\":{\"code\":200},\"data\":null}";
    api_send(ar, 200, body, sizeof(body) - 1);
}

void api_error(api_req_t *ar, int status, const char *type, const char *msg)
{
    if (ar->flags & R_OAUTH) {
        api_oauth_error(ar, status, msg);
        return;
    }
    buf_t b;
    buf_init(&b, 8192);
    buf_printf(&b, "{\"meta\":{\"code\":%d,\"error_type\":", status);
    buf_json_cstr(&b, type);
    buf_puts(&b, ",\"error_message\":");
    buf_json_cstr(&b, msg);
    buf_puts(&b, "}}");
    send_buf(ar, status, &b);
}

void api_oauth_error(api_req_t *ar, int status, const char *msg)
{
    buf_t b;
    buf_init(&b, 8192);
    buf_printf(&b, "{\"code\":%d,\"error_type\":\"OAuthException\",\"error_message\":", status);
    buf_json_cstr(&b, msg);
    buf_putc(&b, '}');
    send_buf(ar, status, &b);
}

void api_internal_error(api_req_t *ar, const char *what)
{
    log_error("%.*s %.*s: %s", (int)ar->req->method.len, ar->req->method.base, (int)path_len(ar->req),
              ar->req->path.base, what);
    api_error(ar, 500, E_SERVER, "internal error; please retry");
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
    aw->run(aw, wc);
    db_ctx_release(wc->db);
}

static void unlink_hash_waiting(api_req_t *ar)
{
    if (h2o_linklist_is_linked(&ar->hash_link))
        h2o_linklist_unlink(&ar->hash_link);
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
        db_ctx_read_begin(ar->db);
        if (aw->skipped)
            api_error(ar, 503, E_SERVER, "request abandoned");
        else
            aw->done(aw, ar);
        db_ctx_read_end(ar->db);
    }
    if (aw->cleanup)
        aw->cleanup(aw);
    free(aw);
}

static void prepare(api_req_t *ar, api_work_t *w)
{
    w->super.run = work_run;
    w->super.done = work_done;
    w->super.reply_to = &ar->thr->work_done;
    w->ar = ar;
}

static void refuse(api_req_t *ar, api_work_t *w, int status, const char *msg)
{
    if (w->cleanup)
        w->cleanup(w);
    free(w);
    api_error(ar, status, E_SERVER, msg);
}

void api_defer(api_req_t *ar, api_work_t *w)
{
    prepare(ar, w);
    if (!nodes_ok(ar->srv->nodes)) { /* writes make IDs: not while the ID node's lease is in doubt */
        refuse(ar, w, 503, "server cannot make IDs right now; please retry");
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
        if (ar->pending && client_gone(ar)) {
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

void api_defer_hash(api_req_t *ar, api_work_t *w)
{
    server_t *srv = ar->srv;
    uint64_t client = api_client_key(ar->req);
    prepare(ar, w);
    if (!throttle_acquire(srv->throttle, client, (uint32_t)ar->cfg->hash_per_client, ids_now_ms())) {
        ar->retry_after = 1;
        refuse(ar, w, 429, "too many log-ins or sign-ups at once from your address; please retry");
        return;
    }
    w->client = client;
    w->throttle = srv->throttle;
    if (workpool_submit(srv->hash_pool, &w->super) != 0) {
        throttle_release(srv->throttle, client);
        refuse(ar, w, 503, "server busy; please retry");
        return;
    }
    ar->pending = w;
    ar->thr->in_flight++;
    h2o_linklist_insert(&ar->thr->hash_waiting, &ar->hash_link);
    if (!h2o_timeout_is_linked(&ar->thr->gone_entry))
        h2o_timeout_link(ar->thr->loop, &ar->thr->gone_timeout, &ar->thr->gone_entry);
}

/* Runs when the request's pool is cleared: the request is gone. Work still
 * on a worker must then not touch it. */
static void on_ar_dispose(void *p)
{
    api_req_t *ar = p;
    if (ar->pending) {
        atomic_store(&ar->pending->gone, true);
        ar->pending->ar = NULL;
        ar->thr->in_flight--;
    }
    unlink_hash_waiting(ar);
    params_free(&ar->params);
}

/* ---- arguments ---- */

int64_t api_arg_user(const api_req_t *ar, size_t i)
{
    if (i >= ar->match.nargs)
        return 0;
    const route_arg_t *a = &ar->match.args[i];
    if (a->len == 4 && memcmp(a->base, "self", 4) == 0)
        return ar->viewer;
    return ids_parse(a->base, a->len);
}

bool api_count(api_req_t *ar, int def, int max, int *out)
{
    const char *s = api_param(ar, "count");
    long long v;
    if (s == NULL || *s == '\0') {
        *out = def;
        return true;
    }
    if (!params_int(s, 1, max, &v)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "count must be an integer from 1 to %d", max);
        api_error(ar, 400, E_INVALID, msg);
        return false;
    }
    *out = (int)v;
    return true;
}

/* next_url: this request's URL with max_key set to max_val. */
void api_next_url(api_req_t *ar, buf_t *b, const char *max_key, const char *max_val)
{
    h2o_req_t *req = ar->req;
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    buf_json_str_begin(b);
    buf_json_str_part(b, ar->cfg->public_url, strlen(ar->cfg->public_url));
    buf_json_str_part(b, req->path.base, plen);
    buf_json_str_part(b, "?", 1);
    if (req->query_at != SIZE_MAX) {
        const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
        size_t klen = strlen(max_key);
        while (q < end) {
            const char *amp = memchr(q, '&', (size_t)(end - q));
            const char *fend = amp ? amp : end;
            bool drop = (size_t)(fend - q) >= klen && memcmp(q, max_key, klen) == 0 &&
                        (q + klen == fend || q[klen] == '=');
            if (!drop && fend > q) {
                buf_json_str_part(b, q, (size_t)(fend - q));
                buf_json_str_part(b, "&", 1);
            }
            q = amp ? amp + 1 : end;
        }
    }
    buf_json_str_part(b, max_key, strlen(max_key));
    buf_json_str_part(b, "=", 1);
    buf_json_str_part(b, max_val, strlen(max_val));
    buf_json_str_end(b);
}

/* ---- dispatch ---- */

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
        } else if (!p->has_filename &&
                   params_add(&ar->params, p->name.base, p->name.len, p->data.base, p->data.len, err) != 0) {
            return -1;
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
    if (req->query_at != SIZE_MAX) {
        const char *q = req->path.base + req->query_at + 1;
        size_t ql = req->path.len - req->query_at - 1;
        if (params_parse_urlencoded(&ar->params, q, ql, err) != 0)
            return 400;
    }
    return 0;
}

static void find_token(api_req_t *ar)
{
    h2o_iovec_t auth = header(ar->req, H2O_TOKEN_AUTHORIZATION);
    if (auth.base && auth.len > 7 && strncasecmp(auth.base, "Bearer ", 7) == 0) {
        ar->token = auth.base + 7;
        ar->token_len = auth.len - 7;
        while (ar->token_len && ar->token[0] == ' ')
            ar->token++, ar->token_len--;
        return;
    }
    const param_t *p = params_get(&ar->params, "access_token");
    if (p) {
        ar->token = p->val;
        ar->token_len = p->vlen;
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
                ar->token = c + nl + 1;
                ar->token_len = (size_t)(e - c) - nl - 1;
                ar->via_cookie = true;
                return;
            }
            c = e;
        }
    }
}

void api_csrf_token(const char *token, size_t len, char *out)
{
    static const unsigned char key[crypto_generichash_KEYBYTES] = "picogram csrf token, version 1.";
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), (const unsigned char *)token, len, key, sizeof(key));
    sodium_bin2base64(out, CSRF_TOKEN_LEN + 1, h, sizeof(h), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void api_set_session_cookie(api_req_t *ar, const char *token)
{
    bool secure = strncmp(ar->cfg->public_url, "https:", 6) == 0;
    char v[256];
    int n = token ? snprintf(v, sizeof(v), SESSION_COOKIE "=%s; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict%s",
                             token, secure ? "; Secure" : "")
                  : snprintf(v, sizeof(v), SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
                             secure ? "; Secure" : "");
    if (n > 0 && (size_t)n < sizeof(v)) {
        char *copy = h2o_mem_alloc_pool(&ar->req->pool, (size_t)n);
        memcpy(copy, v, (size_t)n);
        h2o_add_header(&ar->req->pool, &ar->req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, copy, (size_t)n);
    }
}

/* A state-changing request on the browser session must prove it comes
 * from our pages: the session's CSRF token in X-CSRF-Token. */
static bool csrf_ok(api_req_t *ar, h2o_iovec_t method)
{
    if (!ar->via_cookie || (method.len == 3 && memcmp(method.base, "GET", 3) == 0) ||
        (method.len == 4 && memcmp(method.base, "HEAD", 4) == 0))
        return true;
    static h2o_iovec_t name = {H2O_STRLIT("x-csrf-token")};
    ssize_t i = h2o_find_header_by_str(&ar->req->headers, name.base, name.len, -1);
    if (i < 0 || ar->req->headers.entries[i].value.len != CSRF_TOKEN_LEN)
        return false;
    char want[CSRF_TOKEN_LEN + 1];
    api_csrf_token(ar->token, ar->token_len, want);
    return sodium_memcmp(want, ar->req->headers.entries[i].value.base, CSRF_TOKEN_LEN) == 0;
}

uint64_t api_client_key(h2o_req_t *req)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (len == 0)
        return 1;
    const void *addr = &ss;
    size_t alen = len;
    if (ss.ss_family == AF_INET)
        addr = &((struct sockaddr_in *)&ss)->sin_addr, alen = 4;
    else if (ss.ss_family == AF_INET6)
        addr = &((struct sockaddr_in6 *)&ss)->sin6_addr, alen = 16;
    return ratelimit_key(addr, alen) ^ 0x9e3779b97f4a7c15ULL;
}

ratelimit_result_t api_count_client(server_thread_t *thr, h2o_req_t *req)
{
    return ratelimit_hit(thr->srv->rl, api_client_key(req), ids_now_ms());
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

/* Everything a request reads on the loop, from its token check to its
 * rendering, happens in one read transaction. */
static int dispatch(server_thread_t *thr, h2o_req_t *req);

int api_dispatch(server_thread_t *thr, h2o_req_t *req)
{
    thr->cache_ticket = cache_ticket(thr->srv->cache);
    db_ctx_read_begin(thr->db);
    int rc = dispatch(thr, req);
    db_ctx_read_end(thr->db);
    return rc;
}

static int dispatch(server_thread_t *thr, h2o_req_t *req)
{
    api_req_t *ar = h2o_mem_alloc_shared(&req->pool, sizeof(*ar), on_ar_dispose);
    memset(ar, 0, sizeof(*ar));
    ar->req = req;
    ar->thr = thr;
    ar->srv = thr->srv;
    ar->cfg = thr->srv->cfg;
    ar->db = thr->db;
    ar->cache_ticket = thr->cache_ticket;
    ar->rl.limit = (uint32_t)ar->cfg->rate_limit;
    ar->rl.remaining = ar->rl.limit;
    params_init(&ar->params);

    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    int rc = router_match(thr->srv->router, req->method.base, req->method.len, req->path.base, plen, &ar->match);
    if (rc == ROUTER_FOUND)
        ar->flags = ar->match.route->flags;

    /* The body limit per route: h2o has already refused anything over
     * max_upload from its Content-Length, before reading it. */
    size_t limit = (ar->flags & R_UPLOAD) ? (size_t)ar->cfg->max_upload : (size_t)ar->cfg->max_body;
    const char *perr = NULL;
    int pstatus = 0;
    if (req->entity.base != NULL && req->entity.len > limit)
        pstatus = 413;
    else
        pstatus = parse_params(ar, &perr);

    /* Authenticate, then count the request against the token (or the client address). */
    find_token(ar);
    int64_t uid = 0;
    int trc = ar->token ? tokens_check(ar->db, ar->token, ar->token_len, &uid) : USERS_NOT_FOUND;
    if (trc == USERS_OK)
        ar->viewer = uid;
    uint64_t key = ar->viewer ? ratelimit_key(ar->token, ar->token_len) : api_client_key(req);
    ar->rl = ratelimit_hit(thr->srv->rl, key, ids_now_ms());

    if (pstatus == 413) {
        char msg[96];
        snprintf(msg, sizeof(msg), "request body is larger than %zu bytes", limit);
        api_error(ar, 413, E_INVALID, msg);
        return 0;
    }
    if (pstatus != 0) {
        api_error(ar, pstatus, E_INVALID, perr);
        return 0;
    }
    if (!ar->rl.allowed) {
        api_error(ar, 429, E_RATE, "The maximum number of requests per hour has been exceeded.");
        return 0;
    }
    if (trc == USERS_ERROR) {
        api_internal_error(ar, "token check failed");
        return 0;
    }
    h2o_iovec_t method = effective_method(ar);
    if (method.base != req->method.base) {
        rc = router_match(thr->srv->router, method.base, method.len, req->path.base, plen, &ar->match);
        ar->flags = rc == ROUTER_FOUND ? ar->match.route->flags : 0;
    }
    if (rc == ROUTER_NOT_FOUND) {
        api_error(ar, 404, E_NOT_FOUND, "this endpoint does not exist");
        return 0;
    }
    if (rc == ROUTER_METHOD_NOT_ALLOWED) {
        api_error(ar, 405, E_INVALID, "method not allowed on this endpoint");
        return 0;
    }
    if ((ar->flags & R_WEB) && h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-requested-with"), -1) < 0) {
        api_error(ar, 403, E_OAUTH_PERM, "browser session requests need an X-Requested-With header");
        return 0;
    }
    if (ar->viewer && !csrf_ok(ar, method)) {
        api_error(ar, 403, E_OAUTH_PERM, "missing or wrong X-CSRF-Token for this browser session");
        return 0;
    }
    if (ar->flags & R_AUTH) {
        if (ar->token == NULL) {
            api_error(ar, 400, E_OAUTH_PARAM, "Missing access_token");
            return 0;
        }
        if (ar->viewer == 0) {
            api_error(ar, 400, E_OAUTH_TOKEN, "The access_token provided is invalid.");
            return 0;
        }
    }
    ((api_handler_fn)ar->match.route->handler)(ar);
    return 0;
}
