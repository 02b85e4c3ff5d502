/*
 * api: the request context every API handler gets, and the responses it
 * can send: the v1 envelope, v1 errors, and OAuth errors.
 *
 * A handler must answer exactly once, either directly or from the done()
 * of work it deferred with api_defer().
 *
 * DESIGN: where a handler runs (http/dispatch.c)
 * - With databases that answer in microseconds from this process (SQLite,
 *   embedded), a request is handled on its event loop, and its writes are
 *   deferred to the worker pool.
 * - With databases across a network (PostgreSQL), no round trip may block
 *   an event loop: the loop parses the request (route, parameters, token,
 *   headers) into the api_req_t, and the rest, from the token check to the
 *   rendering, runs on a thread of the request pool (`request_threads`),
 *   where api_defer runs its work at once. The answer is kept in ar->out
 *   and sent by the loop.
 * Either way a handler sees only ar: the path, token and headers it needs
 * are copies, never the h2o request (which the loop frees when the client
 * goes away, whatever a worker is doing).
 */
#ifndef PICOGRAM_API_H
#define PICOGRAM_API_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/params.h"
#include "http/multipart.h"
#include "http/ratelimit.h"
#include "http/router.h"
#include "http/server.h"
#include "obs/reqid.h"

/* Route flags */
enum {
    R_AUTH = 1,   /* needs a valid access token */
    R_OAUTH = 2,  /* OAuth endpoint: errors are not enveloped */
    R_UPLOAD = 4, /* body may be up to max_upload rather than max_body */
    R_WEB = 8,    /* a browser session endpoint: needs an X-Requested-With header (no cross-site forms) */
    /* the scopes a token needs here (model/apps.h; basic: every token has it) */
    R_COMMENTS = 16,
    R_RELATIONSHIPS = 32,
    R_LIKES = 64,
    R_FIRST_PARTY = 128, /* the account's own business: first-party tokens only, never an app's */
    R_FORM_CSRF = 256,   /* a browser form: the CSRF token may come as the csrf_token field */
};

/* v1 error types */
#define E_NOT_FOUND "APINotFoundError"
#define E_INVALID "APIInvalidParametersError"
#define E_NOT_ALLOWED "APINotAllowedError"
#define E_OAUTH_PARAM "OAuthParameterException"
#define E_OAUTH_TOKEN "OAuthAccessTokenException"
#define E_OAUTH_PERM "OAuthPermissionsException"
#define E_OAUTH_FORBIDDEN "OAuthForbiddenException"
#define E_RATE "OAuthRateLimitException"
#define E_SERVER "APIError"
#define E_UNAVAILABLE "ServiceUnavailable"

/* The browser session: the token in an HttpOnly, SameSite=Strict cookie;
 * a request authenticated by it that changes state (not GET or HEAD) must
 * carry the session's CSRF token in an X-CSRF-Token header. */
#define SESSION_COOKIE "pg_session"
#define CSRF_TOKEN_LEN 43

#define API_VIS_MEMO 32
#define API_LIKED_MEMO 128

/* The request's ID: a trusted proxy's X-Request-Id if well formed, else a
 * new one (obs/reqid.h). */
void api_request_id(const proxy_list_t *trusted, h2o_req_t *req, char out[REQID_MAX + 1]);

/* What uploads came to since the start: stored, refused (a bad photo or
 * field: 4xx), the photo store unavailable (503), failed (500); and the
 * time the image pipeline (decode, renditions, encode) took in all. */
enum { API_UPLOAD_STORED, API_UPLOAD_REJECTED, API_UPLOAD_UNAVAILABLE, API_UPLOAD_FAILED, API_UPLOAD_N };
typedef struct api_upload_stats {
    uint64_t outcomes[API_UPLOAD_N];
    uint64_t pipeline_us, pipeline_runs;
} api_upload_stats_t;
void api_upload_stats(api_upload_stats_t *out);

typedef struct api_req api_req_t;
typedef struct api_work api_work_t;
typedef void (*api_handler_fn)(api_req_t *ar);

#define API_OUT_HEADERS 8

