#include "http/server.h"
#include "api/handlers.h"
#include "http/range.h"
#include "model/discovery.h"
#include "core/buf.h"
#include "http/api.h"
#include "images/images.h"
#include "model/far.h"
#include "model/media.h"
#include "model/timeline.h"
#include "model/users.h"
#include "model/erase.h"
#include "model/photo_keys.h"
#include "model/social.h"
#include "obs/log.h"
#include "obs/sentry.h"

#include <inttypes.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_int stopping;
static atomic_int draining; /* SIGTERM with drain_seconds: /readyz 503, the rest served as ever */

/* ---- the handler h2o calls ---- */

typedef struct api_handler {
    h2o_handler_t super;
} api_handler_t;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    server_thread_t *thr = H2O_STRUCT_FROM_MEMBER(server_thread_t, ctx, req->conn->ctx);
    return api_dispatch(thr, req);
}

/* ---- JSON bodies for the errors h2o answers by itself ----
 * h2o answers some requests before any handler runs: a body over
 * max_request_entity_size (413, judged from Content-Length before reading),
 * a malformed request line (400), and so on, as text/plain. This filter
 * turns those into v1 JSON errors, so that every response is JSON. */

typedef struct json_error_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
} json_error_ostream_t;

static void json_error_send(h2o_ostream_t *self_, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t st)
{
    json_error_ostream_t *self = (json_error_ostream_t *)self_;
    if (h2o_send_state_is_in_progress(st)) {
        h2o_ostream_send_next(&self->super, req, NULL, 0, st); /* swallow the text body */
        return;
    }
    h2o_ostream_send_next(&self->super, req, &self->body, 1, st);
}

static bool is_plain_text(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    return i >= 0 && req->res.headers.entries[i].value.len >= 10 &&
           memcmp(req->res.headers.entries[i].value.base, "text/plain", 10) == 0;
}

static void json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    if (req->res.status >= 400 && is_plain_text(req)) {
        int st = req->res.status;
        const char *type = st == 413 ? E_INVALID : st == 404 ? E_NOT_FOUND : E_INVALID;
        const char *msg = st == 413 ? "request body is too large" : req->res.reason;
        char tmp[512];
        int n = snprintf(tmp, sizeof(tmp), "{\"meta\":{\"code\":%d,\"error_type\":\"%s\",\"error_message\":\"%s\"}}",
                         st, type, msg ? msg : "bad request");
        if (n > 0 && (size_t)n < sizeof(tmp)) {
            h2o_iovec_t body = h2o_strdup(&req->pool, tmp, (size_t)n);
            memset(&req->res.headers, 0, sizeof(req->res.headers));
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                           H2O_STRLIT("application/json; charset=utf-8"));
            ratelimit_result_t rl = api_count_client((server_thread_t *)req->conn->ctx, req);
            char num[2][24];
            int n0 = snprintf(num[0], sizeof(num[0]), "%u", rl.limit);
            int n1 = snprintf(num[1], sizeof(num[1]), "%u", rl.remaining);
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-ratelimit-limit"), 0, NULL,
                                  h2o_strdup(&req->pool, num[0], (size_t)n0).base, (size_t)n0);
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-ratelimit-remaining"), 0, NULL,
                                  h2o_strdup(&req->pool, num[1], (size_t)n1).base, (size_t)n1);
            req->res.content_length = body.len;
            json_error_ostream_t *os = (json_error_ostream_t *)h2o_add_ostream(req, sizeof(*os), slot);
            os->super.do_send = json_error_send;
            os->body = body;
            slot = &os->super.next;
        }
    }
    h2o_setup_next_ostream(req, slot);
}

static void send_json(h2o_req_t *req, int status, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = status == 200 ? "OK" : "Service Unavailable";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

/* GET /healthz: whether this server takes requests, for a load balancer's
 * or an operator's monitor. No database, no rate limit: its ID node, its
 * object cache ("local", "shared": memcached, or "tiered": a local tier in
 * front of memcached), whether what it holds locally hears the other
 * servers' invalidations ("off" without redis, or with a shared cache
 * alone), its hit and miss counts (the local tier's hits apart), and what
 * this process holds (entries and bytes; 0 for a shared cache alone). 503
 * once it is stopping. */
static int on_healthz(h2o_handler_t *self, h2o_req_t *req)
{
    server_t *srv = ((server_thread_t *)req->conn->ctx)->srv;
    bool stop = atomic_load(&stopping) != 0;
    const char *bus = srv->bus == NULL ? "off" : cache_bus_live(srv->bus) ? "live" : "down";
    const char *kind = !cache_remote(srv->cache) ? "local" : cache_near(srv->cache) != NULL ? "tiered" : "shared";
    cache_stats_t st = cache_stats(srv->cache);
    char body[448];
    int n = snprintf(body, sizeof(body),
                     "{\"meta\":{\"code\":%d},\"data\":{\"status\":\"%s\",\"node\":%u,\"cache\":\"%s\","
                     "\"cache_bus\":\"%s\",\"cache_hits\":%" PRIu64 ",\"cache_near_hits\":%" PRIu64
                     ",\"cache_misses\":%" PRIu64 ",\"cache_entries\":%" PRIu64 ",\"cache_bytes\":%" PRIu64 "}}",
                     stop ? 503 : 200, stop ? "stopping" : "ok", nodes_node(srv->nodes), kind, bus, st.hits,
                     st.near_hits, st.misses, st.entries, st.bytes);
    send_json(req, stop ? 503 : 200, body, (size_t)n);
    return 0;
}

/* GET /readyz: whether every backend this server needs answers now
 * (http/ready.h), checked on the work pool; a 503 naming the ones down.
 * 503 at once while the server drains (drain_seconds) or stops, so that
 * a load balancer that polls it sends no more requests here. */
typedef struct ready_work {
    work_t super;
    server_thread_t *thr;
    h2o_req_t *req; /* NULL once h2o is done with it (its client went) */
    int refs;       /* the request's link, and the pool's round trip */
    int status;
    buf_t body;
} ready_work_t;

typedef struct ready_link {
    ready_work_t *w;
} ready_link_t;

static void ready_unref(ready_work_t *w)
{
    if (--w->refs > 0)
        return;
    buf_free(&w->body);
    free(w);
}

static void on_ready_dispose(void *p)
{
    ready_work_t *w = ((ready_link_t *)p)->w;
    w->req = NULL;
    ready_unref(w);
}

static void ready_run(work_t *wk, worker_ctx_t *wc)
{
    ready_work_t *w = (ready_work_t *)wk;
    w->status = ready_check(w->thr->srv->ready, wc->db, &w->body);
}

static void ready_done(work_t *wk)
{
    ready_work_t *w = (ready_work_t *)wk;
    w->thr->in_flight--;
    if (w->req != NULL)
        send_json(w->req, w->status, w->body.overflow ? "{}" : w->body.data, w->body.overflow ? 2 : w->body.len);
    ready_unref(w);
}

static int on_readyz(h2o_handler_t *self, h2o_req_t *req)
{
    server_thread_t *thr = (server_thread_t *)req->conn->ctx;
    if (atomic_load(&stopping) || atomic_load(&draining)) {
        static const char body[] =
            "{\"meta\":{\"code\":503,\"error_type\":\"" E_UNAVAILABLE
            "\",\"error_message\":\"this server is stopping\"},\"data\":{\"status\":\"draining\"}}";
        send_json(req, 503, body, sizeof(body) - 1);
        return 0;
    }
    ready_work_t *w = xcalloc(1, sizeof(*w));
    w->super.run = ready_run;
    w->super.done = ready_done;
    w->super.reply_to = &thr->work_done;
    w->thr = thr;
    w->req = req;
    w->refs = 2;
    buf_init(&w->body, 1 << 16);
    ready_link_t *l = h2o_mem_alloc_shared(&req->pool, sizeof(*l), on_ready_dispose);
    l->w = w;
    thr->in_flight++;
    if (workpool_submit(thr->srv->pool, &w->super) != 0) {
        thr->in_flight--;
        w->refs--;
        static const char body[] =
            "{\"meta\":{\"code\":503,\"error_type\":\"" E_SERVER
            "\",\"error_message\":\"server busy; please retry\"},\"data\":{\"status\":\"busy\"}}";
        send_json(req, 503, body, sizeof(body) - 1);
    }
    return 0;
}

/* Every answer (this filter is on every path) carries its request's ID
 * (X-Request-Id, obs/reqid.h): the API's set it themselves (api_flush);
 * the rest (photo files, the web client, health) get one here. */
static void request_id_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    /* while draining or stopping, each HTTP/1 connection closes after its
     * answer: a proxy's next request opens a new one, which goes to
     * another server once this one stops listening, and none is sent on a
     * connection this one is about to drop (a write sent on it as the loop
     * exits would be run and its answer lost: a retry would repeat it) */
    if (atomic_load(&draining) || atomic_load(&stopping))
        req->http1_is_persistent = 0;
    static const h2o_iovec_t name = {H2O_STRLIT("x-request-id")};
    if (h2o_find_header_by_str(&req->res.headers, name.base, name.len, -1) < 0) {
        char id[REQID_MAX + 1];
        api_request_id(&((server_thread_t *)req->conn->ctx)->srv->trusted, req, id);
        size_t n = strlen(id);
        h2o_add_header_by_str(&req->pool, &req->res.headers, name.base, name.len, 0, NULL,
                              h2o_strdup(&req->pool, id, n).base, n);
    }
    h2o_setup_next_ostream(req, slot);
}

