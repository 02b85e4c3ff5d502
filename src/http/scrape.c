#include "http/scrape.h"

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCRAPE_MAX (64u << 20) /* the largest body: far beyond any route table */

struct scrape {
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_evloop_t *loop;
    h2o_socket_t *listener;
    int fd, port;
    pthread_t tid;
    atomic_int stop;
    scrape_render_fn render;
    void *arg;
};

typedef struct scrape_handler {
    h2o_handler_t super;
    scrape_t *s;
} scrape_handler_t;

static int on_metrics(h2o_handler_t *self, h2o_req_t *req)
{
    scrape_t *s = ((scrape_handler_t *)self)->s;
    /* h2o matched the /metrics prefix: anything longer is another path */
    if (req->path_normalized.len != sizeof("/metrics") - 1)
        return -1;
    bool head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!head && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        h2o_send_error_generic(req, 405, "Method Not Allowed", "method not allowed: GET /metrics\n", 0);
        return 0;
    }
    buf_t out;
    buf_init(&out, SCRAPE_MAX);
    s->render(&out, s->arg);
    req->res.status = out.overflow ? 500 : 200;
    req->res.reason = out.overflow ? "Internal Server Error" : "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    if (out.overflow)
        h2o_send_inline(req, H2O_STRLIT("metrics too large\n"));
    else
        h2o_send_inline(req, out.data ? out.data : "", out.len);
    buf_free(&out);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    scrape_t *s = listener->data;
    if (err != NULL)
        return;
    h2o_socket_t *sock;
    for (int i = 0; i < 16 && (sock = h2o_evloop_socket_accept(listener)) != NULL; i++)
        h2o_accept(&s->accept_ctx, sock);
}

static void *scrape_main(void *arg)
{
    scrape_t *s = arg;
    while (!atomic_load(&s->stop))
        h2o_evloop_run(s->loop, 100);
    h2o_socket_read_stop(s->listener);
    h2o_socket_close(s->listener);
    return NULL;
}

static int listen_on(const char *host, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "metrics_listen: cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int one = 1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        snprintf(err, errlen, "metrics_listen: cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

scrape_t *scrape_start(const char *host, int port, scrape_render_fn render, void *arg, char *err, size_t errlen)
{
    int fd = listen_on(host, port, err, errlen);
    if (fd < 0)
        return NULL;
    scrape_t *s = xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->render = render;
    s->arg = arg;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    h2o_config_init(&s->conf);
    s->conf.server_name = h2o_iovec_init(H2O_STRLIT("picogram"));
    h2o_hostconf_t *host_conf = h2o_config_register_host(&s->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host_conf, "/metrics", 0);
    scrape_handler_t *h = (scrape_handler_t *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_metrics;
    h->s = s;
    s->loop = h2o_evloop_create();
    h2o_context_init(&s->ctx, s->loop, &s->conf);
    s->accept_ctx.ctx = &s->ctx;
    s->accept_ctx.hosts = s->conf.hosts;
    s->listener = h2o_evloop_socket_create(s->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    s->listener->data = s;
    h2o_socket_read_start(s->listener, on_accept);
    h2o_multithread_create_thread(&s->tid, NULL, scrape_main, s);
    return s;
}

int scrape_port(const scrape_t *s)
{
    return s->port;
}

void scrape_stop(scrape_t *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->tid, NULL);
}