struct api_req {
    h2o_req_t *req; /* the loop's; NULL once the client has gone. Never touched by handlers */
    server_thread_t *thr;
    server_t *srv;
    const config_t *cfg;
    db_ctx_t *db;
    params_t params;
    route_match_t match;
    unsigned flags;
    int64_t viewer;    /* the token's user, or 0 */
    const char *token; /* a copy of the token given, or NULL */
    size_t token_len;
    uint64_t token_key; /* ratelimit_key of the token (never 0), once computed: its rate-limit and cache key */
    bool via_cookie;    /* the token came from the browser session cookie */
    int64_t app;        /* the token's app (0: first party) */
    unsigned scopes;    /* the token's scopes (model/apps.h) */
    bool signed_only;   /* its app enforces signed requests */
    /* the request, as handlers see it (copies) */
    char method[8];                       /* the effective method (POST with _method=DELETE is DELETE) */
    char *path;                           /* the path and query */
    size_t path_len, query_at;            /* query_at: where '?' is, or SIZE_MAX */
    char csrf_header[CSRF_TOKEN_LEN + 1]; /* X-CSRF-Token, if it has that length */
    bool has_xrw;                         /* an X-Requested-With header */
    uint64_t client;                      /* the client address's key */
    int route_rc;                         /* the router's answer: ROUTER_* */
    int parse_status;                     /* 0, or the HTTP status of a body that could not be parsed */
    const char *parse_err;
    /* the answer, until the loop sends it */
    struct {
        int status;
        const char *pre; /* a static prefix of the body (api_ok's envelope), or NULL */
        size_t pre_len;
        char *body;
        size_t len;
        const char *post; /* what follows the body (api_ok's closing brace, after the pagination), or NULL */
        size_t post_len;
        char *post_owned; /* post, when it is not a static string (then freed with the request) */
        int nheaders;
        char *headers[API_OUT_HEADERS][2];
        char *file;            /* api_send_file's: sent from disk, then unlinked */
        const char *file_type; /* its Content-Type */
        char *file_name;       /* the name it is saved under (Content-Disposition), or NULL */
        const char *type;      /* the body's Content-Type, if not JSON (api_send_typed) */
    } out;
    bool on_worker;      /* running on a worker thread: the loop sends the answer */
    bool speculative;    /* tried on the loop first, with no database: thrown away if one was needed */
    bool rl_counted;     /* the request was counted against its rate limit */
    worker_ctx_t *wc;    /* the worker's, while on_worker */
    int refs;            /* on the loop thread only: the request's link, and work in flight */
    api_work_t *handoff; /* password-hashing work the loop submits after the worker's part */
    ratelimit_result_t rl;
    mp_span_t photo; /* the file part of an upload (in the request body, or a copy on a worker) */
    void *photo_copy;
    api_work_t *pending;
    h2o_linklist_t hash_link;    /* in thr->hash_waiting while a hash is pending */
    int retry_after;             /* seconds for Retry-After on a 429 or 503, if not 0 */
    cache_ticket_t cache_ticket; /* taken before this request's first database read */
    struct cache_memo *memo;     /* the cache entries a read request saw (api_cache_get, api_cache_prefetch) */
    /* Memos for list pages (api/social.c): whether the viewer may see an
     * owner's media, and the viewer's likes among a page's media. */
    struct {
        int64_t owner[API_VIS_MEMO];
        bool ok[API_VIS_MEMO];
        int n;
    } vis;
    struct api_blocks *blocks; /* the viewer's blocks, either way, once asked (api_block_dir) */
    struct {
        bool known; /* ids holds every liked media in [lo, hi] */
        int64_t lo, hi;
        int n;
        int64_t ids[API_LIKED_MEMO];
    } liked;
    bool replied;
    char request_id[REQID_MAX + 1]; /* X-Request-Id (obs/reqid.h) */
};

/* Work deferred to the worker pool on behalf of a request. Embed it first
 * in a struct of your own; it is freed (with free()) after done. */
struct api_work {
    work_t super;
    api_req_t *ar; /* NULL in done() if the client has gone */
    void (*run)(api_work_t *w, worker_ctx_t *wc);
    void (*done)(api_work_t *w, api_req_t *ar); /* called only if ar is still there */
    void (*cleanup)(api_work_t *w);             /* optional, always called */
    /* Optional: what must follow run's commit (cache drops, reads of what
     * it wrote), on the worker. With `group`, run is one write transaction
     * that may share a write group with others' (http/workpool.h): its
     * commit, and so after(), may come once the group's runs are all done;
     * run may be made again (alone) if the group's batch fails. */
    void (*after)(api_work_t *w, worker_ctx_t *wc);
    bool group;
    /* for api_defer_hash: */
    atomic_bool gone; /* the client went away (set on the loop, read by the worker) */
    bool skipped;     /* run() was never called: the client had gone */
    bool unavailable; /* run() found a database unavailable (db_unavailable, on its thread) */
    uint64_t client;  /* the client address key holding a hashing slot, or 0 */
    throttle_t *throttle;
    cache_t *cache; /* the server's: run()'s invalidations are flushed before done() answers */
    char request_id[REQID_MAX + 1]; /* the request's: run()'s log lines and jobs name it */
};

/* Submits w (malloc'd) to the worker pool; on a full queue answers 503. */
void api_defer(api_req_t *ar, api_work_t *w);
/* Submits password-hashing work to the hashing pool, taking one of the
 * client address's `hash_per_client` slots until it is done. Over the
 * client's slots answers 429, on a full queue 503 (both with Retry-After).
 * If the client goes away before run() starts, run() is skipped (and done()
 * answers 503 if the request is somehow still there). */
void api_defer_hash(api_req_t *ar, api_work_t *w);
/* Drops a revoked token from the object cache (after its revocation committed). */
void api_forget_token(cache_t *cache, const char *token, size_t len);
/* cache_get_by for this request: of the requests that find a short-TTL
 * entry stale, this one refills it if it is the first (cache.h). A shared
 * cache is not asked on an event loop: a miss, and the request is marked
 * to run on a worker. */
