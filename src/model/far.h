/*
 * far: the effects of a write on other shards.
 *
 * DESIGN
 * A write changes the rows that are the truth of something on one shard
 * (the primary: a user's "following" row, a like on the photo's shard, a
 * comment) in one transaction. What mirrors that truth elsewhere (the
 * followee's "followers" row and counter, the liker's "liked" list,
 * mention news, the tag and place indexes, the celebrity list) is a far
 * effect, named by a kind and a payload ("edge A B", "liked U M" ...).
 *
 * A far effect is a reconcile, never a delta: its handler takes a lock on
 * the far database for the thing it mirrors (db_lock), reads the truth as
 * it is now from the primary's shard, and makes the mirror match (with
 * counters moved by the difference between the mirror's old and new
 * state). So a handler can run any number of times, in any order with
 * others of the same key, and the last run leaves the mirror right: every
 * change of the truth enqueues a run after it commits.
 *
 * far_do is called inside the primary's transaction. If the far side is on
 * the same database (always, embedded), the handler runs at once in that
 * transaction: one commit, exactly as before. Otherwise it becomes an
 * outbox job in the primary's transaction (so a crash loses none), due
 * FAR_GRACE_MS later; after the commit, far_flush runs it at once (its own
 * transaction on the far database) and deletes the job, so the writer reads
 * its own write. If that run fails or the process dies, the job runner runs
 * it when it comes due.
 *
 * A transaction never spans databases: a handler's own writes are on its
 * far database only, and the effects it causes in turn go through far_do.
 */
#ifndef PICOGRAM_FAR_H
#define PICOGRAM_FAR_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"
#include "jobs/jobs.h"

#define FAR_GRACE_MS 2000 /* a far job's runner waits this long for the inline run */
#define FAR_PENDING_MAX 128
#define FAR_FEEDS_MAX 4
#define FAR_TRIES 4 /* runs of a transaction that conflicted with another (far_again) */

typedef struct far_pending {
    db_conn_t *c; /* where the job row is */
    int64_t job_id;
    char kind[24];
    char payload[JOB_PAYLOAD_MAX + 1];
} far_pending_t;

/* A write in progress: its database session, its open transaction's
 * connection (NULL outside one), and the far jobs to run after the commit. */
typedef struct far {
    db_ctx_t *db;
    db_conn_t *tx;
    bool owned; /* a handler's own context (far_enter): far_leave ends its transaction */
    bool conflict; /* the transaction far_end ended was rolled back on a conflict (db_conn_t) */
    struct far *up; /* an own context's caller: its conflict is the caller's too */
    unsigned shard; /* the logical shard the transaction was begun for: far jobs go on it */
    int npending;
    bool overflow; /* more than FAR_PENDING_MAX: the rest are left to the runner */
    int nfeeds;
    int64_t feeds[FAR_FEEDS_MAX]; /* users whose timelines changed here: cached heads go after the commit */
    far_pending_t pending[FAR_PENDING_MAX];
} far_t;

void far_init(far_t *f, db_ctx_t *db);

/* In f's transaction: user's timeline changed in it (timeline_follow); its
 * cached head goes after the commit (timeline_follow_done). */
void far_feed_changed(far_t *f, int64_t user);

/* Begins a transaction on the shard's database: DB_OK or DB_ERROR. */
int far_begin(far_t *f, unsigned shard);
/* Commits (rc == 0) or rolls back the transaction, then, after a commit,
 * runs the far jobs it enqueued (far_flush). Returns rc, or -1 if the
 * commit failed. */
int far_end(far_t *f, int rc);

/* Whether the transaction f ended (far_end) was rolled back on a conflict
 * with another one (PostgreSQL's deadlock detector chose it) and may run
 * again: false after FAR_TRIES runs, *tries counting them. A write runs
 * its whole transaction again while this holds:
 *     int tries = 0;
 *     do rc = write_once(&f, ...); while (far_again(&f, &tries));
 * A rolled-back run did nothing, so running it again is safe. */
bool far_again(far_t *f, int *tries);

/* Inside f's transaction: the far effect `kind payload` whose far side is
 * on `shard` (FAR_ALL_SHARDS: every database), now or after the commit.
 * DB_DONE or DB_ERROR. */
#define FAR_ALL_SHARDS 0xffffffffu
int far_do(far_t *f, const char *kind, unsigned shard, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Runs the pending far jobs (after their transaction committed). */
void far_flush(far_t *f);
/* Whether far_flush runs them (the default), or leaves them to the job
 * runner (fault drills: a crash between a write and its far effects). */
void far_set_inline(bool on);

/* ---- for handlers ---- */

/* A handler runs in the context it is given: inside the primary's
 * transaction (when its far side is on that database), or with no
 * transaction open (from far_flush or the job runner). It opens its working
 * context with far_enter and ends it with far_leave. Returns JOB_DONE,
 * JOB_CONTINUE (progress saved in payload, JOB_PAYLOAD_MAX) or JOB_RETRY. */
typedef int (*far_fn)(far_t *f, char *payload);

/* The handler's working context on `shard`'s database: f itself if f's
 * transaction is on it, else `own`, with a transaction of its own begun.
 * NULL on error. */
far_t *far_enter(far_t *f, unsigned shard, far_t *own);
/* Ends what far_enter began: an own transaction commits if rc is JOB_DONE
 * or JOB_CONTINUE (then its far jobs run), else rolls back. Returns rc, or
 * JOB_RETRY if the commit failed. */
int far_leave(far_t *h, int rc);

/* The far effects, by kind: the job runner's handlers too. */
typedef struct far_kind {
    const char *kind;
    far_fn fn;
} far_kind_t;
extern far_kind_t far_kinds[]; /* never written: not const only to be a job's ctx */
extern const size_t far_kind_count;
/* Job handlers for every far kind (ctx: its far_kind_t), for the runner. */
void far_job_handlers(job_handler_t *out, size_t *n);

#endif
