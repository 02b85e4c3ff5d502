/*
 * db: the database-driver interface, and the shard map above it.
 *
 * DESIGN
 * A driver is a const vtable (db_driver_t) chosen by the URL scheme of a
 * database ("sqlite:PATH" or "postgres://USER@HOST:PORT/DB"). Callers never see the
 * driver: they call the inline db_* wrappers below on a db_conn_t and a
 * db_stmt_t, whose first member points at the driver (the base-struct-first
 * pattern of h2o).
 *
 * Every query is prepared, once per connection, from the registry in
 * db/queries.h, where each query has an id and one SQL text written for
 * both dialects with $1, $2 ... placeholders (the SQLite driver rewrites them
 * to ?1, ?2), `{IDS $N}` for "is in the list of IDs bound to $N"
 * (db_bind_ids), and `{SHARD col}` for the logical shard of ID column col.
 * Drivers cache the prepared statement per id.
 *
 * Sharding: every ID carries a logical shard (core/ids.h). A dbmap maps the
 * 8192 logical shards onto physical databases by ranges; in the embedded
 * topology all of them map to the one SQLite file. A db_ctx_t holds one
 * thread's open connections; it is not thread safe: each thread (event loop
 * or worker) has its own.
 */
#ifndef PICOGRAM_DB_H
#define PICOGRAM_DB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/queries.h"

typedef struct db_conn db_conn_t;
typedef struct db_stmt db_stmt_t;
typedef struct db_driver db_driver_t;

enum { DB_OK = 0, DB_ROW = 1, DB_DONE = 2, DB_CONSTRAINT = 3, DB_ERROR = -1 };

struct db_driver {
    const char *scheme;          /* "sqlite" */
    const char *dialect_id_type; /* the column type of 64-bit IDs */
    const char *dialect_blob_type;
    const char *dialect_geo_index;         /* DDL of the geo index tables geo_media and geo_places */
    const char *dialect_shard_keys;        /* DDL of the shard columns and indexes (NULL: none) */
    const char *dialect_key_shards;        /* DDL of the indexes by shard of the hash-keyed tables (NULL: none) */
    const char *dialect_upsert_shard_keys; /* DDL making the upserted tables' shard indexes plain (NULL: none) */
    const char *dialect_app_shard_keys;    /* DDL of the shard columns of the OAuth tables (NULL: none) */
    bool remote;                           /* across a network: calls must not run on an event loop */
    bool snapshot;                         /* a request's reads share one read transaction (db_ctx_read_begin) */
    /* `target` is the URL without "scheme:". sync is "full" or "normal". */
    int (*open)(const char *target, const char *sync, db_conn_t **out, char *err, size_t errlen);
    void (*close)(db_conn_t *c);
    int (*exec)(db_conn_t *c, const char *sql, char *err, size_t errlen); /* scripts (migrations) */
    db_stmt_t *(*prepare)(db_conn_t *c, unsigned qid);                    /* cached; reset for reuse */
    void (*bind_i64)(db_stmt_t *s, int idx, int64_t v);
    void (*bind_text)(db_stmt_t *s, int idx, const char *p, size_t n);
    void (*bind_blob)(db_stmt_t *s, int idx, const void *p, size_t n);
    void (*bind_null)(db_stmt_t *s, int idx);
    void (*bind_double)(db_stmt_t *s, int idx, double v);
    void (*bind_ids)(db_stmt_t *s, int idx, const int64_t *ids, size_t n); /* for {IDS $N} */
    int (*step)(db_stmt_t *s); /* DB_ROW, DB_DONE, DB_CONSTRAINT or DB_ERROR */
    int64_t (*col_i64)(db_stmt_t *s, int col);
    double (*col_double)(db_stmt_t *s, int col);
    const char *(*col_text)(db_stmt_t *s, int col, size_t *len); /* valid until the next step */
    const void *(*col_blob)(db_stmt_t *s, int col, size_t *len);
    bool (*col_null)(db_stmt_t *s, int col);
    void (*reset)(db_stmt_t *s);   /* ends the statement's read; call after the rows you need */
    void (*release)(db_conn_t *c); /* resets every statement still open on c */
    int (*begin)(db_conn_t *c);    /* a write transaction */
    /* Inside a write transaction: waits until no other transaction holds
     * key, and holds it to the end of this one (SQLite: every write
     * transaction already excludes the others). DB_OK or DB_ERROR. */
    int (*lock)(db_conn_t *c, int64_t key);
    int (*commit)(db_conn_t *c);
    int (*rollback)(db_conn_t *c);
    const char *(*errmsg)(db_conn_t *c);
    int64_t (*changes)(db_conn_t *c); /* rows changed by the last statement */
    /* Write groups (db_group_begin); NULL where the driver has none. */
    int (*group_begin)(db_conn_t *c);
    bool (*group_more)(db_conn_t *c);
    void (*group_commit)(db_conn_t *c);
    int (*group_end)(db_conn_t *c);
};

