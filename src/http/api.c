#include "http/api.h"
#include "model/tokens.h"
#include "model/users.h"
#include "obs/log.h"
#include "obs/sentry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- responses ----
 * An answer is kept in ar->out; on the loop it goes out at once, from a
 * worker when the worker's part is done (http/dispatch.c). */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

void api_add_header(api_req_t *ar, const char *name, const char *value, size_t vlen)
{
    if (ar->out.nheaders == API_OUT_HEADERS)
        return;
    char **h = ar->out.headers[ar->out.nheaders++];
    h[0] = xstrdup(name);
    h[1] = xstrndup(value, vlen);
}

/* api_send of a body the request takes (malloc'd; freed with the request). */
static void send_owned(api_req_t *ar, int status, char *body, size_t len)
{
    if (ar->replied) {
        free(body);
        return;
    }
    ar->replied = true;
    char num[24];
    int n = snprintf(num, sizeof(num), "%u", ar->rl.limit);
    api_add_header(ar, "x-ratelimit-limit", num, (size_t)n);
    n = snprintf(num, sizeof(num), "%u", ar->rl.remaining);
    api_add_header(ar, "x-ratelimit-remaining", num, (size_t)n);
    if (status == 405)
        api_add_header(ar, "allow", ar->match.allow, strlen(ar->match.allow));
    if (status == 429 || status == 503) {
        int64_t wait_s = ar->retry_after ? ar->retry_after
                         : status == 503 ? 1
                                         : (ar->rl.reset_at_ms - ids_now_ms() + 999) / 1000;
        n = snprintf(num, sizeof(num), "%lld", (long long)(wait_s > 0 ? wait_s : 1));
        api_add_header(ar, "retry-after", num, (size_t)n);
    }
    ar->out.status = status;
    ar->out.body = body;
    ar->out.len = len;
    if (!ar->on_worker)
        api_flush(ar);
}

void api_send_file(api_req_t *ar, char *path, const char *content_type, const char *filename)
{
    if (ar->replied) {
        unlink(path);
        free(path);
        return;
    }
    ar->out.file = path;
    ar->out.file_type = content_type;
    ar->out.file_name = xstrdup(filename);
    send_owned(ar, 200, NULL, 0);
}

void api_send_typed(api_req_t *ar, int status, const char *type, const char *body, size_t len)
{
    if (ar->replied)
        return;
    ar->out.type = type;
    api_send(ar, status, body, len);
}

void api_redirect(api_req_t *ar, const char *url)
{
    if (ar->replied)
        return;
    api_add_header(ar, "location", url, strlen(url));
    api_send_typed(ar, 302, "text/plain; charset=utf-8", "", 0);
}

void api_send(api_req_t *ar, int status, const char *body, size_t len)
{
    if (ar->replied)
        return;
    char *copy = xmalloc(len ? len : 1);
    memcpy(copy, body, len);
    send_owned(ar, status, copy, len);
}

/* The route's pattern as logs, metrics and error reports name it. */
static const char *route_name(const api_req_t *ar)
{
    return ar->route_rc == ROUTER_FOUND ? ar->match.route->pattern : "(unmatched)";
}

/* The body's parts, as they are: the request owns them until h2o disposes
 * of it, after the last byte went (h2o_send_inline would copy them into
 * the request's pool first, some 30 KB for a page of photos). */
static void send_parts(h2o_req_t *req, const api_req_t *ar)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t v[3];
    size_t n = 0;
    if (ar->out.pre_len)
        v[n++] = h2o_iovec_init(ar->out.pre, ar->out.pre_len);
    if (ar->out.len)
        v[n++] = h2o_iovec_init(ar->out.body, ar->out.len);
    if (ar->out.post_len)
        v[n++] = h2o_iovec_init(ar->out.post, ar->out.post_len);
    h2o_start_response(req, &generator);
    if (h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD")))
        n = 0;
    h2o_send(req, n ? v : NULL, n, H2O_SEND_STATE_FINAL);
}

