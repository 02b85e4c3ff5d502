/*
 * The SQLite driver: the embedded topology's database.
 *
 * One connection per thread (opened with SQLITE_OPEN_NOMUTEX) for reads, WAL
 * mode so readers never wait for the writer, and statements prepared once
 * per connection with SQLITE_PREPARE_PERSISTENT.
 *
 * WRITES: ONE WRITER PER DATABASE, WITH GROUP COMMIT
 * SQLite has one write lock per database. Threads that each took it with
 * BEGIN IMMEDIATE waited in SQLite's busy handler, which sleeps (1, 2, 5 ...
 * 100 ms) rather than queues: under load a like waited most of a second.
 * Instead, every database opened by this process has one sq_writer_t: one
 * write connection, and a mutex (`op`) that a write transaction ("op")
 * holds from db_begin to db_commit or db_rollback. While it holds it, the
 * thread's db_conn_t sends every statement to the write connection (act()).
 *
 * An op runs inside a SAVEPOINT of a batch transaction that stays open while
 * other ops wait for the mutex: when an op ends and another waits (`want`),
 * it leaves the batch open, hands the mutex on and sleeps until the batch
 * ends; the op that finds nobody waiting, the batch full or older than its
 * window (1 ms) commits the whole batch, one commit (and with
 * synchronous=FULL one fsync) for all of them, and wakes each with the
 * outcome. So a 2xx still follows the commit of its write, and a short op
 * waits behind long ones (a follow copying photos into a timeline) for
 * about one op at most. An op that fails rolls back to its savepoint: only
 * itself.
 * If SQLite rolls the whole transaction back (an I/O error), every op of the
 * batch is told it failed, and none of them has answered yet.
 *
 * WRITE GROUPS
 * Each op on a thread of its own costs two hand-offs of the mutex: the
 * thread that lets it go sleeps until its batch ends, and the next one is
 * woken to run. A group runs the ops of many requests on one thread
 * instead (http/workpool.c): db_group_begin takes the mutex once,
 * each op's db_begin and db_commit in between are only a SAVEPOINT and its
 * RELEASE in the batch, db_group_commit commits the batch and lets go, and
 * db_group_end makes it durable and says whether it committed. An op that
 * fails still rolls back only itself; nothing an op of the group did is
 * done until db_group_end says DB_OK, so what must follow a commit (cache
 * drops, wake-ups: db_after_commit) waits until then. A write outside a
 * transaction in a group is refused: it would wait for the group's own
 * lock.
 *
 * THE WAL'S WRITES
 * The write connection opens its database through db/walbuf.c's VFS,
 * which holds a commit's WAL frames until the commit frame and writes them
 * in one pwrite per 124 KiB, where SQLite would make two a frame.
 *
 * THE FSYNC OUTSIDE THE LOCK
 * With sqlite_sync = full, SQLite would fsync the WAL inside COMMIT, with
 * `op` held: nothing could run while the disk flushed. Instead the write
 * connection runs with synchronous=NORMAL (a commit writes its WAL frames
 * and does not sync them) and the thread that committed a batch lets go
 * of `op` first, so the next batch runs while it calls fdatasync(2) on the
 * WAL itself (wal_sync), then tells the batch's ops. The WAL is read back
 * only as a prefix (a frame counts only if every frame before it does), so
 * one fdatasync makes every batch committed before it durable: a thread
 * whose batch an fdatasync begun after its commit covers does not sync
 * again. A 2xx still follows the fsync of its write. Other connections may
 * read a batch before it is durable (during its fdatasync); none of its ops
 * has answered yet, and a write that depends on it commits after it, so
 * it cannot be durable without it. If an fdatasync fails, what it covered
 * may be lost (Linux may drop the pages it failed to write), and so would
 * everything after it: every write on the database fails from then on,
 * until the server is restarted and SQLite reads the WAL back from disk.
 * The checkpoint (the WAL copied back into the database) runs outside the
 * mutex too, on a thread of the writer's own: see THE CHECKPOINT OUTSIDE
 * THE LOCK, below.
 *
 * A write statement run outside a transaction (the job queue's leases) is a
 * "solo" write: it takes the mutex too, after committing any open batch, so
 * no writer of this process ever sleeps in the busy handler. Writers in
 * other processes (a CLI command) still meet through SQLite's own lock and
 * the busy timeout.
 */
#include "db/db.h"
#include "core/buf.h"
#include "db/walbuf.h"
#include "obs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct sq_stmt {
    db_stmt_t base;
    sqlite3_stmt *st;
    struct sq_conn *conn;
} sq_stmt_t;

/* An op waiting for its batch to end (on the waiter's stack). */
typedef struct sq_wait {
    struct sq_wait *next;
    bool done;
    int rc; /* DB_OK: committed (and synced) */
    pthread_cond_t cv;
} sq_wait_t;

/* A batch that has committed or rolled back, not yet told to its ops. */
typedef struct sq_batch {
    sq_wait_t *waiters;
    uint64_t seq; /* its place among the commits (0: none to sync) */
    int rc, nops;
} sq_batch_t;

enum { SQ_BATCH_MAX = 64 }; /* ops in one batch, at most */
/* A batch older than this commits when its current op ends, waiting or
 * not: it bounds what a short op waits behind long ones (a follow that
 * copies a feed) to about one op, where a commit costs a few hundred us. */
static _Atomic uint64_t batch_ns = 1000000;

void db_sqlite_batch_window(uint64_t ns)
{
    atomic_store(&batch_ns, ns);
}