struct db_conn {
    const db_driver_t *drv;
    uint32_t phys; /* its database's index in the map (set by db_physical), for the call timings */
    /* The open (or last) transaction failed on a conflict with another: a
     * deadlock, or a serialization failure. It did nothing; run afresh, it
     * may well succeed. Set by the driver, cleared by db_begin. */
    bool conflict;
};
struct db_stmt {
    const db_driver_t *drv;
    uint32_t phys; /* as its conn's (set by db_q) */
    bool started;  /* stepped since db_q or db_reset: the call is timed once, at its first step */
};

/* Call timings per physical database, for /metrics (off unless
 * db_timing_enable): how long each statement took to its first row or its
 * end (for PostgreSQL, the round trip with every row) and each commit.
 * Recorded in DB_TIMING_STRIPES stripes (by thread) of relaxed counters. */
#define DB_TIMING_MAX_DBS 64
#define DB_TIMING_BUCKETS 14
extern const double db_timing_bounds[DB_TIMING_BUCKETS]; /* seconds, ascending; then +Inf */
extern atomic_bool db_timing_on;                         /* read relaxed: a call begun as it is set may go untimed */
void db_timing_enable(void);
void db_timing_record(uint32_t phys, int64_t ns);
int64_t db_timing_now_ns(void);
typedef struct db_timing {
    uint64_t le[DB_TIMING_BUCKETS + 1]; /* cumulative counts, the last +Inf */
    uint64_t count;
    double sum_seconds;
} db_timing_t;
/* The totals for database phys so far. */
void db_timing_read(uint32_t phys, db_timing_t *out);

/* Wrappers. A statement is valid until the next db_q on the same conn and qid. */
static inline db_stmt_t *db_q(db_conn_t *c, unsigned qid)
{
    db_stmt_t *s = c->drv->prepare(c, qid);
    s->phys = c->phys;
    s->started = false;
    return s;
}
static inline void db_bind_i64(db_stmt_t *s, int i, int64_t v)
{
    s->drv->bind_i64(s, i, v);
}
static inline void db_bind_text(db_stmt_t *s, int i, const char *p, size_t n)
{
    s->drv->bind_text(s, i, p, n);
}
void db_bind_cstr(db_stmt_t *s, int i, const char *p);
static inline void db_bind_blob(db_stmt_t *s, int i, const void *p, size_t n)
{
    s->drv->bind_blob(s, i, p, n);
}
static inline void db_bind_null(db_stmt_t *s, int i)
{
    s->drv->bind_null(s, i);
}
static inline void db_bind_double(db_stmt_t *s, int i, double v)
{
    s->drv->bind_double(s, i, v);
}
static inline double db_col_double(db_stmt_t *s, int c)
{
    return s->drv->col_double(s, c);
}
static inline bool db_col_null(db_stmt_t *s, int c)
{
    return s->drv->col_null(s, c);
}
static inline void db_bind_ids(db_stmt_t *s, int i, const int64_t *ids, size_t n)
{
    s->drv->bind_ids(s, i, ids, n);
}
static inline int db_step(db_stmt_t *s)
{
    if (!atomic_load_explicit(&db_timing_on, memory_order_relaxed) || s->started)
        return s->drv->step(s);
    s->started = true;
    int64_t t0 = db_timing_now_ns();
    int rc = s->drv->step(s);
    db_timing_record(s->phys, db_timing_now_ns() - t0);
    return rc;
}
static inline int64_t db_col_i64(db_stmt_t *s, int c)
{
    return s->drv->col_i64(s, c);
}
static inline const char *db_col_text(db_stmt_t *s, int c, size_t *len)
{
    return s->drv->col_text(s, c, len);
}
static inline const void *db_col_blob(db_stmt_t *s, int c, size_t *len)
{
    return s->drv->col_blob(s, c, len);
}
/* Ends a statement whose rows you have read: an open statement holds a read
 * snapshot, which blocks WAL checkpoints and can make a later write on the
 * same connection fail. Every model function resets what it stepped. */
static inline void db_reset(db_stmt_t *s)
{
    s->started = false;
    s->drv->reset(s);
}
static inline int db_begin(db_conn_t *c)
{
    c->conflict = false;
    return c->drv->begin(c);
}
/* Serializes the writers of one thing (what, a, b; `what` may be any text,
 * a tag's name say) on c's database, within
 * the open write transaction: a check-then-write stays correct when
 * transactions run at once (PostgreSQL's READ COMMITTED). */
