/*
 * The job queue's Gearman transport (jobs.h): gearmand carries committed
 * jobs from the process that wrote them to a runner of any process.
 *
 * DESIGN
 * The outbox stays the truth: a job is a row written in its cause's
 * transaction, and a runner leases, runs and deletes the row as before.
 * Gearman carries its ID. After a commit, jobs_kick relays the IDs this
 * thread enqueued as background jobs of one function (its name carries the
 * cluster's namespace, the ID is the unique key, so a job relayed twice is
 * queued once). A runner waits in gearman_worker_work, not on a timer, and
 * runs the job it is handed by ID, if the row is due and free (a row
 * already done, leased by another live process, or behind an older job of
 * its serial key is skipped: the handed job is done). So:
 * - delivery is at least once: a runner killed mid-job dies with its
 *   lease, and the row runs again when the lease expires; gearmand killed
 *   with jobs queued (its queue persists, in cluster.sh, in SQLite) or a
 *   relay that failed lose nothing either, because every runner also
 *   sweeps the outbox (JOBS_SWEEP_MS) for due rows, as the embedded runner
 *   does all the time;
 * - retries (due later) and the rest of a long job (JOB_CONTINUE) are
 *   found by the sweep, or run on by the runner that has them.
 * A gearmand that cannot be reached costs a relay GEARMAN_TIMEOUT_MS once,
 * then nothing for GEARMAN_RETRY_MS (the sweep runs the jobs meanwhile).
 */
#ifndef PICOGRAM_JOBS_GEARMAN_H
#define PICOGRAM_JOBS_GEARMAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GEARMAN_TIMEOUT_MS 500
#define GEARMAN_RETRY_MS 1000

typedef struct jobs_gearman jobs_gearman_t;

/* url: "gearman://HOST:PORT[,HOST:PORT...]"; ns: the cluster's namespace
 * (redis_namespace). NULL with a message in err if the URL is bad (an
 * unreachable gearmand is not an error). */
jobs_gearman_t *jobs_gearman_open(const char *url, const char *ns, char *err, size_t errlen);
/* After every thread that used it has stopped. */
void jobs_gearman_close(jobs_gearman_t *g);
/* Hands the IDs to gearmand, on this thread's connection. 0, or -1 if it
 * could not (the runners' sweep finds the rows). */
int jobs_gearman_relay(jobs_gearman_t *g, const int64_t *ids, size_t n);
/* Whether the last relay reached gearmand. */
bool jobs_gearman_up(jobs_gearman_t *g);

/* A runner's side: run(arg, id) is called for each job handed to it. */
typedef void (*jobs_gearman_run_fn)(void *arg, int64_t id);
typedef struct jobs_gearman_worker jobs_gearman_worker_t;
jobs_gearman_worker_t *jobs_gearman_worker_new(jobs_gearman_t *g, jobs_gearman_run_fn run, void *arg);
/* Waits at most ms for a job and runs it. 1 if one ran, 0 if none came,
 * -1 if gearmand cannot be reached (after at most ms). */
int jobs_gearman_work(jobs_gearman_worker_t *w, int ms);
void jobs_gearman_worker_free(jobs_gearman_worker_t *w);

#endif