typedef struct sq_writer {
    struct sq_writer *next; /* in the registry */
    char *target, *sync;
    int refs;             /* under registry_mu */
    pthread_mutex_t op;   /* held by the op or solo write running on the database */
    atomic_int want;      /* threads waiting for `op` */
    uint64_t op_t0;       /* when the holder took `op` (CLOCK_MONOTONIC ns); under op */
    /* `op` taken, the time it was held and the time waited for it, in all */
    atomic_uint_fast64_t op_takes, op_held_ns, op_wait_ns;
    struct sq_conn *conn; /* the write connection (opened on first use); under op */
    bool open;            /* a batch transaction is open on conn; under op */
    int nops;             /* ops in the open batch; under op */
    uint64_t t0;          /* when the open batch began (CLOCK_MONOTONIC ns); under op */
    pthread_mutex_t mu;   /* guards waiters and the counters */
    sq_wait_t *waiters;   /* ops of the open batch waiting for it to end */
    uint64_t ops, batches;
    bool own_sync;              /* sqlite_sync full: the WAL is synced by wal_sync, not by SQLite */
    _Atomic uint64_t committed; /* batches committed (written under op) */
    pthread_mutex_t sync_mu;    /* guards what follows: one fdatasync at a time */
    uint64_t synced;            /* batches up to this one are durable */
    uint64_t syncs, sync_ns;    /* fdatasyncs of the WAL done, and the time they took */
    atomic_bool sync_failed;    /* an fdatasync failed: no write is durable any more */
    char *wal_path;             /* set with conn */
    int wal_fd;                 /* -1: not open */
    dev_t wal_dev;
    ino_t wal_ino;
    /* the checkpointer (ckpt_main), started when the WAL first needs one */
    atomic_int wal_pages;            /* the WAL's frames after the last commit (wal_hook) */
    atomic_uint_fast64_t ckpts;      /* checkpoints that copied the whole WAL (it starts again) */
    atomic_uint_fast64_t ckpt_locks; /* times the checkpointer took `op` (step 2) */
    atomic_uint_fast64_t ckpt_quick; /* whole-WAL checkpoints whose step 2 found nothing left to copy */
    pthread_mutex_t ckpt_mu;         /* guards what follows */
    pthread_cond_t ckpt_cv;          /* a checkpoint is wanted, or the writer is going */
    bool ckpt_started, ckpt_want, ckpt_stop;
    pthread_t ckpt_tid;
    struct sq_conn *ckpt;         /* the checkpointer's connection; its thread's alone */
    int ckpt_frames, ckpt_copied; /* step 1's last WAL size and frames copied; the thread's alone */
} sq_writer_t;

typedef struct sq_conn {
    db_conn_t base;
    sqlite3 *db;
    sq_writer_t *w;     /* this database's writer (NULL on the write connection itself) */
    bool wop;           /* an op is open: statements go to w->conn */
    sqlite3_stmt *solo; /* a solo write running on this connection, holding w->op */
    sq_stmt_t stmts[Q__COUNT];
} sq_conn_t;

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static sq_writer_t *registry;

/* The connection a statement goes to: the writer's during an op. */
static sq_conn_t *act(db_conn_t *base)
{
    sq_conn_t *c = (sq_conn_t *)base;
    return c->wop ? c->w->conn : c;
}

/* "$12" -> "?12": the registry is written in PostgreSQL's placeholder
 * style; "{IDS $3}" -> "IN (SELECT value FROM json_each(?3))", the list
 * bound as a JSON array. */
static char *to_sqlite_params(const char *sql)
{
    buf_t b;
    buf_init(&b, 1 << 16);
    for (const char *p = sql; *p;) {
        if (strncmp(p, "{IDS $", 6) == 0) {
            const char *close = strchr(p, '}');
            buf_printf(&b, "IN (SELECT value FROM json_each(?%.*s))", (int)(close - p - 6), p + 6);
            p = close + 1;
        } else if (strncmp(p, "{FOR_UPDATE}", 12) == 0) { /* a row lock to the commit (SQLite: one writer) */
            buf_puts(&b, "");
            p += 12;
        } else if (strncmp(p, "{KEY_SHARE}", 11) == 0) { /* none needed: one writer */
            buf_puts(&b, "");
            p += 11;
        } else if (strncmp(p, "{SHARD ", 7) == 0) { /* the logical shard of an ID column */
            const char *close = strchr(p, '}');
            buf_printf(&b, "((%.*s >> 10) & 8191)", (int)(close - p - 7), p + 7);
            p = close + 1;
        } else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
            buf_putc(&b, '?');
            p++;
        } else {
            buf_putc(&b, *p++);
        }
    }
    return buf_steal(&b, NULL);
}

/* Once, before SQLite's first use: no memory statistics. With them on (the
 * library's default), every allocation SQLite makes takes one mutex for
 * the whole process, which the threads reading at once queue on (seen as
 * futex wake-ups in a profile of the photo lists). */
static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;
static const char *walbuf; /* the writer's VFS (db/walbuf.h), or NULL: the default */
static void sqlite_configure(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* SQLITE_MISUSE if already initialised: then it stays on */
    walbuf = db_walbuf_vfs();
}

/* A connection; the writer's (writer) appends a commit's WAL frames with
 * one write (db/walbuf.c). */
static int conn_open_vfs(const char *target, const char *sync, bool writer, db_conn_t **out, char *err,
                         size_t errlen)
{
    pthread_once(&sqlite_configured, sqlite_configure);
    sq_conn_t *c = xcalloc(1, sizeof(*c));
    c->base.drv = &db_driver_sqlite;
    int rc = sqlite3_open_v2(target, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             writer ? walbuf : NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", target, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return -1;
    }
    sqlite3_busy_timeout(c->db, 10000);
    char pragmas[512];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
             /* a 16 MiB page cache per connection, and pages read with pread(2), not mmap: in WAL mode a
              * connection that finds the database changed since its last read drops its mapping (munmap,
              * whose TLB shootdown interrupts the cores running the process's other threads) and faults
              * each page in again. Under writes that cost more than it saved: BENCHMARKS.md, "SQLite
              * without mmap". */
             "PRAGMA mmap_size=0; PRAGMA cache_size=-16384;",
             strcmp(sync, "normal") == 0 ? "NORMAL" : "FULL");
    char *msg = NULL;
    if (sqlite3_exec(c->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot set up %s: %s", target, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(c->db);
        free(c);
        return -1;
    }
    *out = &c->base;
    return 0;
}

