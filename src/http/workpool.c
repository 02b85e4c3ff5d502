#include "http/workpool.h"
#include "core/buf.h"
#include "core/ids.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct workpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    work_t *head, *tail;
    size_t queued, max_queued;
    uint64_t taken, waited_us; /* work a thread took, and how long it had waited in all */
    bool stopping;
    int nthreads;
    pthread_t *tids;
    worker_ctx_t *ctxs;
    void (*thread_start)(void);
    void (*thread_exit)(void);
};

typedef struct start_arg {
    workpool_t *pool;
    worker_ctx_t *ctx;
} start_arg_t;

static void *worker_main(void *arg)
{
    start_arg_t *sa = arg;
    workpool_t *p = sa->pool;
    worker_ctx_t *wc = sa->ctx;
    free(sa);
    if (p->thread_start)
        p->thread_start();
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        work_t *w = p->head;
        if (w == NULL) {
            pthread_mutex_unlock(&p->lock);
            if (p->thread_exit)
                p->thread_exit();
            break; /* stopping and drained */
        }
        p->head = w->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        int64_t wait = ids_mono_us() - w->queued_at;
        p->taken++;
        p->waited_us += wait > 0 ? (uint64_t)wait : 0;
        pthread_mutex_unlock(&p->lock);
        w->run(w, wc);
        h2o_multithread_send_message(w->reply_to, &w->super);
    }
    return NULL;
}

workpool_t *workpool_new(int nthreads, size_t max_queued, const dbmap_t *dbmap, void (*thread_start)(void),
                         void (*thread_exit)(void))
{
    workpool_t *p = xcalloc(1, sizeof(*p));
    p->thread_start = thread_start;
    p->thread_exit = thread_exit;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->max_queued = max_queued;
    p->nthreads = nthreads;
    p->tids = xcalloc((size_t)nthreads, sizeof(pthread_t));
    p->ctxs = xcalloc((size_t)nthreads, sizeof(worker_ctx_t));
    for (int i = 0; i < nthreads; i++) {
        p->ctxs[i].db = db_ctx_new(dbmap);
        p->ctxs[i].index = i;
        start_arg_t *sa = xmalloc(sizeof(*sa));
        sa->pool = p, sa->ctx = &p->ctxs[i];
        h2o_multithread_create_thread(&p->tids[i], NULL, worker_main, sa);
    }
    return p;
}

void workpool_free(workpool_t *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++) {
        pthread_join(p->tids[i], NULL);
        db_ctx_free(p->ctxs[i].db);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->tids);
    free(p->ctxs);
    free(p);
}

int workpool_submit(workpool_t *p, work_t *w)
{
    w->next = NULL;
    memset(&w->super, 0, sizeof(w->super));
    w->queued_at = ids_mono_us();
    pthread_mutex_lock(&p->lock);
    if (p->queued >= p->max_queued || p->stopping) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    if (p->tail)
        p->tail->next = w;
    else
        p->head = w;
    p->tail = w;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

workpool_stats_t workpool_stats(workpool_t *p)
{
    pthread_mutex_lock(&p->lock);
    workpool_stats_t st = {.queued = p->queued, .taken = p->taken, .waited_us = p->waited_us};
    pthread_mutex_unlock(&p->lock);
    return st;
}

void workpool_on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        work_t *w = H2O_STRUCT_FROM_MEMBER(work_t, super.link, messages->next);
        h2o_linklist_unlink(&w->super.link);
        w->done(w);
    }
}