static void add_json_errors(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *f = h2o_create_filter(pathconf, sizeof(*f));
    f->on_setup_ostream = json_error_setup;
}

/* ---- the access log ----
 * h2o's access-log handler opens its file by path, which fails when stderr
 * is a socket (systemd, a supervisor's pipe). This logger formats with h2o's
 * own log formatter (Apache combined) and writes each line to an open fd. */

typedef struct access_logger {
    h2o_logger_t super;
    h2o_logconf_t *conf;
    int fd;
} access_logger_t;

static void log_access(h2o_logger_t *self_, h2o_req_t *req)
{
    access_logger_t *self = (access_logger_t *)self_;
    char small[4096];
    size_t len = sizeof(small);
    char *line = h2o_log_request(self->conf, req, &len, small);
    ssize_t w = write(self->fd, line, len); /* one write: lines never interleave */
    (void)w;
    if (line != small)
        free(line);
}

static int add_access_log(h2o_pathconf_t *pathconf, h2o_logconf_t *conf, int fd)
{
    access_logger_t *l = (access_logger_t *)h2o_create_logger(pathconf, sizeof(*l));
    l->super.log_access = log_access;
    l->conf = conf;
    l->fd = fd;
    return 0;
}

/* ---- metrics (metrics_listen) ----
 * API requests are counted as they are answered (api_flush), under their
 * route's pattern; the rest (photo files, the web client, /healthz) by a
 * logger on their paths, under SERVER_M_* names. */

static const char *const pseudo_routes[SERVER_M_N] = {"(unmatched)", "/media/*", "/healthz", "/readyz", "/p/*", "/*"};

typedef struct count_logger {
    h2o_logger_t super;
    size_t route; /* SERVER_M_* */
} count_logger_t;

static void count_request(h2o_logger_t *self, h2o_req_t *req)
{
    server_thread_t *thr = (server_thread_t *)req->conn->ctx;
    server_t *srv = thr->srv;
    if (srv->metrics != NULL)
        metrics_request(srv->metrics, thr->index, srv->metric_pseudo + ((count_logger_t *)self)->route,
                        req->method.base, req->method.len, req->res.status, server_req_micros(req));
}

/* A counting logger on each path that is not the API's (after the last
 * registration: h2o's vector of paths moves as it grows). */
static void add_count_loggers(server_t *srv, bool web)
{
    static const struct {
        const char *path;
        size_t route;
    } paths[] = {{"/media", SERVER_M_MEDIA},
                 {"/healthz", SERVER_M_HEALTHZ},
                 {"/readyz", SERVER_M_READYZ},
                 {"/p", SERVER_M_LINKS},
                 {"/", SERVER_M_WEB}};
    for (size_t i = 0; i < srv->host->paths.size; i++) {
        h2o_pathconf_t *pc = srv->host->paths.entries + i;
        for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++)
            if (h2o_memis(pc->path.base, pc->path.len, paths[k].path, strlen(paths[k].path)) &&
                (paths[k].route != SERVER_M_WEB || web)) {
                count_logger_t *l = (count_logger_t *)h2o_create_logger(pc, sizeof(*l));
                l->super.log_access = count_request;
                l->route = paths[k].route;
            }
    }
}

/* The metrics routes: one per pattern of the router (a pattern's methods
 * share it: the method is a label of its own), then SERVER_M_*'s. */
static void setup_metrics(server_t *srv)
{
    size_t n = router_count(srv->router), k = 0;
    const char **labels = xcalloc(n + SERVER_M_N, sizeof(*labels));
    srv->route_metric = xcalloc(n ? n : 1, sizeof(*srv->route_metric));
    for (size_t i = 0; i < n; i++) {
        const char *pattern = router_route(srv->router, i)->pattern;
        size_t j = 0;
        while (j < k && strcmp(labels[j], pattern) != 0)
            j++;
        if (j == k)
            labels[k++] = pattern;
        srv->route_metric[i] = (uint32_t)j;
    }
    srv->metric_pseudo = k;
    for (size_t i = 0; i < SERVER_M_N; i++)
        labels[k + i] = pseudo_routes[i];
    srv->metrics = metrics_new(srv->nthreads, labels, k + SERVER_M_N);
    free(labels);
}

/* The outboxes' numbers, summed over the databases, by kind (the index of
 * the kind among srv->job_handlers). */
typedef struct job_totals {
    const server_t *srv;
    jobs_kind_stats_t by_kind[SERVER_MAX_JOB_KINDS];
} job_totals_t;

static void add_job_stats(const char *kind, const jobs_kind_stats_t *st, void *arg)
{
    job_totals_t *t = arg;
    for (size_t i = 0; i < t->srv->njob_handlers; i++)
        if (strcmp(t->srv->job_handlers[i].kind, kind) == 0) {
            jobs_kind_stats_t *a = &t->by_kind[i];
            a->live += st->live, a->due += st->due, a->running += st->running, a->dead += st->dead;
            if (st->oldest_due_ms != 0 && (a->oldest_due_ms == 0 || st->oldest_due_ms < a->oldest_due_ms))
                a->oldest_due_ms = st->oldest_due_ms;
        }
}

/* The databases (up or not) and their outboxes, and what this process's
 * runners made of the jobs they ran. */