void api_flush(api_req_t *ar)
{
    h2o_req_t *req = ar->req;
    if (req == NULL || ar->out.status == 0)
        return; /* the client has gone; or nothing to send yet */
    if (ar->out.file != NULL && access(ar->out.file, R_OK) != 0) { /* before its headers go on */
        log_error("cannot send %s: %s", ar->out.file, strerror(errno));
        unlink(ar->out.file);
        free(ar->out.file);
        ar->out.file = NULL;
        static const char body[] =
            "{\"meta\":{\"code\":500,\"error_type\":\"APIError\",\"error_message\":\"the file was lost\"}}";
        free(ar->out.body);
        ar->out.body = xmalloc(sizeof(body));
        memcpy(ar->out.body, body, sizeof(body) - 1);
        ar->out.len = sizeof(body) - 1;
        ar->out.status = 500;
    }
    req->res.status = ar->out.status;
    req->res.reason = reason_phrase(ar->out.status);
    if (ar->out.file == NULL) {
        req->res.content_length = ar->out.pre_len + ar->out.len + ar->out.post_len;
        if (ar->out.type != NULL)
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ar->out.type,
                           strlen(ar->out.type));
        else
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                           H2O_STRLIT("application/json; charset=utf-8"));
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    for (int i = 0; i < ar->out.nheaders; i++) {
        char **h = ar->out.headers[i];
        size_t vl = strlen(h[1]);
        h2o_add_header_by_str(&req->pool, &req->res.headers, h[0], strlen(h[0]), 0, NULL,
                              h2o_strdup(&req->pool, h[1], vl).base, vl);
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, ar->request_id,
                          strlen(ar->request_id));
    if (ar->out.file != NULL) {
        /* h2o opens it here and streams it as the client takes it (h2o_file_send
         * sends a body even to HEAD: such a request gets the headers alone) */
        h2o_iovec_t type = h2o_iovec_init(ar->out.file_type, strlen(ar->out.file_type));
        h2o_iovec_t disp =
            h2o_concat(&req->pool, h2o_iovec_init(H2O_STRLIT("attachment; filename=\"")),
                       h2o_iovec_init(ar->out.file_name, strlen(ar->out.file_name)), h2o_iovec_init(H2O_STRLIT("\"")));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-disposition"), 0, NULL, disp.base,
                              disp.len);
        if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type.base, type.len);
            h2o_send_inline(req, "", 0);
        } else if (h2o_file_send(req, ar->out.status, req->res.reason, ar->out.file, type, 0) != 0) {
            log_error("cannot send %s: %s", ar->out.file, strerror(errno)); /* opened a moment ago: not seen */
            h2o_send_inline(req, "", 0);
        }
        unlink(ar->out.file); /* the open file stays readable until it is sent */
        free(ar->out.file);
        ar->out.file = NULL;
    } else {
        send_parts(req, ar);
    }
    server_t *srv = ar->srv;
    if (srv->metrics != NULL || ar->cfg->slow_request_ms > 0) {
        uint64_t us = server_req_micros(req);
        bool found = ar->route_rc == ROUTER_FOUND;
        if (srv->metrics != NULL)
            metrics_request(srv->metrics, ar->thr->index,
                            found ? srv->route_metric[router_index(srv->router, ar->match.route)]
                                  : srv->metric_pseudo + SERVER_M_UNMATCHED,
                            ar->method, strlen(ar->method), ar->out.status, us);
        if (ar->cfg->slow_request_ms > 0 && us > (uint64_t)ar->cfg->slow_request_ms * 1000) {
            const char *prev = log_request_id;
            log_request_id = ar->request_id;
            log_warn("slow request: %s %s answered %d in %.1f ms", ar->method, route_name(ar), ar->out.status,
                     (double)us / 1000);
            log_request_id = prev;
        }
    }
    ar->out.status = 0; /* sent */
}