static int conn_open(const char *target, const char *sync, db_conn_t **out, char *err, size_t errlen)
{
    return conn_open_vfs(target, sync, false, out, err, errlen);
}

static void conn_close(sq_conn_t *c)
{
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(c->stmts[i].st);
    sqlite3_close(c->db);
    free(c);
}

static void ckpt_stop(sq_writer_t *w);
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages);

static sq_writer_t *writer_ref(const char *target, const char *sync)
{
    pthread_mutex_lock(&registry_mu);
    sq_writer_t *w = registry;
    while (w && strcmp(w->target, target) != 0)
        w = w->next;
    if (w == NULL) {
        w = xcalloc(1, sizeof(*w));
        w->target = xstrdup(target);
        w->sync = xstrdup(sync);
        w->own_sync = strcmp(sync, "normal") != 0;
        w->wal_fd = -1;
        pthread_mutex_init(&w->op, NULL);
        pthread_mutex_init(&w->mu, NULL);
        pthread_mutex_init(&w->sync_mu, NULL);
        pthread_mutex_init(&w->ckpt_mu, NULL);
        pthread_cond_init(&w->ckpt_cv, NULL);
        w->next = registry;
        registry = w;
    }
    w->refs++;
    pthread_mutex_unlock(&registry_mu);
    return w;
}

static void writer_unref(sq_writer_t *w)
{
    pthread_mutex_lock(&registry_mu);
    if (--w->refs == 0) {
        sq_writer_t **p = &registry;
        while (*p != w)
            p = &(*p)->next;
        *p = w->next;
        ckpt_stop(w);
        if (w->conn)
            conn_close(w->conn);
        if (w->wal_fd >= 0)
            close(w->wal_fd);
        pthread_mutex_destroy(&w->op);
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->sync_mu);
        pthread_mutex_destroy(&w->ckpt_mu);
        pthread_cond_destroy(&w->ckpt_cv);
        free(w->wal_path);
        free(w->target);
        free(w->sync);
        free(w);
    }
    pthread_mutex_unlock(&registry_mu);
}

static int sq_open(const char *target, const char *sync, db_conn_t **out, char *err, size_t errlen)
{
    if (conn_open(target, sync, out, err, errlen) != 0)
        return -1;
    sq_conn_t *c = (sq_conn_t *)*out;
    c->w = writer_ref(target, sync);
    sqlite3_wal_hook(c->db, wal_hook, c->w); /* its solo writes' commits: no checkpoint inside them either */
    return 0;
}

static void sq_release(db_conn_t *c);
static int op_end(sq_conn_t *c, bool keep);

static void sq_close(db_conn_t *base)
{
    sq_conn_t *c = (sq_conn_t *)base;
    if (c->wop)
        op_end(c, false);
    sq_release(base);
    if (c->w)
        writer_unref(c->w);
    conn_close(c);
}

/* --- the writer (see the top of this file) --- */