static void render_jobs(server_t *srv, buf_t *out)
{
    if (srv->scrape_db == NULL)
        srv->scrape_db = db_ctx_new(srv->dbmap);
    job_totals_t t = {.srv = srv};
    int64_t now = ids_now_ms();
    char labels[96];
    metrics_family(out, "picogram_database_up", "gauge",
                   "Whether a physical database (by its index in `database`) answered this scrape's outbox query.");
    for (size_t i = 0; i < dbmap_count(srv->dbmap); i++) {
        db_conn_t *c = db_physical(srv->scrape_db, i);
        bool up = c != NULL && jobs_stats(c, now, add_job_stats, &t) == 0;
        snprintf(labels, sizeof(labels), "database=\"%zu\"", i);
        metrics_line_u64(out, "picogram_database_up", labels, up);
    }
    db_ctx_release(srv->scrape_db);
    metrics_family(out, "picogram_database_call_duration_seconds", "histogram",
                   "This process's database calls by physical database (its index in `database`): each statement to "
                   "its first row or its end (with PostgreSQL, the round trip), and each commit.");
    for (size_t i = 0; i < dbmap_count(srv->dbmap) && i < DB_TIMING_MAX_DBS; i++) {
        db_timing_t t;
        db_timing_read((uint32_t)i, &t);
        for (int b = 0; b <= DB_TIMING_BUCKETS; b++) {
            if (b < DB_TIMING_BUCKETS)
                snprintf(labels, sizeof(labels), "database=\"%zu\",le=\"%g\"", i, db_timing_bounds[b]);
            else
                snprintf(labels, sizeof(labels), "database=\"%zu\",le=\"+Inf\"", i);
            metrics_line_u64(out, "picogram_database_call_duration_seconds_bucket", labels, t.le[b]);
        }
        snprintf(labels, sizeof(labels), "database=\"%zu\"", i);
        metrics_line(out, "picogram_database_call_duration_seconds_sum", labels, t.sum_seconds);
        metrics_line_u64(out, "picogram_database_call_duration_seconds_count", labels, t.count);
    }
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"picogram_jobs_queued", "gauge", "Jobs in the outboxes not yet done (due, scheduled or running; not dead)."},
        {"picogram_jobs_due", "gauge", "Jobs due and waiting for a runner: the backlog."},
        {"picogram_jobs_running", "gauge", "Jobs a runner holds the lease of."},
        {"picogram_jobs_oldest_due_seconds", "gauge", "How long the oldest due job has waited for a runner (0: none)."},
        {"picogram_jobs_dead", "gauge", "Jobs given up after their last attempt, kept for an operator."},
    };
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        metrics_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < srv->njob_handlers; i++) {
            const jobs_kind_stats_t *a = &t.by_kind[i];
            snprintf(labels, sizeof(labels), "kind=\"%s\"", srv->job_handlers[i].kind);
            if (f == 3)
                metrics_line(out, fam[f].name, labels,
                             a->oldest_due_ms && now > a->oldest_due_ms ? (double)(now - a->oldest_due_ms) / 1e3 : 0);
            else
                metrics_line_u64(out, fam[f].name, labels,
                                 (uint64_t)(f == 0   ? a->live
                                            : f == 1 ? a->due
                                            : f == 2 ? a->running
                                                     : a->dead));
        }
    }
    static const char *const outcomes[JOBQ_NOUTCOMES] = {"done", "continued", "retried", "waited", "died"};
    metrics_family(out, "picogram_job_runs_total", "counter",
                   "Jobs this process's runners ran, by kind and outcome (continued: a step of a long job; waited: a "
                   "database was down; died: its last attempt failed).");
    for (size_t i = 0; i < srv->njob_handlers; i++) {
        uint64_t n[JOBQ_NOUTCOMES];
        jobq_counts(srv->jobs, i, n);
        for (int k = 0; k < JOBQ_NOUTCOMES; k++) {
            snprintf(labels, sizeof(labels), "kind=\"%s\",outcome=\"%s\"", srv->job_handlers[i].kind, outcomes[k]);
            metrics_line_u64(out, "picogram_job_runs_total", labels, n[k]);
        }
    }
}

static void render_cache(server_t *srv, buf_t *out)
{
    cache_stats_t cs = cache_stats(srv->cache);
    metrics_family(out, "picogram_cache_hits_total", "counter", "Object cache lookups that found their entry.");
    metrics_line_u64(out, "picogram_cache_hits_total", "", cs.hits);
    metrics_family(out, "picogram_cache_near_hits_total", "counter",
                   "Of the hits, those this process's own tier answered (a tiered cache; 0 otherwise).");
    metrics_line_u64(out, "picogram_cache_near_hits_total", "", cs.near_hits);
    metrics_family(out, "picogram_cache_misses_total", "counter", "Object cache lookups that did not.");
    metrics_line_u64(out, "picogram_cache_misses_total", "", cs.misses);
    metrics_family(out, "picogram_cache_entries", "gauge", "Entries this process's cache holds.");
    metrics_line_u64(out, "picogram_cache_entries", "", cs.entries);
    metrics_family(out, "picogram_cache_bytes", "gauge", "Bytes this process's cache holds.");
    metrics_line_u64(out, "picogram_cache_bytes", "", cs.bytes);
}

/* What this process's writer of each SQLite database did (db_sqlite_writes):
 * ops per batch is the group commit's reach, and a sync's mean time the
 * disk's. No lines for other drivers. */
static void render_sqlite_writes(server_t *srv, buf_t *out)
{
    /* each family's figure in db_sqlite_writes_t (a summary's _count): a
     * uint64_t, or a double when dbl; a summary's _sum, a double, at sum */
    typedef db_sqlite_writes_t w_t;
    static const struct {
        const char *name, *type, *help;
        size_t off, sum;
        bool dbl;
    } fam[] = {
        {"picogram_sqlite_write_ops_total", "counter", "Write transactions this process committed, by SQLite database.",
         offsetof(w_t, ops), 0, false},
        {"picogram_sqlite_write_batches_total", "counter",
         "The group commits they took (ops / batches: the mean batch).", offsetof(w_t, batches), 0, false},
        {"picogram_sqlite_wal_sync_seconds", "summary",
         "fdatasyncs of the WAL this process made for its commits (sqlite_sync = full), and their time.",
         offsetof(w_t, syncs), offsetof(w_t, sync_seconds), false},
        {"picogram_sqlite_wal_sync_failed", "gauge",
         "1 once an fdatasync of the WAL failed: every write on that database fails until a restart.",
         offsetof(w_t, sync_failed), 0, false},
        {"picogram_sqlite_checkpoints_total", "counter",
         "Checkpoints this process's writer made that copied the whole WAL back into the database.",
         offsetof(w_t, checkpoints), 0, false},
        {"picogram_sqlite_checkpoint_locks_total", "counter",
         "Times the checkpointer held the writer's lock to copy the last frames (more than checkpoints: readers held "
         "frames back).",
         offsetof(w_t, checkpoint_locks), 0, false},
        {"picogram_sqlite_checkpoints_quick_total", "counter",
         "Of the checkpoints, those that found nothing left to copy once they held the writer's lock (no pause of the "
         "writes beyond a look).",
         offsetof(w_t, checkpoints_quick), 0, false},
        {"picogram_sqlite_wal_pages", "gauge",
         "The WAL's pages after the last commit: it grows past 1,000 only while checkpoints cannot finish.",
         offsetof(w_t, wal_pages), 0, false},
        {"picogram_sqlite_write_lock_seconds_total", "counter",
         "Time the writer's lock was held (by write transactions, solo writes and the checkpointer): its rate is how "
         "busy the lock is; near 1, writes queue for it.",
         offsetof(w_t, lock_seconds), 0, true},
        {"picogram_sqlite_write_lock_wait_seconds", "summary",
         "Waits for the writer's lock: how often it was taken, and the time waited in all.", offsetof(w_t, lock_takes),
         offsetof(w_t, lock_wait_seconds), false},
    };
    size_t n = dbmap_count(srv->dbmap);
    w_t *st = xcalloc(n ? n : 1, sizeof(*st));
    bool *have = xcalloc(n ? n : 1, sizeof(*have)), any = false;
    for (size_t i = 0; i < n; i++) {
        db_conn_t *c = db_physical(srv->scrape_db, i);
        any |= have[i] = c != NULL && db_sqlite_writes(c, &st[i]);
    }
    char labels[64], name[96];
    for (size_t f = 0; any && f < sizeof(fam) / sizeof(fam[0]); f++) {
        metrics_family(out, fam[f].name, fam[f].type, fam[f].help);
        bool summary = strcmp(fam[f].type, "summary") == 0;
        for (size_t i = 0; i < n; i++) {
            if (!have[i])
                continue;
            snprintf(labels, sizeof(labels), "database=\"%zu\"", i);
            const char *at = (const char *)&st[i];
            if (summary) {
                double sum;
                memcpy(&sum, at + fam[f].sum, sizeof(sum));
                snprintf(name, sizeof(name), "%s_sum", fam[f].name);
                metrics_line(out, name, labels, sum);
                snprintf(name, sizeof(name), "%s_count", fam[f].name);
            }
            if (fam[f].dbl) {
                double d;
                memcpy(&d, at + fam[f].off, sizeof(d));
                metrics_line(out, fam[f].name, labels, d);
            } else {
                uint64_t v;
                memcpy(&v, at + fam[f].off, sizeof(v));
                metrics_line_u64(out, summary ? name : fam[f].name, labels, v);
            }
        }
    }
    free(have);
    free(st);
}