static void too_large(api_req_t *ar)
{
    log_error("response for %.*s too large", (int)api_path_len(ar), ar->path);
    sentry_report("error", "response too large", route_name(ar), ar->method, ar->request_id);
    static const char body[] =
        "{\"meta\":{\"code\":500,\"error_type\":\"APIError\",\"error_message\":\"response too large\"}}";
    api_send(ar, 500, body, sizeof(body) - 1);
}

static void send_buf(api_req_t *ar, int status, buf_t *b)
{
    if (b->overflow) {
        too_large(ar);
    } else {
        size_t len;
        char *body = buf_steal(b, &len);
        send_owned(ar, status, body, len);
    }
    buf_free(b);
}

#define RESPONSE_MAX (64u << 20)
/* data this large or larger goes out as it is, the envelope beside it */
#define API_OK_PIECES_MIN 8192

static const char pagination_key[] = ",\"pagination\":";

/* What follows the data in api_ok's answer: the pagination, if any, and
 * the closing brace. */
static void put_tail(buf_t *b, const buf_t *pagination)
{
    if (pagination && pagination->len) {
        buf_append(b, pagination_key, sizeof(pagination_key) - 1);
        buf_append(b, pagination->data, pagination->len);
    }
    buf_putc(b, '}');
}

void api_ok(api_req_t *ar, buf_t *data, const buf_t *pagination)
{
    static const char head[] = "{\"meta\":{\"code\":200},\"data\":";
    if (ar->replied)
        return;
    bool paged = pagination && pagination->len;
    size_t tail_len = paged ? sizeof(pagination_key) - 1 + pagination->len + 1 : 1;
    if (data->overflow || (pagination && pagination->overflow) ||
        data->len + tail_len > RESPONSE_MAX - sizeof(head) - 1) {
        too_large(ar);
        return;
    }
    if (data->len < API_OK_PIECES_MIN) { /* small: one piece, one copy (cheaper than three to write) */
        buf_t b;
        buf_init(&b, RESPONSE_MAX);
        buf_reserve(&b, sizeof(head) + data->len + tail_len);
        buf_append(&b, head, sizeof(head) - 1);
        buf_append(&b, data->data, data->len);
        put_tail(&b, pagination);
        send_buf(ar, 200, &b);
        return;
    }
    size_t len;
    char *body = buf_steal(data, &len);
    ar->out.pre = head, ar->out.pre_len = sizeof(head) - 1;
    if (paged) {
        buf_t tail;
        buf_init(&tail, RESPONSE_MAX);
        buf_reserve(&tail, tail_len);
        put_tail(&tail, pagination);
        ar->out.post_owned = buf_steal(&tail, &ar->out.post_len);
        ar->out.post = ar->out.post_owned;
        buf_free(&tail);
    } else {
        ar->out.post = "}", ar->out.post_len = 1; /* static: nothing to free */
    }
    send_owned(ar, 200, body, len);
}