bool api_cache_get(api_req_t *ar, int kind, int64_t id, buf_t *out);
/* api_cache_get without a copy where it can: *val points into the
 * request's memo (a read request's; valid until the request ends), or
 * into scratch, where the entry was appended (valid until scratch
 * changes). False on a miss. */
bool api_cache_view(api_req_t *ar, int kind, int64_t id, buf_t *scratch, const char **val, size_t *len);
/* On a read request: the entries of kind for ids at once, into the
 * request's memo, where api_cache_get and api_cache_view find them (one
 * round trip to a shared cache; for the local one, the memory reads of a
 * page's entries overlapped instead of one after another). False (and
 * nothing done) otherwise: a write, or a shared cache on an event loop.
 * IDs are positive; others are not prefetched. */
bool api_cache_prefetch(api_req_t *ar, int kind, const int64_t *ids, int n);
/* cache_set_ttl with the request's ticket (ttl_ms 0: no TTL); nothing on
 * an event loop with a shared cache. */
void api_cache_set(api_req_t *ar, int kind, int64_t id, const void *val, size_t len, int64_t ttl_ms);
/* The client address's key (rate limits and throttles). */
uint64_t api_client_key(const proxy_list_t *trusted, h2o_req_t *req);
/* Sets up a loop thread's part of api_defer_hash (on that thread). */
void api_thread_init(server_thread_t *thr);
/* The request's path without its query. */
static inline size_t api_path_len(const api_req_t *ar)
{
    return ar->query_at != SIZE_MAX ? ar->query_at : ar->path_len;
}
/* Sends the kept answer of ar to its client (on ar's loop thread). */
void api_flush(api_req_t *ar);

/* The CSRF token of a session token (a keyed hash of it: unguessable
 * without the token, which JavaScript never sees). out: CSRF_TOKEN_LEN+1. */
void api_csrf_token(const char *token, size_t len, char *out);
/* Adds the Set-Cookie header that starts (token) or ends (NULL) a browser session. */
void api_set_session_cookie(api_req_t *ar, const char *token);

/* Responses. `data` is a rendered JSON value, whose bytes the answer may
 * take (8 KB or more: then data is left empty, and the envelope goes round
 * it on the wire, not by a copy); pagination may be NULL. */
void api_ok(api_req_t *ar, buf_t *data, const buf_t *pagination);
void api_ok_null(api_req_t *ar);
/* A list page: pagination {"next_url": this URL with param=next, key: "next"}
 * if next is not NULL or empty (a cursor: plain ID or sealed position). */
void api_ok_page(api_req_t *ar, buf_t *data, const char *param, const char *key, const char *next);
void api_error(api_req_t *ar, int status, const char *type, const char *msg);
/* OAuth style: {"code":N,"error_type":"OAuthException","error_message":...} */
void api_oauth_error(api_req_t *ar, int status, const char *msg);
/* Answers 200 with the file at path (malloc'd; the request takes it) as
 * its body, streamed from disk by the loop, as an attachment named
 * filename (a safe name: no quote, no control character); the file is
 * unlinked once it is open (or with the request, if it is never sent). */
void api_send_file(api_req_t *ar, char *path, const char *content_type, const char *filename);
/* Sends a finished JSON body as it is. */
void api_send(api_req_t *ar, int status, const char *body, size_t len);
/* The same with another Content-Type (a static string). */
void api_send_typed(api_req_t *ar, int status, const char *type, const char *body, size_t len);
/* Answers 302 to url (no body). */
void api_redirect(api_req_t *ar, const char *url);
/* A failure of ours: logs it and answers 500 with a JSON error. */
void api_internal_error(api_req_t *ar, const char *what);

/* Arguments and parameters */
static inline const char *api_param(const api_req_t *ar, const char *key)
{
    return params_str(&ar->params, key);
}
/* The user ID a path argument names: "self" is the viewer. 0 if malformed. */
int64_t api_arg_user(const api_req_t *ar, size_t i);
/* count=: default, 1..max; false after answering 400 on a bad value. */
bool api_count(api_req_t *ar, int def, int max, int *out);

/* Adds a response header (kept until the answer is sent). */
void api_add_header(api_req_t *ar, const char *name, const char *value, size_t vlen);
/* Counts a request h2o answered by itself against the client's address. */
ratelimit_result_t api_count_client(server_thread_t *thr, h2o_req_t *req);
/* Writes the JSON string of this request's URL (public_url + path + query)
 * with the query parameter `key` set to `val` (replacing it if present). */
void api_next_url(api_req_t *ar, buf_t *b, const char *key, const char *val);
/* Entry point from the h2o handler. */
int api_dispatch(server_thread_t *thr, h2o_req_t *req);
/* Builds the shared router from the route table (api/routes.c). */
router_t *api_router_new(void);

#endif
