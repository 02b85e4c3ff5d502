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
    work_t *ghead, *gtail; /* work for write groups (WRITE GROUPS, workpool.h) */
    bool grouping;         /* the database can run write groups */
    bool grunning;         /* a thread is running a group's transactions */
    size_t queued, max_queued;
    uint64_t taken, waited_us; /* work a thread took, and how long it had waited in all */
    uint64_t groups, grouped;
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

enum { GROUP_MAX = 64 }; /* runs in one group, at most (the batch's own limits apply too) */

/* Takes the next work of a queue (under lock), counting its wait. */
static work_t *take(workpool_t *p, work_t **head, work_t **tail)
{
    work_t *w = *head;
    if (w == NULL)
        return NULL;
    *head = w->next;
    if (*head == NULL)
        *tail = NULL;
    w->next = NULL;
    p->queued--;
    int64_t wait = ids_mono_us() - w->queued_at;
    p->taken++;
    p->waited_us += wait > 0 ? (uint64_t)wait : 0;
    return w;
}

static bool group_ready(const workpool_t *p)
{
    return p->ghead != NULL && !p->grunning;
}

static void finish(work_t *w, worker_ctx_t *wc)
{
    if (w->after)
        w->after(w, wc);
    h2o_multithread_send_message(w->reply_to, &w->super);
}

/* Runs the group work waiting as one write group (db.h), and more that
 * comes while the batch may take it. Called under p->lock with grunning
 * set; returns without the lock. */
static void run_group(workpool_t *p, worker_ctx_t *wc)
{
    work_t *w = take(p, &p->ghead, &p->gtail), *first = NULL, **tail = &first;
    if (p->head != NULL) /* this thread may have been woken for it: another takes it */
        pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    bool grouped = db_group_begin(wc->db);
    int n = 0;
    while (w != NULL) {
        w->run(w, wc);
        *tail = w;
        tail = &w->next;
        if (!grouped || ++n >= GROUP_MAX || !db_group_more(wc->db))
            break;
        pthread_mutex_lock(&p->lock);
        w = take(p, &p->ghead, &p->gtail);
        pthread_mutex_unlock(&p->lock);
    }
    if (grouped)
        db_group_commit(wc->db);
    /* the next group may begin, on another thread, while this one syncs */
    pthread_mutex_lock(&p->lock);
    p->grunning = false;
    if (grouped) {
        p->groups++;
        p->grouped += (uint64_t)n;
    }
    if (p->ghead != NULL)
        pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    int rc = grouped ? db_group_end(wc->db) : DB_OK;
    for (work_t *next; first != NULL; first = next) {
        next = first->next;
        if (rc != DB_OK)
            first->run(first, wc); /* its batch did not commit: again, alone, for its own outcome */
        finish(first, wc);
    }
}

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
        while (p->head == NULL && !group_ready(p) && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (group_ready(p)) {
            p->grunning = true;
            run_group(p, wc);
            continue;
        }
        work_t *w = take(p, &p->head, &p->tail);
        if (w == NULL) {
            pthread_mutex_unlock(&p->lock);
            if (p->thread_exit)
                p->thread_exit();
            break; /* stopping and drained (a group's runner drains its queue) */
        }
        pthread_mutex_unlock(&p->lock);
        w->run(w, wc);
        finish(w, wc);
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
    p->grouping = nthreads > 0 && db_group_supported(p->ctxs[0].db);
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
    work_t **head = &p->head, **tail = &p->tail;
    if (w->group && p->grouping)
        head = &p->ghead, tail = &p->gtail;
    if (*tail)
        (*tail)->next = w;
    else
        *head = w;
    *tail = w;
    p->queued++;
    if (head == &p->head || !p->grunning) /* else the group's runner takes it */
        pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

workpool_stats_t workpool_stats(workpool_t *p)
{
    pthread_mutex_lock(&p->lock);
    workpool_stats_t st = {
        .queued = p->queued, .taken = p->taken, .waited_us = p->waited_us, .groups = p->groups, .grouped = p->grouped};
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
