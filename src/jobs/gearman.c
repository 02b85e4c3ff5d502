/* The job queue's Gearman transport (see gearman.h). */
#include "jobs/gearman.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libgearman/gearman.h>

#include "cache/url.h"
#include "core/buf.h"
#include "obs/log.h"

struct jobs_gearman {
    char servers[512];       /* "HOST:PORT,HOST:PORT", libgearman's form */
    char fn[64];             /* the function: picogram_jobs_v1_<namespace> */
    pthread_key_t key;       /* this thread's client */
    atomic_llong down_until; /* monotonic ms; 0 while it answers */
    atomic_bool warned;
};

struct jobs_gearman_worker {
    jobs_gearman_t *g;
    gearman_worker_st *w;
    jobs_gearman_run_fn run;
    void *arg;
    bool warned;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_client(void *c)
{
    gearman_client_free(c);
}

/* "gearman://HOST:PORT[,HOST:PORT...]" into "HOST:PORT,..."; -1 if bad. */
static int parse(const char *url, char *out, size_t outlen)
{
    static const char scheme[] = "gearman://";
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return -1;
    const char *p = url + sizeof(scheme) - 1;
    if (strlen(p) >= outlen || hostport_list_parse(p, NULL, NULL) <= 0)
        return -1;
    snprintf(out, outlen, "%s", p);
    return 0;
}

jobs_gearman_t *jobs_gearman_open(const char *url, const char *ns, char *err, size_t errlen)
{
    jobs_gearman_t *g = xcalloc(1, sizeof(*g));
    if (parse(url, g->servers, sizeof(g->servers)) != 0) {
        snprintf(err, errlen, "bad job_server URL '%s' (expected off or gearman://HOST:PORT[,HOST:PORT...])", url);
        free(g);
        return NULL;
    }
    snprintf(g->fn, sizeof(g->fn), "picogram_jobs_v1_%s", ns);
    pthread_key_create(&g->key, free_client);
    return g;
}

void jobs_gearman_close(jobs_gearman_t *g)
{
    if (g == NULL)
        return;
    gearman_client_st *c = pthread_getspecific(g->key);
    if (c)
        gearman_client_free(c);
    pthread_key_delete(g->key);
    free(g);
}

bool jobs_gearman_up(jobs_gearman_t *g)
{
    return atomic_load(&g->down_until) == 0;
}

static void failed(jobs_gearman_t *g, const char *why)
{
    atomic_store(&g->down_until, mono_ms() + GEARMAN_RETRY_MS);
    if (!atomic_exchange(&g->warned, true))
        log_warn("gearmand (%s) cannot take jobs: %s; the runners' sweep runs them, and relays are tried again "
                 "every %d ms",
                 g->servers, why, GEARMAN_RETRY_MS);
}

int jobs_gearman_relay(jobs_gearman_t *g, const int64_t *ids, size_t n)
{
    int64_t until = atomic_load(&g->down_until);
    if (until != 0 && mono_ms() < until)
        return -1;
    gearman_client_st *c = pthread_getspecific(g->key);
    if (c == NULL) {
        if ((c = gearman_client_create(NULL)) == NULL)
            return -1;
        gearman_client_set_timeout(c, GEARMAN_TIMEOUT_MS);
        if (gearman_client_add_servers(c, g->servers) != GEARMAN_SUCCESS) {
            failed(g, gearman_client_error(c));
            gearman_client_free(c);
            return -1;
        }
        pthread_setspecific(g->key, c);
    }
    for (size_t i = 0; i < n; i++) {
        char id[24];
        int len = snprintf(id, sizeof(id), "%" PRId64, ids[i]);
        gearman_return_t rc = gearman_client_do_background(c, g->fn, id, id, (size_t)len, NULL);
        if (rc != GEARMAN_SUCCESS) {
            failed(g, gearman_client_error(c));
            /* a fresh connection next time */
            gearman_client_free(c);
            pthread_setspecific(g->key, NULL);
            return -1;
        }
    }
    atomic_store(&g->down_until, 0);
    if (atomic_exchange(&g->warned, false))
        log_info("gearmand (%s) takes jobs again", g->servers);
    return 0;
}

static void *on_job(gearman_job_st *job, void *context, size_t *result_size, gearman_return_t *ret)
{
    jobs_gearman_worker_t *w = context;
    char id[24];
    size_t len = gearman_job_workload_size(job);
    *result_size = 0;
    *ret = GEARMAN_SUCCESS; /* the row is the truth: whatever happens, the handed job is done */
    if (len == 0 || len >= sizeof(id))
        return NULL;
    memcpy(id, gearman_job_workload(job), len);
    id[len] = '\0';
    char *end;
    long long v = strtoll(id, &end, 10);
    if (*end == '\0' && v > 0)
        w->run(w->arg, (int64_t)v);
    return NULL;
}

jobs_gearman_worker_t *jobs_gearman_worker_new(jobs_gearman_t *g, jobs_gearman_run_fn run, void *arg)
{
    jobs_gearman_worker_t *w = xcalloc(1, sizeof(*w));
    w->g = g, w->run = run, w->arg = arg;
    w->w = gearman_worker_create(NULL);
    if (w->w == NULL || gearman_worker_add_servers(w->w, g->servers) != GEARMAN_SUCCESS ||
        gearman_worker_add_function(w->w, g->fn, 0, on_job, w) != GEARMAN_SUCCESS) {
        log_warn("gearman worker: %s", w->w ? gearman_worker_error(w->w) : "out of memory");
        jobs_gearman_worker_free(w);
        return NULL;
    }
    return w;
}

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int jobs_gearman_work(jobs_gearman_worker_t *w, int ms)
{
    int64_t t0 = mono_ms();
    gearman_worker_set_timeout(w->w, ms);
    gearman_return_t rc = gearman_worker_work(w->w);
    if (rc == GEARMAN_SUCCESS) {
        if (w->warned) {
            w->warned = false;
            log_info("gearman worker: gearmand (%s) reached again", w->g->servers);
        }
        return 1;
    }
    if (rc == GEARMAN_TIMEOUT || rc == GEARMAN_NO_JOBS || rc == GEARMAN_IO_WAIT)
        return 0;
    if (!w->warned) {
        w->warned = true;
        log_warn("gearman worker: %s; the outbox sweep runs the jobs meanwhile", gearman_worker_error(w->w));
    }
    int64_t left = ms - (mono_ms() - t0);
    if (left > 0) /* it failed at once: no busy loop */
        nap((int)left);
    return -1;
}

void jobs_gearman_worker_free(jobs_gearman_worker_t *w)
{
    if (w == NULL)
        return;
    if (w->w)
        gearman_worker_free(w->w);
    free(w);
}