/* What a worker has too: the fan-out, the jobs and the process (a worker's
 * GET /metrics is this alone). */
static void render_worker_metrics(buf_t *out, void *arg)
{
    server_t *srv = arg;
    metrics_family(out, "picogram_fanout_timelines_total", "counter",
                   "Home timelines this process's fan-out jobs wrote a post into (its rate is the fan-out rate).");
    metrics_line_u64(out, "picogram_fanout_timelines_total", "", timeline_fanned_total());
    render_jobs(srv, out); /* opens srv->scrape_db */
    render_sqlite_writes(srv, out);
    metrics_process(out);
}

/* GET /metrics: the requests' series, then the gauges of the pools, the
 * object cache, uploads, the jobs and the process. */
static void render_metrics(buf_t *out, void *arg)
{
    server_t *srv = arg;
    metrics_render(srv->metrics, out);
    workpool_t *pools[] = {srv->req_pool, srv->pool, srv->hash_pool};
    static const char *const pool_names[] = {"pool=\"request\"", "pool=\"work\"", "pool=\"hash\""};
    workpool_stats_t st[3];
    for (int i = 0; i < 3; i++)
        if (pools[i] != NULL)
            st[i] = workpool_stats(pools[i]);
    metrics_family(out, "picogram_workpool_queue_depth", "gauge",
                   "Work waiting for a thread: requests (with a networked database), images and writes, password "
                   "hashes.");
    for (int i = 0; i < 3; i++)
        if (pools[i] != NULL)
            metrics_line_u64(out, "picogram_workpool_queue_depth", pool_names[i], st[i].queued);
    metrics_family(out, "picogram_workpool_wait_seconds", "summary", "How long work waited for a thread, by pool.");
    for (int i = 0; i < 3; i++)
        if (pools[i] != NULL) {
            metrics_line(out, "picogram_workpool_wait_seconds_sum", pool_names[i], (double)st[i].waited_us / 1e6);
            metrics_line_u64(out, "picogram_workpool_wait_seconds_count", pool_names[i], st[i].taken);
        }
    metrics_family(out, "picogram_write_groups_total", "counter",
                   "Write groups the work pool ran (SQLite: likes, comments, follows run one after another on one "
                   "thread, in one batch).");
    metrics_line_u64(out, "picogram_write_groups_total", "", st[1].groups);
    metrics_family(out, "picogram_write_group_ops_total", "counter",
                   "Writes run in those groups (over picogram_write_groups_total: the mean group).");
    metrics_line_u64(out, "picogram_write_group_ops_total", "", st[1].grouped);
    render_cache(srv, out);
    metrics_family(out, "picogram_uploads_in_flight", "gauge", "Uploads admitted and not yet answered.");
    metrics_line_u64(out, "picogram_uploads_in_flight", "", (uint64_t)atomic_load(&srv->uploads_in_flight));
    api_upload_stats_t up;
    api_upload_stats(&up);
    static const char *const outcomes[API_UPLOAD_N] = {"outcome=\"stored\"", "outcome=\"rejected\"",
                                                       "outcome=\"unavailable\"", "outcome=\"failed\""};
    metrics_family(out, "picogram_uploads_total", "counter",
                   "Uploads by outcome: stored; rejected (a bad photo or field, 4xx); unavailable (the photo store, "
                   "503); failed (500).");
    for (int i = 0; i < API_UPLOAD_N; i++)
        metrics_line_u64(out, "picogram_uploads_total", outcomes[i], up.outcomes[i]);
    metrics_family(out, "picogram_image_pipeline_seconds", "summary",
                   "Time the image pipeline took per upload: decode, renditions, encode.");
    metrics_line(out, "picogram_image_pipeline_seconds_sum", "", (double)up.pipeline_us / 1e6);
    metrics_line_u64(out, "picogram_image_pipeline_seconds_count", "", up.pipeline_runs);
    render_worker_metrics(out, srv);
}

/* ---- listening ---- */

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A listening socket on ai's address and port (0: any free one), with
 * SO_REUSEPORT if reuseport. The socket, or -1 with errno set. */
static int listen_socket(const struct addrinfo *ai, int port, bool reuseport)
{
    struct sockaddr_storage ss;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/*
 * One listening socket per loop thread, all on the same port with
 * SO_REUSEPORT, so that the kernel shares new connections out among the
 * loops. (With one socket that every loop watched, whichever loop was
 * awake took a burst of connections: runs of the same benchmark left one
 * loop with 31 of 32 connections, or shared them, and gave throughputs
 * that differed by half.) A socket without SO_REUSEPORT is bound first,
 * and closed: it fails if anything listens on the port already, another
 * picogram too, which SO_REUSEPORT alone would let in to share the port
 * unawares. fds[0..n); 0, or -1 with err.
 */
static int open_listeners(const config_t *cfg, int *fds, int n, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%d", cfg->listen_port);
    int rc = getaddrinfo(cfg->listen_host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", cfg->listen, gai_strerror(rc));
        return -1;
    }
    int probe = listen_socket(res, cfg->listen_port, false), bound = -1, k = 0;
    if (probe >= 0) {
        bound = bound_port(probe);
        close(probe);
        for (; k < n; k++)
            if ((fds[k] = listen_socket(res, bound, true)) < 0)
                break;
    }
    freeaddrinfo(res);
    if (probe < 0 || bound < 0 || k < n) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen, strerror(errno));
        while (k > 0)
            close(fds[--k]);
        return -1;
    }
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    server_thread_t *thr = listener->data;
    if (err != NULL)
        return;
    /* A few at a time, from this loop's own socket (open_listeners) */
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        h2o_accept(&thr->accept_ctx, sock);
    }
}

/* ---- threads ---- */

static bool conns_closed(h2o_context_t *ctx)
{
    return h2o_linklist_is_empty(&ctx->http1._conns) && h2o_linklist_is_empty(&ctx->http2._conns);
}

static void *loop_main(void *arg)
{
    server_thread_t *thr = arg;
    server_t *srv = thr->srv;
    h2o_context_init(&thr->ctx, thr->loop, &srv->h2o);
    h2o_multithread_register_receiver(thr->ctx.queue, &thr->work_done, workpool_on_done);
    api_thread_init(thr);
    thr->accept_ctx.ctx = &thr->ctx;
    thr->accept_ctx.hosts = srv->h2o.hosts;
    thr->listener = h2o_evloop_socket_create(thr->loop, srv->listen_fds[thr->index], H2O_SOCKET_FLAG_DONT_READ);
    thr->listener->data = thr;
    h2o_socket_read_start(thr->listener, on_accept);

    while (!atomic_load(&stopping))
        h2o_evloop_run(thr->loop, 100);

    /* Stop accepting, then let work already on the pool come back and be
     * answered. What the kernel has accepted and this loop not yet is taken
     * first: closing a listening socket resets the connections still in
     * its backlog, and a proxy that had sent a request on one (a POST: not
     * retried) would answer 502. After a drain, each connection closes
     * after its answer: for up to a second, the loop runs on until every
     * connection has closed, so those taken last are served (one a client
     * keeps idle costs that second, no more). */
    h2o_socket_read_stop(thr->listener);
    h2o_socket_t *sock;
    while ((sock = h2o_evloop_socket_accept(thr->listener)) != NULL)
        h2o_accept(&thr->accept_ctx, sock);
    h2o_socket_close(thr->listener);
    int64_t now = ids_now_ms(), deadline = now + 10000, grace = now + (atomic_load(&draining) ? 1000 : 0);
    while ((thr->in_flight > 0 || (ids_now_ms() < grace && !conns_closed(&thr->ctx))) && ids_now_ms() < deadline)
        h2o_evloop_run(thr->loop, 10);
    /* Every request has been answered; give the last responses a moment to
     * be written (HTTP/2 clients get GOAWAY). Idle keep-alive connections are
     * not waited for: h2o 2.2 does not close them, and exiting does. A
     * request that comes on one now is refused (api_dispatch), not started:
     * its work would outlive this loop and be done unanswered. */
    thr->closing = true;
    h2o_context_request_shutdown(&thr->ctx);
    deadline = ids_now_ms() + 200;
    while ((thr->in_flight > 0 || !conns_closed(&thr->ctx)) && ids_now_ms() < deadline)
        h2o_evloop_run(thr->loop, 10);
    return NULL;
}

