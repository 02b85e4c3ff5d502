/*
 * workpool: threads for slow work (password hashing, image processing),
 * so that nothing slow runs on an event-loop thread.
 *
 * DESIGN
 * A loop thread fills a work_t and submits it. A worker thread takes it
 * from a bounded FIFO queue and calls run() with its own worker context
 * (its own database connections). When run() returns, the work is sent
 * back through h2o's multithread queue to the receiver of the loop that
 * submitted it, and done() runs there, on that loop thread. run() must not
 * touch loop-owned state (h2o requests, pools); done() may.
 *
 * The queue is bounded: submit fails when it is full, so the caller can
 * answer 503 instead of queueing without limit.
 *
 * WRITE GROUPS
 * Work marked `group` is one write transaction (run) and what must follow
 * its commit (after: cache drops, reads of what it wrote). Where the
 * database can (db_group_supported: SQLite), such work waits in a queue
 * of its own, and one thread at a time runs what is there as a write
 * group (db.h): every run in one batch under one hold of the database's
 * write lock, then one commit, then each after() and its answer. The next
 * group begins on another thread while this one's commit is made durable.
 * If a group's batch does not commit, each of its runs is made again
 * alone, so each answers its own outcome. Elsewhere (PostgreSQL) the work
 * runs as any other, run() then after().
 */
#ifndef PICOGRAM_WORKPOOL_H
#define PICOGRAM_WORKPOOL_H

#define H2O_USE_LIBUV 0
#include <h2o.h>

#include "db/db.h"

typedef struct workpool workpool_t;

typedef struct worker_ctx {
    db_ctx_t *db;
    int index;
} worker_ctx_t;

typedef struct work work_t;
struct work {
    h2o_multithread_message_t super;          /* must be first: h2o links it back to the loop */
    void (*run)(work_t *w, worker_ctx_t *wc); /* on a worker thread */
    void (*done)(work_t *w);                  /* on the submitting loop thread */
    void (*after)(work_t *w, worker_ctx_t *wc); /* optional: on the worker, once run's writes are durable */
    bool group;                                 /* run may share a write group (WRITE GROUPS) */
    h2o_multithread_receiver_t *reply_to;
    work_t *next;
    int64_t queued_at; /* monotonic microseconds: when it was submitted */
};

/* thread_start and thread_exit (both optional) run on each worker thread as
 * it starts and ends. */
workpool_t *workpool_new(int nthreads, size_t max_queued, const dbmap_t *dbmap, void (*thread_start)(void),
                         void (*thread_exit)(void));
/* Stops after the queued work has run. done() callbacks still arrive on their loops. */
void workpool_free(workpool_t *p);
/* Returns 0, or -1 if the queue is full. Thread safe. */
int workpool_submit(workpool_t *p, work_t *w);
typedef struct workpool_stats {
    size_t queued;      /* waiting now */
    uint64_t groups;    /* write groups run, since the start, and the work in them */
    uint64_t grouped;
    uint64_t taken;     /* taken by a thread, since the start */
    uint64_t waited_us; /* how long those waited, in all */
} workpool_stats_t;
/* Thread safe. */
workpool_stats_t workpool_stats(workpool_t *p);
/* Receiver callback to register on each loop's multithread queue. */
void workpool_on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

#endif
