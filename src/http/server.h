/*
 * server: the HTTP server on h2o's library, in the embedded topology.
 *
 * DESIGN: the threading model
 *  - `threads` event-loop threads. Each runs its own h2o evloop and
 *    h2o_context_t and accepts from a listening socket of its own on the
 *    port (SO_REUSEPORT: the kernel spreads new connections over the
 *    loops). A request lives and dies on the loop thread that accepted it.
 *  - Each loop thread has its own database connections (db_ctx_t). Short
 *    reads (a primary-key lookup, a token check, a small indexed search:
 *    tens of microseconds in SQLite WAL mode) run inline on the loop.
 *  - Everything slow or blocking goes to the worker pool (http/workpool.h):
 *    image processing, and every database write, because a commit waits
 *    for fsync and may wait for SQLite's single writer lock. The result
 *    comes back to the loop that asked through h2o's multithread queue, and
 *    the loop sends the response. Likes, comments and relationship
 *    changes queue apart and run in write groups, many on one worker under
 *    one hold of the database's write lock (WRITE GROUPS, workpool.h).
 *  - Password hashing (argon2id, slow on purpose; log-in and sign-up) has a
 *    pool of its own (`hash_threads`, at a lower CPU priority, with a short
 *    queue), and each client address may have only `hash_per_client`
 *    hashes queued or running: a flood of log-ins answers 429 or 503 fast
 *    and never delays anyone's writes.
 *  - If a client goes away while its work is on a worker, the work still
 *    finishes (the write is kept), and the reply is dropped. A password
 *    hash whose client has gone before it starts is dropped unrun.
 *  - Shared state (router, rate limiter, ID generator, config) is immutable
 *    or thread safe.
 */
#ifndef PICOGRAM_SERVER_H
#define PICOGRAM_SERVER_H

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>

#include "blob/blob.h"
#include "cache/bus.h"
#include "cache/cache.h"
#include "http/forwarded.h"
#include "http/loginshare.h"
#include "http/rlshare.h"
#include "config.h"
#include "core/cursor.h"
#include "core/ids.h"
#include "db/db.h"
#include "feeds/feeds.h"
#include "jobs/gearman.h"
#include "jobs/jobs.h"
#include "model/apps.h"
#include "model/hooks.h"
#include "model/share.h"
#include "model/push.h"
#include "model/discovery.h"
#include "model/graph.h"
#include "model/nodes.h"
#include "model/photo_keys.h"
#include "http/ratelimit.h"
#include "http/ready.h"
#include "http/throttle.h"
#include "http/router.h"
#include "http/scrape.h"
#include "http/workpool.h"
#include "obs/metrics.h"

typedef struct server server_t;

#define SERVER_MAX_JOB_KINDS 32

typedef struct server_thread {
    h2o_context_t ctx; /* first: a request's ctx leads back to its thread */
    server_t *srv;
    int index;
    pthread_t tid;
    h2o_evloop_t *loop;
    h2o_socket_t *listener;
    h2o_accept_ctx_t accept_ctx;
    h2o_multithread_receiver_t work_done;
    db_ctx_t *db;
    size_t in_flight; /* work submitted and not yet done */
    /* stopping, and all work taken before answered: the loop is about to
     * exit, so an API request is refused (503) rather than started, since
     * work started now would be done and never answered */
    bool closing;
    /* requests waiting for a password hash, whose clients are checked for
     * having gone (h2o stops reading an HTTP/1 socket while a request is
     * handled, so it would not notice): see api_defer_hash */
    h2o_linklist_t hash_waiting;
    h2o_timeout_t gone_timeout;
    h2o_timeout_entry_t gone_entry;
} server_thread_t;

