/*
 * jobs: the job queue interface, and its embedded backend.
 *
 * DESIGN
 * A job is a kind and a text payload. It is written to the `jobs` outbox
 * table by jobs_enqueue, inside the transaction of the write that causes it,
 * so an acknowledged write never loses its side effects: if the transaction
 * commits, so does the job; if the process dies, the job is still there.
 *
 * Runner threads (jobq_start) take due jobs, lease them (for JOBS_LEASE_MS), and
 * run the handler registered for the kind. A handler is idempotent (a job
 * may run twice: killed after its effect, before its delete) and answers:
 *   JOB_DONE      the job is deleted;
 *   JOB_CONTINUE  it made progress and saved it in the payload (a long
 *                 fan-out in batches); it runs again at once, from there;
 *   JOB_RETRY     it failed; it runs again after a backoff (1 s, 2 s, 4 s
 *                 ... at most 5 min); after JOBS_MAX_ATTEMPTS it is kept,
 *                 marked dead, for an operator. A failure because a
 *                 database could not be reached (db_unavailable) counts
 *                 no attempt: the job waits JOBS_WAIT_MS and tries again,
 *                 for as long as the outage lasts.
 * Jobs with a serial key run one at a time, in the order they were made
 * (jobs_enqueue_serial); the others in any order, as runners free up.
 * A lease has an owner (a process, model/nodes.h) and an expiry
 * (JOBS_LEASE_MS): no process takes a job another live one holds, and a
 * job whose process died runs again once its lease expires (or at once,
 * when a process takes over the dead one's node).
 * With Gearman (jobs_use_gearman; jobs/gearman.h), jobs_enqueue still
 * writes the outbox, jobs_kick relays the committed rows' IDs to gearmand,
 * and runners run what it hands them, sweeping the outbox every
 * JOBS_SWEEP_MS for what it could not (the embedded runners sweep every
 * 200 ms, and at once on a kick).
 */
#ifndef PICOGRAM_JOBS_H
#define PICOGRAM_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

#define JOBS_MAX_ATTEMPTS 10
#define JOBS_LEASE_MS 60000
#define JOBS_WAIT_MS 2000
#define JOBS_SWEEP_MS 1000
#define JOB_PAYLOAD_MAX 512

enum { JOB_DONE = 0, JOB_CONTINUE = 1, JOB_RETRY = -1 };

typedef int (*job_fn)(db_ctx_t *db, char *payload /* JOB_PAYLOAD_MAX+1, may be rewritten */, void *ctx);

typedef struct job_handler {
    const char *kind;
    job_fn run;
    void *ctx; /* passed to run; NULL: the queue's ctx */
} job_handler_t;

/* Within the caller's open transaction on c. Returns DB_DONE or DB_ERROR.
 * The job's row is on c's database, its ID made on `shard`: its cause's
 * (the media or user it is about), so a job moves with its shard. */
int jobs_enqueue(db_conn_t *c, unsigned shard, const char *kind, const char *payload);
/* The same, due at run_at_ms (unix milliseconds): a periodic job enqueues its next run. */
int jobs_enqueue_at(db_conn_t *c, const char *kind, const char *payload, int64_t run_at_ms);
/* The same, with the job's ID made on `shard` (its cause's) and given back. */
int jobs_enqueue_ex(db_conn_t *c, const char *kind, const char *payload, int64_t run_at_ms, unsigned shard,
                    int64_t *id);
/* The same, in order with every job of the same serial key (not 0): it
 * runs only once every older live job of that key is done, so two jobs
 * about one thing (a follow's backfill, the unfollow's removal) never run
 * at once or out of order, on any number of runners. The key's jobs must
 * be on one database (made on the same shard). */
int jobs_enqueue_serial(db_conn_t *c, unsigned shard, const char *kind, const char *payload, int64_t serial);
/* A job run to its end outside the runner (a far effect run inline): its row
 * goes. Best effort: if this fails, the runner runs it again (handlers are
 * idempotent). */
void jobs_finish(db_conn_t *c, int64_t id);
/* A job run part way outside the runner: its progress is saved and it is due now. */
void jobs_resume(db_conn_t *c, int64_t id, const char *payload);
/* Jobs of a kind not yet done (dead ones excluded) on c; -1 on error. */
long jobs_live(db_conn_t *c, const char *kind);
/* Wakes the runners (after a commit that enqueued), and with Gearman
 * relays the jobs this thread enqueued. Thread safe. */
void jobs_kick(void);
/* Relays jobs through g from now on (NULL: none), and makes the runners
 * started after this Gearman workers. Before any thread enqueues. */
struct jobs_gearman;
void jobs_use_gearman(struct jobs_gearman *g);

typedef struct jobq jobq_t;

/* The process the runners lease jobs for: its owner ID, and whether it may
 * run jobs now (its ID node's lease holds). */
typedef struct jobq_owner {
    int64_t id;
    bool (*ok)(void *arg);
    void *arg;
} jobq_owner_t;

jobq_t *jobq_start(const dbmap_t *map, int nthreads, const job_handler_t *handlers, size_t n, void *ctx,
                   jobq_owner_t owner);
/* Stops the runners after the jobs they are running. */
void jobq_stop(jobq_t *q);
/* What the runners of q made of the jobs of handler i (an index of
 * jobq_start's handlers) since they started. Thread safe. */
enum { JOBQ_DONE, JOBQ_CONTINUED, JOBQ_RETRIED, JOBQ_WAITED, JOBQ_DIED, JOBQ_NOUTCOMES };
void jobq_counts(jobq_t *q, size_t i, uint64_t out[JOBQ_NOUTCOMES]);

/* The outbox of one database, by kind, at now_ms: jobs not dead, due and
 * waiting for a runner, leased by one (running), the oldest due job's
 * run_at (0 if none is due), and dead jobs. fn is called once per kind
 * present. 0, or -1 if the database could not answer. */
typedef struct jobs_kind_stats {
    long live, due, running, dead;
    int64_t oldest_due_ms;
} jobs_kind_stats_t;
int jobs_stats(db_conn_t *c, int64_t now_ms, void (*fn)(const char *kind, const jobs_kind_stats_t *st, void *arg),
               void *arg);
/* Jobs not yet done (dead ones excluded), across every database; -1 on error. */
long jobs_pending(db_ctx_t *db);

#endif