void api_ok_page(api_req_t *ar, buf_t *data, const char *param, const char *key, const char *next)
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
    if (ar->speculative && db_ctx_would_block(ar->thr->db)) { /* it needs a database: a worker will try */
        api_error(ar, 503, E_UNAVAILABLE, "retry");
        return;
    }
    if (db_unavailable()) { /* a database could not be reached: the client may retry */
        log_warn("%s %.*s: %s (a database is unavailable)", ar->method, (int)api_path_len(ar), ar->path, what);
        api_error(ar, 503, E_UNAVAILABLE, "a database is unavailable; please retry");
        return;
    }
    log_error("%s %.*s: %s", ar->method, (int)api_path_len(ar), ar->path, what);
    sentry_report("error", what, route_name(ar), ar->method, ar->request_id);
    api_error(ar, 500, E_SERVER, "internal error; please retry");
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
    buf_json_str_begin(b);
    buf_json_str_part(b, ar->cfg->public_url, strlen(ar->cfg->public_url));
    buf_json_str_part(b, ar->path, api_path_len(ar));
    buf_json_str_part(b, "?", 1);
    if (ar->query_at != SIZE_MAX) {
        const char *q = ar->path + ar->query_at + 1, *end = ar->path + ar->path_len;
        size_t klen = strlen(max_key);
        while (q < end) {
            const char *amp = memchr(q, '&', (size_t)(end - q));
            const char *fend = amp ? amp : end;
            bool drop =
                (size_t)(fend - q) >= klen && memcmp(q, max_key, klen) == 0 && (q + klen == fend || q[klen] == '=');
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
    if (n > 0 && (size_t)n < sizeof(v))
        api_add_header(ar, "set-cookie", v, (size_t)n);
}

/* X-Forwarded-For, its headers joined by ','; at most the rightmost
 * XFF_MAX bytes (the end is what trusted proxies wrote). NULL if none. */
#define XFF_MAX 2048
static const char *forwarded_for(h2o_req_t *req, char *buf, size_t *len)
{
    size_t n = 0;
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, i)) != -1;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (v.len >= XFF_MAX) {
            memcpy(buf, v.base + v.len - (XFF_MAX - 1), XFF_MAX - 1), n = XFF_MAX - 1;
            continue;
        }
        if (n && n + 1 + v.len > XFF_MAX) /* keep the newest: drop what came before */
            n = 0;
        if (n)
            buf[n++] = ',';
        memcpy(buf + n, v.base, v.len), n += v.len;
    }
    *len = n;
    return n ? buf : NULL;
}

/* The peer's address into *peer: true if it is an IP address. */
static bool peer_addr(h2o_req_t *req, ip_addr_t *peer, struct sockaddr_storage *ss, socklen_t *len)
{
    *len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)ss);
    if (*len == 0)
        return false;
    if (ss->ss_family == AF_INET)
        ip_addr_set(peer, &((struct sockaddr_in *)ss)->sin_addr, 4);
    else if (ss->ss_family == AF_INET6)
        ip_addr_set(peer, &((struct sockaddr_in6 *)ss)->sin6_addr, 16);
    else
        return false;
    return true;
}

uint64_t api_client_key(const proxy_list_t *trusted, h2o_req_t *req)
{
    struct sockaddr_storage ss;
    socklen_t len;
    ip_addr_t peer;
    if (!peer_addr(req, &peer, &ss, &len))
        return len == 0 ? 1 : ratelimit_key(&ss, len) ^ 0x9e3779b97f4a7c15ULL;
    ip_addr_t client = peer;
    if (trusted->n && proxy_list_has(trusted, &peer)) {
        char buf[XFF_MAX];
        size_t n;
        const char *xff = forwarded_for(req, buf, &n);
        client = forwarded_client(trusted, &peer, xff, n);
    }
    return ratelimit_key(client.b, client.len) ^ 0x9e3779b97f4a7c15ULL;
}

void api_request_id(const proxy_list_t *trusted, h2o_req_t *req, char out[REQID_MAX + 1])
{
    static const h2o_iovec_t name = {H2O_STRLIT("x-request-id")};
    ssize_t i = trusted->n ? h2o_find_header_by_str(&req->headers, name.base, name.len, -1) : -1;
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        struct sockaddr_storage ss;
        socklen_t len;
        ip_addr_t peer;
        if (reqid_valid(v.base, v.len) && peer_addr(req, &peer, &ss, &len) && proxy_list_has(trusted, &peer)) {
            memcpy(out, v.base, v.len);
            out[v.len] = '\0';
            return;
        }
    }
    reqid_new(out);
}

ratelimit_result_t api_count_client(server_thread_t *thr, h2o_req_t *req)
{
    return ratelimit_hit(thr->srv->rl, api_client_key(&thr->srv->trusted, req), ids_now_ms());
}