static bool w_exec(sq_writer_t *w, const char *sql)
{
    return sqlite3_exec(w->conn->db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

static void reset_busy(sqlite3 *db)
{
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st))
        if (sqlite3_stmt_busy(st))
            sqlite3_reset(st);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The writer whose mutex this thread holds: a second write on the same
 * database from the same thread (through another db_ctx_t) would wait for
 * itself forever, so it fails instead. */
static _Thread_local sq_writer_t *held;

/* The group this thread runs (WRITE GROUPS, above): the writer whose
 * mutex it holds for it, whether an op of it is open, whether SQLite rolled
 * its batch back (every op of it is lost), and the batch it committed,
 * until db_group_end tells it. */
static _Thread_local struct {
    sq_writer_t *w;
    bool op, broken;
    bool let_go, committed; /* db_group_commit ran; a batch was open then */
    sq_batch_t b;
} grp;

static void op_unlock(sq_writer_t *w)
{
    held = NULL;
    atomic_fetch_add(&w->op_held_ns, now_ns() - w->op_t0);
    pthread_mutex_unlock(&w->op);
}

/* Takes the database's write mutex, queueing behind the op that has it. */
static int op_take(sq_writer_t *w)
{
    if (held == w) {
        log_error("sqlite: a second write on one database from one thread, inside the first: refused");
        return DB_ERROR;
    }
    atomic_fetch_add(&w->want, 1);
    uint64_t t0 = now_ns();
    pthread_mutex_lock(&w->op);
    atomic_fetch_sub(&w->want, 1);
    held = w;
    w->op_t0 = now_ns();
    atomic_fetch_add(&w->op_wait_ns, w->op_t0 - t0);
    atomic_fetch_add(&w->op_takes, 1);
    if (w->conn == NULL) {
        db_conn_t *wc;
        char err[256];
        /* with own_sync, commits do not sync: wal_sync does, after op */
        if (conn_open_vfs(w->target, w->own_sync ? "normal" : w->sync, true, &wc, err, sizeof(err)) != 0) {
            log_error("sqlite: the write connection: %s", err);
            op_unlock(w);
            return DB_ERROR;
        }
        w->conn = (sq_conn_t *)wc;
        sqlite3_wal_hook(w->conn->db, wal_hook, w); /* in place of SQLite's checkpoint inside COMMIT */
        if (w->wal_path == NULL) {
            pthread_mutex_lock(&w->sync_mu);
            w->wal_path = xstrdup(sqlite3_filename_wal(sqlite3_db_filename(w->conn->db, "main")));
            pthread_mutex_unlock(&w->sync_mu);
        }
    }
    return DB_OK;
}

/* fsync of the directory holding path, for a file just created in it. */
static int dir_sync(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

/* The WAL file, open (under sync_mu). SQLite keeps one WAL file while a
 * connection is open, but a file replaced under the same name would take
 * the commits elsewhere: the name is checked on each sync. When the file is
 * new to us, its directory is synced too (as SQLite does with a new WAL). */
static int wal_file(sq_writer_t *w)
{
    struct stat st;
    if (w->wal_path == NULL) {
        errno = ENOENT;
        return -1;
    }
    if (stat(w->wal_path, &st) != 0)
        return -1;
    if (w->wal_fd >= 0 && st.st_dev == w->wal_dev && st.st_ino == w->wal_ino)
        return w->wal_fd;
    if (w->wal_fd >= 0)
        close(w->wal_fd);
    w->wal_fd = open(w->wal_path, O_RDONLY | O_CLOEXEC);
    if (w->wal_fd < 0 || fstat(w->wal_fd, &st) != 0 || dir_sync(w->wal_path) != 0)
        return -1;
    w->wal_dev = st.st_dev;
    w->wal_ino = st.st_ino;
    return w->wal_fd;
}

/* Makes the batch committed as seq durable: one fdatasync of the WAL, unless
 * one begun after that commit has already ended. Not under op. */
static int wal_sync(sq_writer_t *w, uint64_t seq)
{
    int rc = DB_OK;
    pthread_mutex_lock(&w->sync_mu);
    if (atomic_load(&w->sync_failed)) {
        rc = DB_ERROR;
    } else if (w->synced < seq) {
        uint64_t upto = atomic_load(&w->committed); /* every commit up to here is in the file */
        int fd = wal_file(w);
        uint64_t t0 = now_ns();
        if (fd >= 0 && fdatasync(fd) == 0) {
            w->synced = upto;
            w->syncs++;
            w->sync_ns += now_ns() - t0;
        } else {
            int e = errno; /* wal_file's or fdatasync's */
            log_error("sqlite: cannot sync %s: %s; its writes may be lost, so every write on it fails from now on: "
                      "restart the server",
                      w->wal_path ? w->wal_path : w->target, strerror(e));
            atomic_store(&w->sync_failed, true);
            rc = DB_ERROR;
        }
    }
    pthread_mutex_unlock(&w->sync_mu);
    return rc;
}

/* Ends the open batch (under op): commits it when ok, else rolls it back.
 * The ops waiting on it are told by batch_tell, after op is let go. */
static sq_batch_t batch_end(sq_writer_t *w, bool ok)
{
    sq_batch_t b = {.rc = DB_ERROR, .nops = w->nops};
    reset_busy(w->conn->db);
    if (!sqlite3_get_autocommit(w->conn->db)) {
        if (ok && w_exec(w, "COMMIT"))
            b.rc = DB_OK;
        else if (!sqlite3_get_autocommit(w->conn->db))
            w_exec(w, "ROLLBACK");
    }
    if (b.rc != DB_OK)
        log_error("sqlite: a batch of %d writes did not commit: %s", w->nops, sqlite3_errmsg(w->conn->db));
    else if (w->own_sync)
        b.seq = atomic_fetch_add(&w->committed, 1) + 1;
    pthread_mutex_lock(&w->mu);
    b.waiters = w->waiters;
    w->waiters = NULL;
    pthread_mutex_unlock(&w->mu);
    w->open = false;
    w->nops = 0;
    return b;
}

/* Makes a committed batch durable, then tells each of its ops the outcome.
 * Returns it. */
static int batch_tell(sq_writer_t *w, sq_batch_t *b)
{
    if (b->rc == DB_OK && b->seq)
        b->rc = wal_sync(w, b->seq);
    pthread_mutex_lock(&w->mu);
    for (sq_wait_t *q = b->waiters, *next; q; q = next) {
        next = q->next; /* q is gone once done is seen */
        q->rc = b->rc;
        q->done = true;
        pthread_cond_signal(&q->cv);
    }
    w->batches++;
    w->ops += (uint64_t)b->nops;
    pthread_mutex_unlock(&w->mu);
    return b->rc;
}

/* The op holding `op` has ended (its savepoint released or rolled back).
 * With nobody waiting, or the batch full, the batch commits now; else it
 * stays open for the next op, and when `wait`, this one sleeps until the
 * batch ends. Releases `op`. Returns the batch's outcome. */
static int op_leave(sq_writer_t *w, bool wait)
{
    if (w->open &&
        (sqlite3_get_autocommit(w->conn->db) /* SQLite rolled the whole transaction back */ ||
         atomic_load(&w->want) == 0 || w->nops >= SQ_BATCH_MAX || now_ns() - w->t0 >= atomic_load(&batch_ns))) {
        sq_batch_t b = batch_end(w, !sqlite3_get_autocommit(w->conn->db));
        op_unlock(w); /* the next batch runs while this one syncs */
        return batch_tell(w, &b);
    }
    if (w->open && wait) {
        sq_wait_t me = {0};
        pthread_cond_init(&me.cv, NULL);
        pthread_mutex_lock(&w->mu);
        me.next = w->waiters; /* before letting go of op: the batch cannot end unseen */
        w->waiters = &me;
        pthread_mutex_unlock(&w->mu);
        op_unlock(w);
        pthread_mutex_lock(&w->mu);
        while (!me.done)
            pthread_cond_wait(&me.cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
        pthread_cond_destroy(&me.cv);
        return me.rc;
    }
    op_unlock(w);
    return DB_OK;
}

/* Opens an op on c, with the mutex held: the batch transaction if none is
 * open, then the op's savepoint in it. OP_OPEN, or the step that failed
 * (logged). */
enum { OP_OPEN, OP_NO_BATCH, OP_NO_SAVEPOINT };
static int op_open(sq_conn_t *c)
{
    sq_writer_t *w = c->w;
    /* IMMEDIATE: take the write lock now, so a batch never fails to
     * upgrade from read to write half-way through. */
    if (!w->open) {
        if (!w_exec(w, "BEGIN IMMEDIATE")) {
            log_error("sqlite: cannot begin: %s", sqlite3_errmsg(w->conn->db));
            return OP_NO_BATCH;
        }
        w->open = true;
        w->t0 = now_ns();
    }
    if (!w_exec(w, "SAVEPOINT op")) {
        log_error("sqlite: cannot begin an op: %s", sqlite3_errmsg(w->conn->db));
        return OP_NO_SAVEPOINT;
    }
    w->nops++;
    c->wop = true;
    return OP_OPEN;
}

/* Ends the open op's savepoint: released (keep), or else rolled back.
 * True if released. The batch stays open. */
static bool op_close(sq_writer_t *w, bool keep)
{
    reset_busy(w->conn->db);
    if (keep && w_exec(w, "RELEASE op"))
        return true;
    if (!sqlite3_get_autocommit(w->conn->db)) {
        w_exec(w, "ROLLBACK TO op");
        w_exec(w, "RELEASE op");
    }
    return false;
}

/* An op of this thread's group begins: a savepoint in the group's batch. */
static int group_op_begin(sq_conn_t *c)
{
    if (grp.op) {
        log_error("sqlite: a second write on one database from one thread, inside the first: refused");
        return DB_ERROR;
    }
    if (grp.broken || grp.let_go)
        return DB_ERROR; /* the group's batch is lost, or ended: it takes no more */
    int st = op_open(c);
    if (st == OP_NO_SAVEPOINT)
        grp.broken = sqlite3_get_autocommit(c->w->conn->db);
    grp.op = st == OP_OPEN;
    return st == OP_OPEN ? DB_OK : DB_ERROR;
}

static int sq_group_begin(db_conn_t *base)
{
    sq_writer_t *w = ((sq_conn_t *)base)->w;
    if (w == NULL || grp.w != NULL || atomic_load(&w->sync_failed) || op_take(w) != DB_OK)
        return DB_ERROR;
    grp.w = w;
    grp.op = grp.broken = grp.committed = grp.let_go = false;
    return DB_OK;
}

static bool sq_group_more(db_conn_t *base)
{
    sq_writer_t *w = ((sq_conn_t *)base)->w;
    if (grp.w != w || grp.broken || atomic_load(&w->sync_failed) || w->nops >= SQ_BATCH_MAX)
        return false;
    return !w->open || now_ns() - w->t0 < atomic_load(&batch_ns);
}

static void sq_group_commit(db_conn_t *base)
{
    sq_writer_t *w = ((sq_conn_t *)base)->w;
    if (grp.w != w || grp.let_go)
        return;
    grp.let_go = true;
    grp.committed = w->open;
    if (w->open)
        grp.b = batch_end(w, !grp.broken && !sqlite3_get_autocommit(w->conn->db));
    op_unlock(w); /* the next batch runs while this one syncs */
}

static int sq_group_end(db_conn_t *base)
{
    sq_writer_t *w = ((sq_conn_t *)base)->w;
    if (grp.w != w)
        return DB_ERROR;
    sq_group_commit(base); /* if not yet */
    int rc = grp.committed ? batch_tell(w, &grp.b) : DB_OK;
    if (grp.broken)
        rc = DB_ERROR;
    memset(&grp, 0, sizeof(grp));
    return rc;
}

/* Ends the op of c, keeping its writes (keep) or undoing them. */
static int op_end(sq_conn_t *c, bool keep)
{
    sq_writer_t *w = c->w;
    c->wop = false;
    bool kept = op_close(w, keep);
    if (grp.w == w) { /* in a group: the batch stays open for its next op */
        grp.op = false;
        if (sqlite3_get_autocommit(w->conn->db)) /* SQLite rolled the whole batch back */
            grp.broken = true;
        return keep && (!kept || grp.broken) ? DB_ERROR : DB_OK;
    }
    if (kept)
        return op_leave(w, true);
    op_leave(w, false);
    return keep ? DB_ERROR : DB_OK;
}

/* A write statement outside a transaction: it runs alone, holding op. */
static void solo_begin(sq_conn_t *c, sqlite3_stmt *st)
{
    /* failing, the statement meets SQLite's lock and busy timeout instead */
    if (op_take(c->w) != DB_OK)
        return;
    if (c->w->open) {
        /* the batch's ops are waiting on it anyway */
        sq_batch_t b = batch_end(c->w, true);
        batch_tell(c->w, &b);
    }
    c->solo = st;
}

static void solo_end(sq_conn_t *c)
{
    c->solo = NULL;
    op_unlock(c->w);
}

/* THE CHECKPOINT OUTSIDE THE LOCK
 * SQLite copies the WAL back into the database (a checkpoint) inside the
 * COMMIT that takes the WAL past 1,000 pages: with `op` held, 3 to 17 ms
 * in which no write runs. Instead every connection's WAL hook only notes
 * the WAL's size, and past SQ_CKPT_PAGES wakes this writer's checkpointer
 * thread, which copies the WAL in two steps:
 * 1. the bulk, on a connection of its own, holding nothing of ours
 *    (PASSIVE: writers go on appending meanwhile);
 * 2. the rest, holding `op`: the few batches committed during step 1, so
 *    that the WAL is wholly copied when the next batch begins, and SQLite
 *    starts it again from its beginning (else it would only grow).
 * SQLite syncs the WAL before copying and the database after, as in its
 * own checkpoints, so nothing not yet durable reaches the database file.
 *
 * Step 2's copy is a pause of every write with two fsyncs in it (about
 * 4 ms at p99 for a like that has the writer to itself: BENCHMARKS.md,
 * "A write's tail, alone, is the checkpoint"). So step 1 runs again while
 * batches came in during its last pass (SQ_CKPT_PASSES in all), then
 * syncs the database (ckpt_sync_db). SQLite syncs it only at a pass that
 * finds no frame newer than those it copied, which under writes none does:
 * every page step 1 copied was left for step 2's sync, under `op`
 * (BENCHMARKS.md, "The checkpoint's database sync"). One sync after the
 * passes, not one after each: each is a flush of the disk that the
 * commits' fdatasyncs wait behind. And step 2 first looks: if no batch
 * committed since step 1 copied the whole WAL (the commits' hook has not
 * moved the WAL's size) and none is open, there is nothing to copy and it
 * lets go at once; the next batch starts the WAL again. Only SQLite
 * decides that (a WAL starts again only if every frame of it is in the
 * database, synced), so a wrong look costs only a WAL that goes on growing
 * until the next checkpoint. */
enum { SQ_CKPT_PAGES = 1000, SQ_CKPT_PASSES = 4 };

/* A checkpoint's sync of the database failed: as for wal_sync's, the
 * pages it was to write may be lost while the WAL says they are copied (and
 * a later sync on the same descriptor would not report it again), so
 * nothing more is copied, and every write fails until a restart. */
static void ckpt_sync_failed(sq_writer_t *w, int rc)
{
    log_error("sqlite: cannot sync %s after a checkpoint (%s); its writes may be lost, so every write on it fails "
              "from now on: restart the server",
              w->target, sqlite3_errstr(rc));
    atomic_store(&w->sync_failed, true);
}

/* After a checkpoint on db failed: true if what failed was SQLite's own
 * sync, of the WAL or the database (ckpt_sync_failed's then). */
static bool ckpt_sync_error(sq_writer_t *w, sqlite3 *db)
{
    if (sqlite3_extended_errcode(db) != SQLITE_IOERR_FSYNC)
        return false;
    ckpt_sync_failed(w, SQLITE_IOERR_FSYNC);
    return true;
}

/* Step 1's sync of the database file, on the checkpoint connection's own
 * descriptor (SQLite's unix VFS: fdatasync). */
static bool ckpt_sync_db(sq_writer_t *w)
{
    sqlite3_file *f = NULL;
    int rc = sqlite3_file_control(w->ckpt->db, "main", SQLITE_FCNTL_FILE_POINTER, &f);
    if (rc == SQLITE_OK && f != NULL && f->pMethods != NULL)
        rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
    else if (rc == SQLITE_OK)
        rc = SQLITE_ERROR;
    if (rc != SQLITE_OK)
        ckpt_sync_failed(w, rc);
    return rc == SQLITE_OK;
}

static void ckpt_run(sq_writer_t *w)
{
    if (atomic_load(&w->wal_pages) < SQ_CKPT_PAGES || atomic_load(&w->sync_failed))
        return;
    if (w->ckpt == NULL) {
        db_conn_t *c;
        char err[256];
        if (conn_open(w->target, "normal", &c, err, sizeof(err)) != 0) {
            log_error("sqlite: the checkpoint connection: %s", err);
            return;
        }
        w->ckpt = (sq_conn_t *)c;
    }
    int frames = 0, copied = 0;
    for (int pass = 1;; pass++) {
        int rc = sqlite3_wal_checkpoint_v2(w->ckpt->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
        if (rc != SQLITE_OK) { /* BUSY: another process's checkpoint is running */
            if (!ckpt_sync_error(w, w->ckpt->db) && rc != SQLITE_BUSY)
                log_warn("sqlite: checkpoint of %s: %s", w->target, sqlite3_errmsg(w->ckpt->db));
            return;
        }
        /* again only if it copied all it was given and more came meanwhile */
        if (pass == SQ_CKPT_PASSES || copied < frames || (int)atomic_load(&w->wal_pages) <= frames)
            break;
    }
    /* what the passes copied is synced here, not under op: SQLite synced it
     * only if the last pass caught up with the commits */
    bool caught_up = copied == frames && (int)atomic_load(&w->wal_pages) <= frames;
    if (copied > 0 && !caught_up && !ckpt_sync_db(w))
        return;
    /* Frames a reader's snapshot still needs are copied by neither step.
     * Short reads in flight hold a few back, for a moment: step 2 gets
     * them. But if step 1 copied no more than last time while the WAL
     * grew, a long read holds them (an admin backup's), and step 2 would
     * copy nothing and only end the open batch early, at every commit
     * until the read ends: the next commit tries again instead. */
    bool stuck = copied < frames && copied == w->ckpt_copied && frames > w->ckpt_frames;
    w->ckpt_frames = frames;
    w->ckpt_copied = copied;
    if (stuck || op_take(w) != DB_OK)
        return;
    atomic_fetch_add(&w->ckpt_locks, 1);
    /* A batch left open for this thread (it wanted `op`) commits first: the
     * WAL starts again only at a transaction begun once it is all copied.
     * Its ops are told after the copy, which they would have waited behind
     * anyway, and after the sync of their frames (wal_sync) as ever. */
    bool open = w->open;
    if (!open && copied == frames && (int)atomic_load(&w->wal_pages) == frames) {
        atomic_store(&w->wal_pages, 0); /* as below */
        atomic_fetch_add(&w->ckpts, 1);
        atomic_fetch_add(&w->ckpt_quick, 1);
        op_unlock(w);
        return;
    }
    sq_batch_t b = open ? batch_end(w, true) : (sq_batch_t){0};
    /* not all, while a reader's snapshot still needs some */
    int rc = sqlite3_wal_checkpoint_v2(w->conn->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
    if (rc == SQLITE_OK && copied == frames) {
        atomic_store(&w->wal_pages, 0); /* the next commit's hook says how big the WAL is */
        atomic_fetch_add(&w->ckpts, 1);
    } else if (rc != SQLITE_OK) {
        ckpt_sync_error(w, w->conn->db);
    }
    op_unlock(w);
    if (open)
        batch_tell(w, &b);
}

static void *ckpt_main(void *arg)
{
    sq_writer_t *w = arg;
    pthread_mutex_lock(&w->ckpt_mu);
    while (!w->ckpt_stop) {
        if (!w->ckpt_want) {
            pthread_cond_wait(&w->ckpt_cv, &w->ckpt_mu);
            continue;
        }
        w->ckpt_want = false;
        pthread_mutex_unlock(&w->ckpt_mu);
        ckpt_run(w);
        pthread_mutex_lock(&w->ckpt_mu);
    }
    pthread_mutex_unlock(&w->ckpt_mu);
    if (w->ckpt)
        conn_close(w->ckpt);
    return NULL;
}

/* Every connection's commits on the database (sqlite3_wal_hook, which
 * also turns SQLite's own checkpoints off). It needs nothing held: it
 * touches only atomics and what ckpt_mu guards. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db, (void)name;
    sq_writer_t *w = arg;
    atomic_store(&w->wal_pages, pages);
    if (pages < SQ_CKPT_PAGES)
        return SQLITE_OK;
    pthread_mutex_lock(&w->ckpt_mu);
    if (!w->ckpt_started && !w->ckpt_stop) {
        w->ckpt_started = pthread_create(&w->ckpt_tid, NULL, ckpt_main, w) == 0;
        if (!w->ckpt_started)
            log_error("sqlite: no checkpointer thread for %s: its WAL grows until the server stops", w->target);
    }
    w->ckpt_want = true;
    pthread_cond_signal(&w->ckpt_cv);
    pthread_mutex_unlock(&w->ckpt_mu);
    return SQLITE_OK;
}

/* With the writer's last connection gone (no op can be running). */
static void ckpt_stop(sq_writer_t *w)
{
    pthread_mutex_lock(&w->ckpt_mu);
    w->ckpt_stop = true;
    pthread_cond_signal(&w->ckpt_cv);
    bool started = w->ckpt_started;
    pthread_mutex_unlock(&w->ckpt_mu);
    if (started)
        pthread_join(w->ckpt_tid, NULL);
}

bool db_sqlite_writes(db_conn_t *base, db_sqlite_writes_t *out)
{
    sq_conn_t *c = (sq_conn_t *)base;
    if (base->drv != &db_driver_sqlite || c->w == NULL)
        return false;
    sq_writer_t *w = c->w;
    pthread_mutex_lock(&w->mu);
    out->ops = w->ops;
    out->batches = w->batches;
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_lock(&w->sync_mu);
    out->syncs = w->syncs;
    out->sync_seconds = (double)w->sync_ns / 1e9;
    pthread_mutex_unlock(&w->sync_mu);
    out->sync_failed = atomic_load(&w->sync_failed);
    out->checkpoints = atomic_load(&w->ckpts);
    out->checkpoint_locks = atomic_load(&w->ckpt_locks);
    out->checkpoints_quick = atomic_load(&w->ckpt_quick);
    out->wal_pages = (uint64_t)atomic_load(&w->wal_pages);
    out->lock_takes = atomic_load(&w->op_takes);
    out->lock_seconds = (double)atomic_load(&w->op_held_ns) / 1e9;
    out->lock_wait_seconds = (double)atomic_load(&w->op_wait_ns) / 1e9;
    return true;
}

static int sq_exec(db_conn_t *base, const char *sql, char *err, size_t errlen)
{
    sq_conn_t *c = act(base);
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static db_stmt_t *sq_prepare(db_conn_t *base, unsigned qid)
{
    sq_conn_t *c = act(base);
    sq_stmt_t *s = &c->stmts[qid];
    if (s->st == NULL) {
        char *sql = to_sqlite_params(db_query_sql[qid]);
        int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL);
        free(sql);
        if (rc != SQLITE_OK) {
            /* The registry is ours: a query that does not compile is a bug or a schema too old. */
            log_error("sqlite: cannot prepare %s: %s", db_query_name[qid], sqlite3_errmsg(c->db));
            abort();
        }
        s->base.drv = &db_driver_sqlite;
        s->conn = c;
    } else {
        sqlite3_reset(s->st);
        sqlite3_clear_bindings(s->st);
    }
    return &s->base;
}

#define ST(s) (((sq_stmt_t *)(s))->st)

static void sq_bind_i64(db_stmt_t *s, int i, int64_t v)
{
    sqlite3_bind_int64(ST(s), i, v);
}

static void sq_bind_text(db_stmt_t *s, int i, const char *p, size_t n)
{
    sqlite3_bind_text(ST(s), i, p, (int)n, SQLITE_TRANSIENT);
}

static void sq_bind_blob(db_stmt_t *s, int i, const void *p, size_t n)
{
    sqlite3_bind_blob(ST(s), i, p, (int)n, SQLITE_TRANSIENT);
}

static void sq_bind_null(db_stmt_t *s, int i)
{
    sqlite3_bind_null(ST(s), i);
}

static void sq_bind_double(db_stmt_t *s, int i, double v)
{
    sqlite3_bind_double(ST(s), i, v);
}

static void sq_bind_ids(db_stmt_t *s, int i, const int64_t *ids, size_t n)
{
    buf_t b;
    buf_init(&b, 64u << 20);
    buf_putc(&b, '[');
    for (size_t k = 0; k < n; k++)
        buf_printf(&b, k ? ",%lld" : "%lld", (long long)ids[k]);
    buf_putc(&b, ']');
    sqlite3_bind_text(ST(s), i, b.data, (int)b.len, SQLITE_TRANSIENT);
    buf_free(&b);
}

static double sq_col_double(db_stmt_t *s, int col)
{
    return sqlite3_column_double(ST(s), col);
}

static int sq_step(db_stmt_t *s)
{
    sq_conn_t *c = ((sq_stmt_t *)s)->conn;
    if (c->w && c->solo == NULL && !sqlite3_stmt_busy(ST(s)) && !sqlite3_stmt_readonly(ST(s)) &&
        sqlite3_get_autocommit(c->db)) {
        if (atomic_load(&c->w->sync_failed))
            return DB_ERROR; /* logged by wal_sync */
        if (grp.w == c->w) {
            log_error("sqlite: a write outside a transaction in a write group: refused (%s)", sqlite3_sql(ST(s)));
            return DB_ERROR;
        }
        solo_begin(c, ST(s));
    }
    int rc = sqlite3_step(ST(s));
    if (c->solo == ST(s) && rc != SQLITE_ROW)
        solo_end(c);
    switch (rc) {
    case SQLITE_ROW:
        return DB_ROW;
    case SQLITE_DONE:
        return DB_DONE;
    default:
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            return DB_CONSTRAINT;
        log_error("sqlite: %s: %s", sqlite3_sql(ST(s)), sqlite3_errmsg(((sq_stmt_t *)s)->conn->db));
        return DB_ERROR;
    }
}

static int64_t sq_col_i64(db_stmt_t *s, int col)
{
    return sqlite3_column_int64(ST(s), col);
}

static const char *sq_col_text(db_stmt_t *s, int col, size_t *len)
{
    const char *p = (const char *)sqlite3_column_text(ST(s), col);
    *len = (size_t)sqlite3_column_bytes(ST(s), col);
    return p;
}

static const void *sq_col_blob(db_stmt_t *s, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(ST(s), col);
    *len = (size_t)sqlite3_column_bytes(ST(s), col);
    return p;
}

static bool sq_col_null(db_stmt_t *s, int col)
{
    return sqlite3_column_type(ST(s), col) == SQLITE_NULL;
}

static void sq_reset(db_stmt_t *s)
{
    sq_conn_t *c = ((sq_stmt_t *)s)->conn;
    sqlite3_reset(ST(s));
    if (c->solo == ST(s))
        solo_end(c);
}

static void sq_release(db_conn_t *base)
{
    sq_conn_t *c = (sq_conn_t *)base;
    reset_busy(act(base)->db); /* an op's statements are on the write connection */
    if (c->solo)
        solo_end(c);
}

static int run_simple(db_conn_t *c, unsigned qid)
{
    return db_exec_stmt(sq_prepare(c, qid)) == DB_DONE ? DB_OK : DB_ERROR;
}

static int sq_begin(db_conn_t *base)
{
    sq_conn_t *c = (sq_conn_t *)base;
    sq_writer_t *w = c->w;
    if (w == NULL || c->wop)
        return DB_ERROR; /* a transaction is already open on c */
    if (atomic_load(&w->sync_failed))
        return DB_ERROR; /* nothing written: it could not be made durable (logged by wal_sync) */
    if (grp.w == w)
        return group_op_begin(c);
    if (op_take(w) != DB_OK)
        return DB_ERROR;
    int st = op_open(c);
    if (st == OP_NO_BATCH)
        op_unlock(w);
    else if (st == OP_NO_SAVEPOINT)
        op_leave(w, false);
    return st == OP_OPEN ? DB_OK : DB_ERROR;
}

static int sq_lock(db_conn_t *c, int64_t key)
{
    (void)c, (void)key; /* one op at a time per database already */
    return DB_OK;
}

static int sq_commit(db_conn_t *base)
{
    sq_conn_t *c = (sq_conn_t *)base;
    if (!c->wop) /* a read transaction (db_ctx_read_begin) */
        return sqlite3_get_autocommit(c->db) ? DB_ERROR : run_simple(base, Q_COMMIT);
    return op_end(c, true);
}

static int sq_rollback(db_conn_t *base)
{
    sq_conn_t *c = (sq_conn_t *)base;
    if (c->wop)
        return op_end(c, false);
    if (sqlite3_get_autocommit(c->db))
        return DB_OK; /* nothing open (SQLite may have rolled back already) */
    return run_simple(base, Q_ROLLBACK);
}

static int64_t sq_changes(db_conn_t *c)
{
    return sqlite3_changes64(act(c)->db);
}

static const char *sq_errmsg(db_conn_t *c)
{
    return sqlite3_errmsg(act(c)->db);
}

const db_driver_t db_driver_sqlite = {
    .scheme = "sqlite",
    .dialect_id_type = "INTEGER",
    .dialect_blob_type = "BLOB",
    /* R*Trees of 32-bit integers: degrees x 10^7 (exact to about a
     * centimetre) and seconds since 2011-01-01, so a point is its own box
     * and nothing needs reading beside the tree (see geo/rtree.c) */
    .snapshot = true,
    .dialect_geo_index = "CREATE VIRTUAL TABLE geo_media USING rtree_i32(id, lat0, lat1, lng0, lng1, t0, t1);"
                         "CREATE VIRTUAL TABLE geo_places USING rtree_i32(id, lat0, lat1, lng0, lng1);",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .bind_i64 = sq_bind_i64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .bind_double = sq_bind_double,
    .bind_ids = sq_bind_ids,
    .step = sq_step,
    .col_i64 = sq_col_i64,
    .col_double = sq_col_double,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .col_null = sq_col_null,
    .reset = sq_reset,
    .release = sq_release,
    .begin = sq_begin,
    .lock = sq_lock,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .errmsg = sq_errmsg,
    .changes = sq_changes,
    .group_begin = sq_group_begin,
    .group_more = sq_group_more,
    .group_commit = sq_group_commit,
    .group_end = sq_group_end,
};