/* Request bodies over 1 MiB go to mmapped temporary files in DATA/tmp
 * rather than the heap, so concurrent uploads do not grow the heap. */
static int setup_body_buffers(const config_t *cfg, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s/tmp", cfg->data_dir);
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %.300s: %s", tmp, strerror(errno));
        return -1;
    }
    int n = snprintf(h2o_socket_buffer_mmap_settings.fn_template, sizeof(h2o_socket_buffer_mmap_settings.fn_template),
                     "%s/h2o.b.XXXXXX", tmp);
    if (n < 0 || (size_t)n >= sizeof(h2o_socket_buffer_mmap_settings.fn_template)) {
        snprintf(err, errlen, "data directory path too long");
        return -1;
    }
    h2o_socket_buffer_mmap_settings.threshold = 1u << 20;
    return 0;
}

/* Files whose media row never committed (a crash mid-upload) or was deleted
 * just before a crash are taken out before serving, in a folder of one
 * server's own; not when another live process shares the databases (its
 * uploads in flight would look the same), nor from a shared store (S3):
 * there it is `picogram sweep`'s work, which spares what is young. */
static void sweep_orphans(server_t *srv)
{
    if (srv->photos->be->sweep == NULL || srv->photos->be->local_dir == NULL)
        return;
    if (nodes_shared(srv->nodes)) {
        log_info("photo store: another process shares the databases; no sweep at start-up");
        return;
    }
    db_ctx_t *db = db_ctx_new(srv->dbmap);
    long n = srv->photos->be->sweep(srv->photos, 0, media_file_in_use, db);
    db_ctx_free(db);
    if (n > 0)
        log_info("photo store: %ld orphaned or unfinished file(s) taken out (orphans are kept under orphans/)", n);
}

static int setup_data_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "data directory %s is not a directory", dir);
        return -1;
    }
    return 0;
}

/* Opens each physical database once and brings its schema up to date. */
static int migrate_all(const dbmap_t *map, char *err, size_t errlen)
{
    db_ctx_t *db = db_ctx_new(map);
    int rc = 0;
    for (size_t i = 0; i < dbmap_count(map) && rc == 0; i++) {
        db_conn_t *c = db_physical(db, i);
        int from = 0, to = 0;
        if (c == NULL) {
            snprintf(err, errlen, "cannot open database %s", dbmap_url(map, i));
            rc = -1;
        } else if (db_migrate(c, &from, &to, err, errlen) != 0) {
            rc = -1;
        } else if (from != to) {
            log_info("database %s: schema %d -> %d", dbmap_url(map, i), from, to);
        }
    }
    db_ctx_free(db);
    return rc;
}

/* ---- the web client (web/), static files ---- */

static bool web_client_present(const config_t *cfg)
{
    if (strcmp(cfg->web_root, "off") == 0)
        return false;
    char index[4096];
    snprintf(index, sizeof(index), "%s/index.html", cfg->web_root);
    if (access(index, R_OK) != 0) {
        log_info("no web client at %s; / answers JSON only", cfg->web_root);
        return false;
    }
    return true;
}

void server_web_csp(const config_t *cfg, const char *form_action, char *csp, size_t cap)
{
    /* the photo store's origin (photo URLs are absolute: a page opened under
     * another name for this host still shows them) */
    char photos[512] = "";
    const char *p = strstr(cfg->photo_url, "://");
    const char *e = p ? strchr(p + 3, '/') : NULL;
    int n = e ? (int)(e - cfg->photo_url) : (int)strlen(cfg->photo_url);
    snprintf(photos, sizeof(photos), " %.*s", n < 500 ? n : 500, cfg->photo_url);
    snprintf(csp, cap,
             "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:%s; "
             "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'%s%s; "
             "frame-ancestors 'none'",
             photos, form_action ? " " : "", form_action ? form_action : "");
}

/* The headers of the client's files: a Content-Security-Policy that allows
 * no inline script or style and no other origin but the photo store's. */
static h2o_headers_command_t *web_headers(const config_t *cfg)
{
    static h2o_iovec_t csp_name = {H2O_STRLIT("content-security-policy")};
    static h2o_iovec_t nosniff_name = {H2O_STRLIT("x-content-type-options")};
    static h2o_iovec_t referrer_name = {H2O_STRLIT("referrer-policy")};
    static h2o_iovec_t cc_name = {H2O_STRLIT("cache-control")};
    static h2o_headers_command_t cmds[5];
    static char csp[1024];
    server_web_csp(cfg, NULL, csp, sizeof(csp));
    cmds[0] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &csp_name, {csp, strlen(csp)}};
    cmds[1] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &nosniff_name, {H2O_STRLIT("nosniff")}};
    cmds[2] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &referrer_name, {H2O_STRLIT("same-origin")}};
    cmds[3] = (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &cc_name, {H2O_STRLIT("no-cache")}};
    cmds[4] = (h2o_headers_command_t){H2O_HEADERS_CMD_NULL, NULL, {NULL, 0}};
    return cmds;
}

/* Before h2o's file handler: a Range header other than one well-formed
 * range loses its header, and the file is served whole (http/range.h). */
static int on_range_guard(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    ssize_t i;
    while ((i = h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1)) >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (range_single_ok(v.base, v.len) && h2o_find_header(&req->headers, H2O_TOKEN_RANGE, i) < 0)
            break; /* one header, one range */
        h2o_delete_header(&req->headers, i);
    }
    return -1; /* on to the file handler */
}

static void guard_ranges(h2o_pathconf_t *pathconf)
{
    h2o_create_handler(pathconf, sizeof(h2o_handler_t))->on_req = on_range_guard;
}