int db_lock(db_conn_t *c, const char *what, int64_t a, int64_t b);
static inline int db_commit(db_conn_t *c)
{
    if (!atomic_load_explicit(&db_timing_on, memory_order_relaxed))
        return c->drv->commit(c);
    int64_t t0 = db_timing_now_ns();
    int rc = c->drv->commit(c);
    db_timing_record(c->phys, db_timing_now_ns() - t0);
    return rc;
}
static inline int db_rollback(db_conn_t *c)
{
    return c->drv->rollback(c);
}
/* Copies a text column into out (cap bytes, NUL-terminated, truncating). */
void db_col_copy(db_stmt_t *s, int col, char *out, size_t cap);
/* Reads column 0 of up to limit rows into out, then resets s. DB_DONE or DB_ERROR. */
int db_read_ids(db_stmt_t *s, int limit, int64_t *out, int *n);
/* The same for columns 0 and 1 into a and b (b may be NULL: column 0 only). */
int db_read_id_pairs(db_stmt_t *s, int limit, int64_t *a, int64_t *b, int *n);
/* Runs a statement that returns no rows; DB_DONE, DB_CONSTRAINT or DB_ERROR. */
int db_exec_stmt(db_stmt_t *s);

/* --- drivers --- */
extern const db_driver_t db_driver_sqlite;
extern const db_driver_t db_driver_postgres;
/* SQLite: what this process's writer did on c's database: the write ops
 * committed, in how many batches (group commits), and the fdatasyncs of the
 * WAL it made for them (sqlite_sync = full; SQLite's own, in checkpoints
 * and solo writes, are not counted). False for other drivers. */
typedef struct db_sqlite_writes {
    uint64_t ops, batches, syncs;
    double sync_seconds;       /* the syncs' time in all */
    uint64_t sync_failed;      /* 1: one failed, and every write on the database fails until a restart */
    uint64_t checkpoints;      /* the writer's checkpointer copied the whole WAL back, this often */
    uint64_t checkpoint_locks; /* it took the writer's mutex to copy the last frames, this often */
    uint64_t checkpoints_quick; /* of the checkpoints, those that found nothing left to copy under it */
    uint64_t wal_pages;        /* the WAL's pages after the last commit (0 after a checkpoint) */
    /* the writer's lock: taken this often (by ops, solo writes and the
     * checkpointer), held this long in all (its rate: how busy the lock is;
     * near 1, writes queue), and waited for this long in all */
    uint64_t lock_takes;
    double lock_seconds, lock_wait_seconds;
} db_sqlite_writes_t;
bool db_sqlite_writes(db_conn_t *c, db_sqlite_writes_t *out);
/* SQLite: how long a batch stays open for more ops (default 1 ms), in this
 * process; for tests. */
void db_sqlite_batch_window(uint64_t ns);
/* Whether a statement on this thread failed because a database could not
 * be reached (then the request answers 503, not 500); cleared by the
 * caller, at the start of each request. */
bool db_unavailable(void);
void db_unavailable_clear(void);
void db_unavailable_note(void); /* sets it on this thread (for an answer made apart from the work) */
const db_driver_t *db_driver_for(const char *url, const char **target);

/* --- shard map --- */
typedef struct dbmap dbmap_t;

/* spec: "URL" (all shards) or "LO-HI=URL;LO-HI=URL;..." covering 0..8191. */
dbmap_t *dbmap_new(const char *spec, const char *sync, char *err, size_t errlen);
void dbmap_free(dbmap_t *m);
size_t dbmap_count(const dbmap_t *m); /* physical databases */
/* The shard map's ranges, in order: range i is [*lo, *hi] on database *db.
 * False past the last. */
bool dbmap_range(const dbmap_t *m, size_t i, unsigned *lo, unsigned *hi, size_t *db);
/* Whether any database is across a network (calls to it block for a round trip). */
bool dbmap_blocking(const dbmap_t *m);
const char *dbmap_url(const dbmap_t *m, size_t i);
#define DBMAP_MAX_URLS 64
/* Puts the shards where spec says (a logical shard moved: the map of
 * shard_maps, epoch); databases new to m are appended. 0, or -1 with err
 * (m unchanged). Thread safe against readers. */
int dbmap_apply(dbmap_t *m, const char *spec, int64_t epoch, char *err, size_t errlen);
int64_t dbmap_epoch(const dbmap_t *m); /* 0: the settings' map */
size_t dbmap_db_of(const dbmap_t *m, unsigned shard);
/* The map as a spec, with the shards lo..hi on url instead (malloc'd): a move's next map. */
char *dbmap_spec_moved(const dbmap_t *m, unsigned lo, unsigned hi, const char *url);
/* The map in the database (shard_maps, on the settings' first database),
 * if it is newer than m's: applied. 1 if it changed m, 0 if not, -1 with
 * err if it could not be read. */