struct server {
    const config_t *cfg;
    const char *role; /* "serve", "worker" or "admin": in error reports */
    h2o_globalconf_t h2o;
    h2o_hostconf_t *host;
    router_t *router;
    ratelimit_t *rl;
    ids_gen_t *ids;
    workpool_t *pool;
    workpool_t *hash_pool; /* password hashing only: one client's flood never stalls writes */
    workpool_t *req_pool;  /* requests, when a database is across a network (NULL: on the loops) */
    bool speculate;        /* with req_pool: each request tried on its loop first (dispatch auto) */
    throttle_t *throttle;  /* hashing slots per client address; failed log-in backoff */
    dbmap_t *dbmap;
    server_thread_t *threads;
    int nthreads;
    int *listen_fds; /* one per loop thread (SO_REUSEPORT); each loop's once it runs */
    int nlisten;     /* how many are open, not yet handed to a loop */
    blob_store_t *photos;
    feeds_t feeds;
    cache_t *cache;
    cache_bus_t *bus;           /* NULL without redis */
    rl_share_t *rlshare;        /* NULL without redis */
    login_share_t *login_share; /* the failed log-in back-off every server counts; NULL without redis */
    proxy_list_t trusted;       /* trusted_proxies */
    jobq_t *jobs;
    struct jobs_gearman *gearman;   /* NULL without job_server */
    job_handler_t job_handlers[SERVER_MAX_JOB_KINDS]; /* every kind the runners take */
    size_t njob_handlers;
    photo_keys_ctx_t rekey;         /* the photo_rekey job's */
    popular_ctx_t popular;          /* the popular job's */
    atomic_int uploads_in_flight;
    nodes_t *nodes;          /* this process's ID node lease */
    ready_t *ready;          /* what GET /readyz checks */
    metrics_t *metrics;      /* NULL unless metrics_listen is set: then requests are counted */
    scrape_t *scrape;        /* its listener */
    db_ctx_t *scrape_db;     /* the scrape thread's, for the outboxes' numbers */
    uint32_t *route_metric;  /* a route's index (router_index) -> its metrics route (one per pattern) */
    size_t metric_pseudo;    /* where the SERVER_M_* routes begin among the metrics routes */
    cursor_key_t cursor_key; /* from the server secret: sealed page cursors */
    apps_key_t apps_key;     /* from the server secret: sealed app secrets (model/apps.h) */
    hooks_ctx_t hooks;       /* real-time subscriptions' settings (model/hooks.h) */
    share_ctx_t share;       /* sharing to Mastodon-API servers (model/share.h) */
    push_ctx_t *push;        /* push notifications' keys (model/push.h) */
};

/* The metrics routes that are not a route of the API's, after them. */
enum {
    SERVER_M_UNMATCHED,
    SERVER_M_MEDIA,
    SERVER_M_HEALTHZ,
    SERVER_M_READYZ,
    SERVER_M_LINKS,
    SERVER_M_WEB,
    SERVER_M_N
};

/* Microseconds since h2o began req (its head read). */
static inline uint64_t server_req_micros(const h2o_req_t *req)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    int64_t us = ((int64_t)now.tv_sec - req->timestamps.request_begin_at.tv_sec) * 1000000 +
                 ((int64_t)now.tv_usec - req->timestamps.request_begin_at.tv_usec);
    return us > 0 ? (uint64_t)us : 0;
}

/* Runs the server until SIGINT or SIGTERM. Returns a process exit code. */
int server_run(config_t *cfg);
/* Runs the job runners alone (`picogram worker`) until SIGINT or SIGTERM. */
int worker_run(config_t *cfg);
/* What `picogram admin` works with: a worker's setup (the databases at this
 * binary's schema, an ID node, the photo store, the object cache and the
 * feed store), with no job runner and no listener. NULL with err. */
server_t *server_open_admin(config_t *cfg, char *err, size_t errlen);
void server_close_admin(server_t *srv);

/* The web client's Content-Security-Policy into csp: no inline script or
 * style, no origin but this one's and the photo store's; forms may post
 * here and to form_action (a CSP source, or NULL). */
void server_web_csp(const config_t *cfg, const char *form_action, char *csp, size_t cap);

#endif