static int setup_h2o(server_t *srv, const config_t *cfg, char *err, size_t errlen)
{
    h2o_config_init(&srv->h2o);
    srv->h2o.server_name = h2o_iovec_init(H2O_STRLIT("picogram"));
    srv->h2o.max_request_entity_size = (size_t)cfg->max_upload;
    srv->host = h2o_config_register_host(&srv->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    /* Photos: h2o's file handler (sendfile, ETag and 304, ranges, HEAD), with
     * a far-future immutable Cache-Control: a key's bytes never change. */
    const char *dir = srv->photos->be->local_dir ? srv->photos->be->local_dir(srv->photos) : NULL;
    if (dir != NULL) {
        static h2o_iovec_t cc_name = {H2O_STRLIT("cache-control")};
        static h2o_headers_command_t cmds[2];
        cmds[0] =
            (h2o_headers_command_t){H2O_HEADERS_CMD_SET, &cc_name, {H2O_STRLIT("public, max-age=31536000, immutable")}};
        cmds[1] = (h2o_headers_command_t){H2O_HEADERS_CMD_NULL, NULL, {NULL, 0}};
        char media_dir[4096];
        snprintf(media_dir, sizeof(media_dir), "%s/media", dir);
        h2o_pathconf_t *media = h2o_config_register_path(srv->host, "/media", 0);
        guard_ranges(media);
        h2o_file_register(media, media_dir, NULL, NULL, 0);
        h2o_headers_register(media, cmds);
        add_json_errors(media);
    }
    h2o_pathconf_t *health = h2o_config_register_path(srv->host, "/healthz", 0);
    h2o_create_handler(health, sizeof(h2o_handler_t))->on_req = on_healthz;
    h2o_pathconf_t *readyz = h2o_config_register_path(srv->host, "/readyz", 0);
    h2o_create_handler(readyz, sizeof(h2o_handler_t))->on_req = on_readyz;
    /* The API under its prefixes; the web client, if there is one, at every
     * other path (else the API answers them: JSON 404s). */
    static const char *const api_paths[] = {"/v1", "/oauth", "/web"};
    bool web = web_client_present(cfg);
    for (size_t i = 0; i < (web ? 3u : 0u); i++) {
        h2o_pathconf_t *pc = h2o_config_register_path(srv->host, api_paths[i], 0);
        api_handler_t *h = (api_handler_t *)h2o_create_handler(pc, sizeof(*h));
        h->super.on_req = on_req;
        add_json_errors(pc);
    }
    h2o_headers_command_t *web_cmds = web ? web_headers(cfg) : NULL;
    if (web) { /* photo links (/p/CODE/) open the client's page */
        static char index[4096];
        snprintf(index, sizeof(index), "%s/index.html", cfg->web_root);
        h2o_pathconf_t *links = h2o_config_register_path(srv->host, "/p", 0);
        guard_ranges(links);
        h2o_file_register_file(
            links, index, h2o_mimemap_get_type_by_extension(srv->h2o.mimemap, h2o_iovec_init(H2O_STRLIT("html"))), 0);
        h2o_headers_register(links, web_cmds);
        add_json_errors(links);
    }
    h2o_pathconf_t *root = h2o_config_register_path(srv->host, "/", 0);
    if (web) {
        static const char *index_files[] = {"index.html", NULL};
        guard_ranges(root);
        h2o_file_register(root, cfg->web_root, index_files, NULL, 0);
        h2o_headers_register(root, web_cmds);
        add_json_errors(root);
    } else {
        api_handler_t *h = (api_handler_t *)h2o_create_handler(root, sizeof(*h));
        h->super.on_req = on_req;
        add_json_errors(root);
    }
    add_json_errors(&srv->host->fallback_path);
    if (strcmp(cfg->access_log, "off") != 0) {
        int fd = STDERR_FILENO;
        if (strcmp(cfg->access_log, "-") != 0 &&
            (fd = open(cfg->access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0) {
            snprintf(err, errlen, "cannot open access log %s: %s", cfg->access_log, strerror(errno));
            return -1;
        }
        /* %U, not %r: the path without its query, so access tokens never
         * reach the log; the request's ID last (Apache's combined format,
         * then the ID in quotes, as nginx logs $request_id) */
        char lerr[256];
        bool json = strcmp(cfg->log_format, "json") == 0;
        h2o_logconf_t *lc = h2o_logconf_compile(
            json ? "{\"time\":\"%{%Y-%m-%dT%H:%M:%S%z}t\",\"remote\":\"%h\",\"method\":\"%m\",\"path\":\"%U\","
                   "\"protocol\":\"%H\",\"status\":%s,\"bytes\":%b,\"duration_s\":%{duration}x,"
                   "\"request_id\":\"%{x-request-id}o\",\"referer\":\"%{Referer}i\",\"user_agent\":\"%{User-agent}i\"}"
                 : "%h %l %u %t \"%m %U %H\" %s %b \"%{Referer}i\" \"%{User-agent}i\" \"%{x-request-id}o\"",
            json ? H2O_LOGCONF_ESCAPE_JSON : H2O_LOGCONF_ESCAPE_APACHE, lerr);
        if (lc == NULL) {
            snprintf(err, errlen, "access log format: %s", lerr);
            return -1;
        }
        /* every path (after the last registration: h2o keeps them in a
         * vector that moves as it grows) */
        for (size_t i = 0; i < srv->host->paths.size; i++)
            add_access_log(srv->host->paths.entries + i, lc, fd);
        add_access_log(&srv->host->fallback_path, lc, fd);
    }
    add_count_loggers(srv, web);
    for (size_t i = 0; i < srv->host->paths.size; i++)
        h2o_create_filter(srv->host->paths.entries + i, sizeof(h2o_filter_t))->on_setup_ostream = request_id_setup;
    h2o_create_filter(&srv->host->fallback_path, sizeof(h2o_filter_t))->on_setup_ostream = request_id_setup;
    return 0;
}

/* With port 0 the kernel picks the port: links must carry the real one. */
static void fix_derived_urls(config_t *cfg, int port)
{
    char derived[600];
    snprintf(derived, sizeof(derived), "http://%s", cfg->listen);
    if (cfg->listen_port != 0 || strcmp(cfg->public_url, derived) != 0)
        return;
    bool photo_too = strcmp(cfg->photo_url, cfg->public_url) == 0;
    char *real = xmalloc(600);
    bool v6 = strchr(cfg->listen_host, ':') != NULL;
    snprintf(real, 600, v6 ? "http://[%s]:%d" : "http://%s:%d", cfg->listen_host, port);
    free(cfg->public_url);
    cfg->public_url = real;
    if (photo_too) {
        free(cfg->photo_url);
        cfg->photo_url = xstrdup(real);
    }
}

static bool jobs_may_run(void *arg)
{
    return nodes_ok(arg);
}

/* Password hashing yields the CPU to the loops and the workers. */
static void lower_priority(void)
{
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0)
        log_warn("cannot lower the priority of a hashing thread: %s", strerror(errno));
}

/* The job runners, with every handler: the feeds' (their ctx the feeds),
 * and the periodic popular ranking, scheduled now if it is not waiting. */
static int start_jobs(server_t *srv, config_t *cfg, char *err, size_t errlen)
{
    size_t n = sizeof(timeline_job_handlers) / sizeof(timeline_job_handlers[0]);
    memcpy(srv->job_handlers, timeline_job_handlers, sizeof(timeline_job_handlers));
    far_job_handlers(srv->job_handlers, &n);
    srv->popular = (popular_ctx_t){.interval = cfg->popular_interval, .feeds = &srv->feeds};
    srv->job_handlers[n++] = (job_handler_t){"popular", popular_job, &srv->popular};
    srv->rekey = (photo_keys_ctx_t){.store = srv->photos, .cache = srv->cache, .gc_delay_ms = cfg->rekey_grace * 1000};
    srv->job_handlers[n++] = (job_handler_t){"photo_rekey", photo_rekey_job, &srv->rekey};
    srv->job_handlers[n++] = (job_handler_t){"go_public", graph_go_public_job, NULL};
    srv->job_handlers[n++] = (job_handler_t){"block_purge", social_block_purge_job, srv->cache};
    srv->job_handlers[n++] = (job_handler_t){"user_changed", users_changed_job, srv->cache};
    srv->job_handlers[n++] = (job_handler_t){"cache_drop", cache_drop_job, srv->cache};
    srv->hooks = (hooks_ctx_t){.allow_private = strcmp(cfg->webhook_allow_private, "on") == 0,
                               .max_attempts = (int)cfg->webhook_max_attempts,
                               .batch_ms = (int)cfg->webhook_batch_ms,
                               .key = &srv->apps_key};
    srv->job_handlers[n++] = (job_handler_t){"realtime", hooks_realtime_job, &srv->hooks};
    srv->job_handlers[n++] = (job_handler_t){"hook_deliver", hooks_deliver_job, &srv->hooks};
    srv->share = (share_ctx_t){.key = &srv->apps_key,
                               .store = srv->photos,
                               .allow_private = srv->hooks.allow_private,
                               .max_attempts = srv->hooks.max_attempts};
    srv->job_handlers[n++] = (job_handler_t){"share", share_job, &srv->share};
    srv->job_handlers[n++] = (job_handler_t){"push", push_job, srv->push};
    db_ctx_t *db = db_ctx_new(srv->dbmap);
    int rc = popular_schedule(db) == DISC_OK ? photo_rekey_schedule(db) : -1;
    db_ctx_free(db);
    if (rc != 0) {
        snprintf(err, errlen, "cannot schedule the popular ranking or the photo re-keying");
        return -1;
    }
    srv->njob_handlers = n;
    jobq_owner_t owner = {.id = nodes_owner(srv->nodes), .ok = jobs_may_run, .arg = srv->nodes};
    if (cfg->job_threads > 0) /* 0: `picogram worker` processes run them */
        srv->jobs = jobq_start(srv->dbmap, (int)cfg->job_threads, srv->job_handlers, n, &srv->feeds, owner);
    return 0;
}

/* Signals go to the main thread alone, which waits for them: blocked
 * before any thread starts, so every thread inherits the mask. */
static void block_signals(sigset_t *sigs)
{
    sigemptyset(sigs);
    sigaddset(sigs, SIGINT);
    sigaddset(sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* What a server and a worker both stand on: the data directory, the
 * secret (the cluster's Redis namespace in ns; the page-cursor key too,
 * for a server), the databases at this binary's schema, an ID node and
 * the photo store. 0, or -1 with err. */
static int open_data(server_t *srv, config_t *cfg, char ns[REDIS_NS_LEN + 1], char *err, size_t errlen)
{
    unsigned char secret[SECRET_BYTES];
    if (setup_data_dir(cfg->data_dir, err, errlen) != 0 || secret_load(cfg->secret_file, secret, err, errlen) != 0)
        return -1;
    cursor_key_derive(&srv->cursor_key, secret);
    apps_key_derive(&srv->apps_key, secret);
    push_settings_t ps = {.secret = secret,
                          .window_ms = (int)cfg->push_window_ms,
                          .apns_endpoint = cfg->apns_endpoint,
                          .apns_key_file = cfg->apns_key_file,
                          .apns_key_id = cfg->apns_key_id,
                          .apns_team_id = cfg->apns_team_id,
                          .apns_topic = cfg->apns_topic,
                          .vapid_subject = cfg->vapid_subject,
                          .allow_private = strcmp(cfg->webhook_allow_private, "on") == 0};
    if ((srv->push = push_new(&ps, err, errlen)) == NULL) {
        sodium_memzero(secret, sizeof(secret));
        return -1;
    }
    redis_namespace(secret, sizeof(secret), ns);
    sodium_memzero(secret, sizeof(secret));
    if ((srv->dbmap = dbmap_new(cfg->database, cfg->sqlite_sync, err, errlen)) == NULL)
        return -1;
    /* The cluster's databases are brought up to date by `picogram migrate`,
     * once, never by a process starting; one refuses a schema it does not
     * know. The embedded database migrates at start. */
    if ((dbmap_blocking(srv->dbmap) ? db_check_schemas(srv->dbmap, err, errlen)
                                    : migrate_all(srv->dbmap, err, errlen)) != 0)
        return -1;
    /* where shards have moved since the settings were written (admin/shardmove.h), and on as they move;
     * the servers only the moved map names checked too */
    if (dbmap_blocking(srv->dbmap)) {
        if (dbmap_load(srv->dbmap, err, errlen) < 0 || db_check_schemas(srv->dbmap, err, errlen) != 0)
            return -1;
        dbmap_watch_start(srv->dbmap);
    }
    if ((srv->nodes = nodes_claim(srv->dbmap, cfg->node_number, err, errlen)) == NULL)
        return -1;
    blob_options_t bopt = {cfg->s3_access_key, cfg->s3_secret_key, cfg->s3_region};
    if ((srv->photos = blob_open(cfg->photo_store, &bopt, err, errlen)) == NULL)
        return -1;
    /* errors and crashes to sentry_dsn; the crash reports of a run before are sent now */
    if (sentry_start(cfg->sentry_dsn, cfg->data_dir, srv->role ? srv->role : "serve", err, errlen) != 0)
        return -1;
    sentry_crash_handlers(cfg->data_dir);
    return 0;
}

/* The object cache (local, of cache_size bytes, or memcached, with a local
 * tier of cache_size bytes in front when near_cache is on and redis is
 * set), the invalidation bus of whatever is local, with redis, the feed store, which drops
 * timelines' heads from that cache, and the jobs' relay to gearmand. */
static int open_cache_and_feeds(server_t *srv, config_t *cfg, size_t cache_size, const char *ns, char *err,
                                size_t errlen)
{
    if (strcmp(cfg->job_server, "off") != 0) {
        if ((srv->gearman = jobs_gearman_open(cfg->job_server, ns, err, errlen)) == NULL)
            return -1;
        jobs_use_gearman(srv->gearman);
    }
    if ((srv->cache = cache_open(cfg->cache, cache_size, ns, err, errlen)) == NULL)
        return -1;
    bool redis = strcmp(cfg->redis, "off") != 0;
    if (redis && cache_remote(srv->cache) && strcmp(cfg->near_cache, "on") == 0)
        srv->cache = cache_tiered_new(cache_new(cache_size), srv->cache);
    if (redis && cache_near(srv->cache) != NULL &&
        (srv->bus = cache_bus_start(cfg->redis, ns, srv->cache, err, errlen)) == NULL)
        return -1;
    if (feeds_init(&srv->feeds, cfg->feed_store, ns, (int)cfg->feed_cap, cfg->celebrity, (int)cfg->fanout_batch, err,
                   errlen) != 0)
        return -1;
    srv->feeds.cache = srv->cache;
    if (srv->feeds.be == &feeds_backend_sqlite) /* timelines in the database: a follow changes one at once */
        timeline_set_inline(&srv->feeds);
    return 0;
}

/* Undoes open_data and open_cache_and_feeds (what of them was done),
 * after every thread that used them has stopped: the bus last sends
 * what they dropped. */
static void close_shared(server_t *srv)
{
    sentry_stop();
    cache_bus_stop(srv->bus);
    jobs_use_gearman(NULL);
    jobs_gearman_close(srv->gearman);
    timeline_set_inline(NULL);
    feeds_close(&srv->feeds);
    nodes_release(srv->nodes);
    dbmap_watch_stop();
    dbmap_free(srv->dbmap);
    blob_close(srv->photos);
    push_free(srv->push);
    cache_free(srv->cache);
}

/* picogram worker: the job runners alone, no HTTP. Everything a job
 * touches is set up as a server sets it up (databases, ID node, photo
 * store, feed store, and an object cache whose only use is to send the
 * jobs' invalidations to the servers over the bus). */
int worker_run(config_t *cfg)
{
    static server_t srv_;
    server_t *srv = &srv_;
    memset(srv, 0, sizeof(*srv));
    srv->cfg = cfg;
    srv->role = "worker";
    char err[512], ns[REDIS_NS_LEN + 1];
    sigset_t sigs;
    block_signals(&sigs);
    if (cfg->job_threads < 1) {
        snprintf(err, sizeof(err), "a worker needs job_threads of 1 or more");
        goto fail;
    }
    if (cfg->metrics_host != NULL)
        db_timing_enable(); /* before the job threads */
    if (open_data(srv, cfg, ns, err, sizeof(err)) != 0 ||
        open_cache_and_feeds(srv, cfg, 1u << 20, ns, err, sizeof(err)) != 0 ||
        start_jobs(srv, cfg, err, sizeof(err)) != 0)
        goto fail;
    if (cfg->metrics_host != NULL) {
        srv->scrape = scrape_start(cfg->metrics_host, cfg->metrics_port, render_worker_metrics, srv, err, sizeof(err));
        if (srv->scrape == NULL) {
            jobq_stop(srv->jobs);
            goto fail;
        }
        log_info("metrics on http://%s:%d/metrics", cfg->metrics_host, scrape_port(srv->scrape));
    }
    log_info("picogram worker: %lld job thread(s), ID node %u", cfg->job_threads, nodes_node(srv->nodes));
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("signal %d: the jobs running finish, then the worker stops", sig);
    if (srv->scrape != NULL)
        scrape_stop(srv->scrape);
    jobq_stop(srv->jobs);
    close_shared(srv);
    log_info("stopped");
    return 0;
fail:
    log_error("%s", err);
    close_shared(srv);
    return 1;
}

server_t *server_open_admin(config_t *cfg, char *err, size_t errlen)
{
    server_t *srv = xcalloc(1, sizeof(*srv));
    srv->cfg = cfg;
    srv->role = "admin";
    char ns[REDIS_NS_LEN + 1];
    if (open_data(srv, cfg, ns, err, errlen) != 0 || open_cache_and_feeds(srv, cfg, 1u << 20, ns, err, errlen) != 0) {
        close_shared(srv);
        free(srv);
        return NULL;
    }
    return srv;
}

void server_close_admin(server_t *srv)
{
    if (srv != NULL) {
        close_shared(srv);
        free(srv);
    }
}

int server_run(config_t *cfg)
{
    char err[512];
    static server_t srv_; /* static: what a lingering connection keeps alive at exit stays reachable */
    server_t *srv = &srv_;
    memset(srv, 0, sizeof(*srv));
    srv->cfg = cfg;
    sigset_t sigs;
    block_signals(&sigs);
    char ns[REDIS_NS_LEN + 1];
    if (proxy_list_parse(cfg->trusted_proxies, &srv->trusted, err, sizeof(err)) != 0 ||
        open_data(srv, cfg, ns, err, sizeof(err)) != 0)
        goto fail;
    far_set_inline(strcmp(cfg->far_inline, "on") == 0);
    if (setup_body_buffers(cfg, err, sizeof(err)) != 0)
        goto fail;
    sweep_orphans(srv);
    api_export_sweep(cfg->data_dir);
    srv->listen_fds = xcalloc((size_t)cfg->threads, sizeof(int));
    if (open_listeners(cfg, srv->listen_fds, (int)cfg->threads, err, sizeof(err)) != 0)
        goto fail;
    srv->nlisten = (int)cfg->threads;
    int port = bound_port(srv->listen_fds[0]);
    fix_derived_urls(cfg, port);
    if (setup_h2o(srv, cfg, err, sizeof(err)) != 0) /* after the URLs are final: the web CSP names them */
        goto fail;

    srv->router = api_router_new();
    if (open_cache_and_feeds(srv, cfg, (size_t)cfg->cache_size, ns, err, sizeof(err)) != 0)
        goto fail;
    if ((srv->ready = ready_new(cfg, srv->photos, err, sizeof(err))) == NULL)
        goto fail;
    srv->rl = ratelimit_new((uint32_t)cfg->rate_limit, cfg->rate_limit_window * 1000, 1u << 18);
    if (strcmp(cfg->redis, "off") != 0 &&
        (srv->rlshare = rl_share_start(cfg->redis, ns, srv->rl, cfg->rate_limit_window * 1000, err, sizeof(err))) ==
            NULL)
        goto fail;
    if (strcmp(cfg->redis, "off") != 0 &&
        (srv->login_share = login_share_new(cfg->redis, ns, err, sizeof(err))) == NULL)
        goto fail;
    srv->ids = ids_global(); /* one generator for every ID: two would repeat each other's sequences */
    srv->pool = workpool_new((int)cfg->workers, 4096, srv->dbmap, NULL, images_thread_done);
    srv->hash_pool = workpool_new((int)cfg->hash_threads, (size_t)cfg->hash_queue, srv->dbmap, lower_priority, NULL);
    bool remote = srv->feeds.be != &feeds_backend_sqlite || cache_remote(srv->cache);
    bool pool = strcmp(cfg->dispatch, "pool") == 0 ||
                (strcmp(cfg->dispatch, "auto") == 0 && (dbmap_blocking(srv->dbmap) || remote));
    if (pool && strcmp(cfg->dispatch, "loop") != 0) /* no network round trip on an event loop */
        srv->req_pool = workpool_new((int)cfg->request_threads, 8192, srv->dbmap, NULL, images_thread_done);
    srv->speculate = srv->req_pool != NULL && strcmp(cfg->dispatch, "auto") == 0;
    srv->throttle = throttle_new(1u << 16);
    srv->nthreads = (int)cfg->threads;
    if (cfg->metrics_host != NULL) {
        db_timing_enable(); /* before any thread that calls a database starts */
        setup_metrics(srv);
        if ((srv->scrape = scrape_start(cfg->metrics_host, cfg->metrics_port, render_metrics, srv, err, sizeof(err))) ==
            NULL)
            goto fail;
        log_info("metrics on http://%s:%d/metrics", cfg->metrics_host, scrape_port(srv->scrape));
    }
    if (start_jobs(srv, cfg, err, sizeof(err)) != 0)
        goto fail;

    srv->threads = xcalloc((size_t)srv->nthreads, sizeof(server_thread_t));
    for (int i = 0; i < srv->nthreads; i++) {
        server_thread_t *thr = &srv->threads[i];
        thr->srv = srv;
        thr->index = i;
        thr->loop = h2o_evloop_create();
        thr->db = db_ctx_new(srv->dbmap);
        if (srv->req_pool != NULL)
            db_ctx_forbid(thr->db); /* no network round trip on an event loop */
        h2o_multithread_create_thread(&thr->tid, NULL, loop_main, thr);
    }
    srv->nlisten = 0; /* the loops have them */
    if (strcmp(cfg->password_hash, "minimum") == 0)
        log_warn("password_hash = minimum: new passwords are hashed at the lowest cost, which is cheap to guess "
                 "(for test suites only)");
    log_info("picogram listening on http://%s:%d (%d loop threads, %lld workers, ID node %u, data in %s)",
             cfg->listen_host, port, srv->nthreads, cfg->workers, nodes_node(srv->nodes), cfg->data_dir);

    int sig = 0;
    sigwait(&sigs, &sig);
    if (cfg->drain_seconds > 0) {
        /* /readyz turns 503 and everything else is served as ever, so that
         * a load balancer moves traffic away before the port closes */
        atomic_store(&draining, 1);
        log_info(
            "signal %d: draining for %lld s (/readyz answers 503), then shutting down; another signal stops at once",
            sig, cfg->drain_seconds);
        struct timespec drain = {.tv_sec = (time_t)cfg->drain_seconds};
        int again = sigtimedwait(&sigs, NULL, &drain);
        if (again > 0)
            log_info("signal %d: shutting down now", again);
    }
    log_info("signal %d: shutting down", sig);
    atomic_store(&stopping, 1);
    for (int i = 0; i < srv->nthreads; i++)
        pthread_join(srv->threads[i].tid, NULL);
    scrape_stop(srv->scrape); /* it reads the pools, the cache and the databases */
    db_ctx_free(srv->scrape_db);
    workpool_free(srv->pool);
    ready_free(srv->ready); /* after the pool's threads: each held a Redis connection of it */
    workpool_free(srv->hash_pool);
    workpool_free(srv->req_pool);
    jobq_stop(srv->jobs); /* jobs not run yet stay in the outbox for the next start */
    rl_share_stop(srv->rlshare);
    login_share_free(srv->login_share); /* after the hashing threads */
    /* The h2o contexts and loops are not disposed: h2o 2.2 asserts on timers
     * that a just-closed connection may still hold, and the process is
     * exiting anyway. They stay reachable (srv is static), so leak checkers
     * are right not to report them. */
    for (int i = 0; i < srv->nthreads; i++)
        db_ctx_free(srv->threads[i].db);
    free(srv->listen_fds); /* each closed by its loop */
    router_free(srv->router);
    metrics_free(srv->metrics);
    free(srv->route_metric);
    ratelimit_free(srv->rl);
    throttle_free(srv->throttle);
    /* srv->ids is the process's generator (ids_global): not freed */
    close_shared(srv); /* after the last writer: what they dropped is sent */
    log_info("stopped");
    return 0;
fail:
    log_error("%s", err);
    for (int i = 0; i < srv->nlisten; i++)
        close(srv->listen_fds[i]);
    free(srv->listen_fds);
    close_shared(srv);
    return 1;
}