int dbmap_load(dbmap_t *m, char *err, size_t errlen);
/* A thread that keeps m up to date while servers run: it reads the map's
 * epoch every second, or at once after db_map_stale_note (a write refused
 * by a fence: the shard has moved). Only for maps across a network. */
void dbmap_watch_start(dbmap_t *m);
void dbmap_watch_stop(void);
void db_map_stale_note(void);
/* url as it may be shown: without a password (in the authority or the query). */
void db_url_redacted(const char *url, char *out, size_t cap);

typedef struct db_ctx db_ctx_t;

db_ctx_t *db_ctx_new(const dbmap_t *m);
void db_ctx_free(db_ctx_t *x);
/* The connection holding a logical shard (opened on first use); NULL on error. */
db_conn_t *db_shard(db_ctx_t *x, unsigned shard);
/* The logical shards in use: IDs and keys are placed on 0 .. shards-1. */
unsigned db_shards(const db_ctx_t *x);
/* The logical shard of index data placed by the hash of a key (usernames,
 * tags, place names), and its connection. */
unsigned db_key_shard(const db_ctx_t *x, const char *key, size_t n);
/* The same for a map of nshards logical shards in use. */
unsigned db_key_shard_of(const char *key, size_t n, unsigned nshards);
db_conn_t *db_for_key(db_ctx_t *x, const char *key, size_t n);
size_t db_count(const db_ctx_t *x);
/* Wraps a request's reads in one read transaction per database it touches
 * (begun on its first use: one snapshot, one lock round trip instead of one
 * per statement), for drivers that want it (SQLite). Only for threads that
 * do not write (the event loops). */
void db_ctx_read_begin(db_ctx_t *x);
void db_ctx_read_end(db_ctx_t *x);
/* An event loop's context, when the databases are across a network: no
 * connection is ever opened; asking for one gives NULL and marks
 * db_ctx_would_block, so a request that needs a database can be handed to
 * a worker (http/dispatch.c). */
void db_ctx_forbid(db_ctx_t *x);
bool db_ctx_would_block(db_ctx_t *x);
/* Whether work on x may make a network round trip of its own (to Redis):
 * not on a forbidden context, which this marks would_block instead. */
bool db_ctx_may_block(db_ctx_t *x);
void db_ctx_clear_would_block(db_ctx_t *x);
/* Resets every open statement on every connection of x: the safety net run
 * after each request and each piece of worker-pool work. */
void db_ctx_release(db_ctx_t *x);
/* The i-th physical database, for work that visits each (migrations, search). */
db_conn_t *db_physical(db_ctx_t *x, size_t i);

/* --- write groups ---
 * Several write transactions of one thread, from different requests, run
 * as one batch on x's database: db_group_begin takes the database's write
 * lock once for all of them, each transaction in between (db_begin ..
 * db_commit) is a savepoint in the batch, db_group_commit commits the batch
 * and lets the lock go, and db_group_end makes it durable. A transaction
 * that fails rolls back only itself, but none is done (committed, durable)
 * until db_group_end returns DB_OK; if it does not, none is, and each may
 * be run again alone. Reads outside the transactions see none of the
 * group's writes until its end.
 * Only where x has one database whose driver has them (SQLite): else
 * db_group_begin returns false and nothing is grouped. Inside a group, a
 * write outside a transaction fails. */
bool db_group_supported(db_ctx_t *x);
bool db_group_begin(db_ctx_t *x);
/* Whether the group's batch may take another transaction (not too many,
 * not open too long, not lost). */
bool db_group_more(db_ctx_t *x);
void db_group_commit(db_ctx_t *x);
/* DB_OK: every transaction of the group that committed is durable. Then,
 * whatever the outcome, runs what db_after_commit deferred. */
int db_group_end(db_ctx_t *x);
/* Runs fn(arg) once this thread's writes so far are committed: now, or,
 * inside a group, at db_group_end (cache drops, wake-ups of readers of what
 * was written). */
void db_after_commit(void (*fn)(int64_t arg), int64_t arg);

/* --- schema --- */
/* Brings one physical database up to the newest schema. Returns 0, or -1 with err. */
int db_migrate(db_conn_t *c, int *from, int *to, char *err, size_t errlen);
/* The same, up to version `target` only (tests of a migration's data steps). */
int db_migrate_to(db_conn_t *c, int target, int *from, int *to, char *err, size_t errlen);
int db_schema_version(db_conn_t *c);
int db_schema_latest(void);
/* Whether every database of map has this binary's schema: 0, or -1 with a
 * one-line err naming the database and what to do. */
int db_check_schemas(const dbmap_t *map, char *err, size_t errlen);

#endif
