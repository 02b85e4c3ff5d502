/*
 * The PostgreSQL driver (libpq): the cluster topology's databases, usually
 * reached through pgbouncer in transaction pooling.
 *
 * DESIGN
 * - Every statement is sent with the extended protocol as an unnamed
 *   statement (PQsendQueryParams: parse, bind, execute in one round trip).
 *   pgbouncer 1.18 (Debian 12) cannot keep named prepared statements
 *   across transactions in transaction pooling, and an unnamed statement
 *   needs no state on the server (the cost is measured in BENCHMARKS.md).
 *   Parameters and results travel as text, but for bytea (binary).
 * - The SQL is the registry's (db/queries.h): the same text as SQLite's,
 *   with {IDS $N} written as "= ANY(CAST($N AS BIGINT[]))".
 * - Calls block the calling thread (a worker, never an event loop: see
 *   http/server.h), each bounded: connecting by connect_timeout (2 s, the
 *   least libpq takes), a statement by PG_STATEMENT_TIMEOUT_MS (then it is
 *   cancelled and the connection dropped).
 * - A connection that fails is closed and opened again on next use. After a
 *   failure to reach the server (or pgbouncer failing to), the database is
 *   held down for PG_DOWN_MS, for every thread's connection to it (the
 *   state is shared per URL): statements on it fail at once rather than
 *   each waiting for a timeout, so requests that need it answer 503 fast
 *   and the others go on. When the time is up, one thread tries it again
 *   while the others keep failing fast. A statement that times out drops
 *   its connection only: a slow query is not a server down.
 *   db_unavailable() tells the caller it was one of these.
 * - A transaction is all or nothing across those failures: a statement
 *   refused inside one closes its connection (the server rolls it back),
 *   ROLLBACK is never refused, and BEGIN never runs on inside a transaction
 *   left open. (A refused ROLLBACK once left one open on a live
 *   connection, and the next transaction's COMMIT committed its first
 *   statements: tests/unit/pg_held_down.c.)
 * - A transaction whose connection went (a timeout, a broken connection,
 *   a hold-down) is lost, and stays lost until its caller ends it: every
 *   statement after is refused rather than run on a new connection (where
 *   each would commit on its own), and its COMMIT fails. (They once ran
 *   in autocommit, and the COMMIT, on a connection with no transaction,
 *   answered success: a caller that went on after an error committed
 *   the statements after it alone.)
 */
#include "db/db.h"
#include "core/buf.h"
#include "obs/log.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_STATEMENT_TIMEOUT_MS 5000
#define PG_DOWN_MS 1000
#define PG_MAX_PARAMS 16
#define PG_TX_LOST "the transaction's connection was lost: it was rolled back"

typedef struct pg_stmt {
    db_stmt_t base;
    struct pg_conn *conn;
    unsigned qid;
    int nparams;
    char *vals[PG_MAX_PARAMS];
    int lens[PG_MAX_PARAMS], fmts[PG_MAX_PARAMS];
    buf_t store[PG_MAX_PARAMS]; /* the parameters' text */
    PGresult *res;
    int row, nrows; /* row: the current row, -1 before the first step */
    bool run;       /* executed since prepare */
    unsigned char *blob; /* the last bytea column read */
} pg_stmt_t;

/* What every thread's connections to one database share: whether it is
 * down. Made once per URL and kept for the process's life. */
typedef struct pg_health {
    struct pg_health *next;
    char *target;
    _Atomic int64_t down_until; /* monotonic ms: fail at once until then; 0: up */
} pg_health_t;

static pg_health_t *healths;
static pthread_mutex_t healths_lock = PTHREAD_MUTEX_INITIALIZER;

static pg_health_t *health_of(const char *target)
{
    pthread_mutex_lock(&healths_lock);
    pg_health_t *h = healths;
    while (h && strcmp(h->target, target) != 0)
        h = h->next;
    if (h == NULL) {
        h = xcalloc(1, sizeof(*h));
        h->target = xstrdup(target);
        h->next = healths;
        healths = h;
    }
    pthread_mutex_unlock(&healths_lock);
    return h;
}

typedef struct pg_conn {
    db_conn_t base;
    char *target;
    PGconn *pg;
    pg_health_t *health;
    int64_t changes;
    bool in_tx; /* between pg_begin's BEGIN and the caller's commit or rollback */
    char err[256];
    pg_stmt_t stmts[Q__COUNT];
} pg_conn_t;

static _Thread_local bool unavailable;

/* The SQLSTATE of a write refused by a shard fence (admin/shardmove.c's triggers) */
#define PG_FENCED "PM001"

bool db_unavailable(void)
{
    return unavailable;
}

void db_unavailable_clear(void)
{
    unavailable = false;
}

void db_unavailable_note(void)
{
    unavailable = true;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The registry's SQL in PostgreSQL's words. */
static char *to_pg_sql(const char *sql)
{
    buf_t b;
    buf_init(&b, 1 << 16);
    for (const char *p = sql; *p;) {
        if (strncmp(p, "{IDS $", 6) == 0) {
            const char *close = strchr(p, '}');
            buf_printf(&b, "= ANY(CAST($%.*s AS BIGINT[]))", (int)(close - p - 6), p + 6);
            p = close + 1;
        } else if (strncmp(p, "{FOR_UPDATE}", 12) == 0) { /* a row lock to the commit (SQLite: one writer) */
            buf_puts(&b, " FOR UPDATE");
            p += 12;
        } else if (strncmp(p, "{KEY_SHARE}", 11) == 0) { /* a row lock held to the commit: a delete of it waits */
            buf_puts(&b, " FOR KEY SHARE");
            p += 11;
        } else if (strncmp(p, "{SHARD ", 7) == 0) { /* the stored shard column (migration 11) */
            buf_puts(&b, "shard");
            p = strchr(p, '}') + 1;
        } else {
            buf_putc(&b, *p++);
        }
    }
    return buf_steal(&b, NULL);
}

/* Once: every query in PostgreSQL's words (the registry is immutable). */
static char *pg_sql[Q__COUNT];
static pthread_once_t sql_once = PTHREAD_ONCE_INIT;

static void make_sql(void)
{
    for (int i = 0; i < Q__COUNT; i++)
        pg_sql[i] = to_pg_sql(db_query_sql[i]);
}

/* The connection is closed; with whole_db, the database is held down for
 * every thread (it cannot be reached), else only this connection goes. */
static void drop_conn(pg_conn_t *c, const char *why, bool whole_db)
{
    unavailable = true;
    if (whole_db)
        atomic_store(&c->health->down_until, mono_ms() + PG_DOWN_MS);
    snprintf(c->err, sizeof(c->err), "%s", why ? why : "database unavailable");
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
}

static void mark_down(pg_conn_t *c, const char *why)
{
    drop_conn(c, why, true);
}

/* The connection is closed, and with it whatever transaction it had open
 * (the server rolls it back); what the thread's last failure was is left
 * as it was. */
static void close_open_tx(pg_conn_t *c, const char *why)
{
    bool was = unavailable;
    drop_conn(c, why, false);
    unavailable = was;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    log_debug("postgres: %s", message);
}

/* A connection that works, opening it if need be; false (and the database
 * marked down) if the server cannot be reached. */
static bool ensure(pg_conn_t *c)
{
    /* a transaction's connection went, and the transaction with it: what
     * is left of it must not run (a new connection would commit each
     * statement on its own) */
    if (c->in_tx && (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)) {
        snprintf(c->err, sizeof(c->err), PG_TX_LOST);
        return false;
    }
    int64_t now = mono_ms(), until = atomic_load(&c->health->down_until);
    if (now < until) { /* down: even a connection still open would wait on it */
        unavailable = true;
        /* A transaction this refusal cuts short must not stay open on the
         * connection: its ROLLBACK would be refused too, and the next BEGIN
         * (PostgreSQL only warns) would run on inside it and commit its
         * first statements with the next transaction's. Closing the
         * connection makes the server roll it back. */
        if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
            close_open_tx(c, "database unavailable (the open transaction is rolled back)");
        return false;
    }
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
        return true; /* (if the server went, the statement marks it down again) */
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    /* it was down and its time is up: one thread tries, the rest wait for it */
    int64_t claim = now + PG_DOWN_MS;
    if (until != 0 && !atomic_compare_exchange_strong(&c->health->down_until, &until, claim)) {
        unavailable = true;
        return false;
    }
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {c->target, "2", "picogram", NULL};
    c->pg = PQconnectdbParams(keys, vals, 1);
    PQsetNoticeProcessor(c->pg, quiet, NULL);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char why[256];
        snprintf(why, sizeof(why), "%s", PQerrorMessage(c->pg));
        why[strcspn(why, "\n")] = '\0';
        log_warn("postgres: cannot connect: %s", why);
        mark_down(c, why);
        return false;
    }
    if (until != 0) /* back (unless another thread has found it down since) */
        atomic_compare_exchange_strong(&c->health->down_until, &claim, 0);
    return true;
}

static int pg_open(const char *target, const char *sync, db_conn_t **out, char *err, size_t errlen)
{
    pthread_once(&sql_once, make_sql);
    pg_conn_t *c = xcalloc(1, sizeof(*c));
    c->base.drv = &db_driver_postgres;
    /* target is the URL without "postgres:", so put the scheme back */
    buf_t url;
    buf_init(&url, 8192);
    buf_printf(&url, "postgresql:%s", target);
    c->target = buf_steal(&url, NULL);
    c->health = health_of(c->target);
    for (int i = 0; i < Q__COUNT; i++) {
        c->stmts[i].base.drv = &db_driver_postgres;
        c->stmts[i].conn = c;
        c->stmts[i].qid = (unsigned)i;
        c->stmts[i].row = -1;
    }
    ensure(c); /* a server down now may come up later: the connection opens on use */
    *out = &c->base;
    (void)sync, (void)err, (void)errlen;
    return 0;
}

static void stmt_clear(pg_stmt_t *s)
{
    if (s->res)
        PQclear(s->res);
    s->res = NULL;
    s->row = -1;
    s->nrows = 0;
    s->run = false;
    if (s->blob)
        PQfreemem(s->blob);
    s->blob = NULL;
}

static void pg_close(db_conn_t *base)
{
    pg_conn_t *c = (pg_conn_t *)base;
    for (int i = 0; i < Q__COUNT; i++) {
        stmt_clear(&c->stmts[i]);
        for (int k = 0; k < PG_MAX_PARAMS; k++)
            if (c->stmts[i].store[k].data)
                buf_free(&c->stmts[i].store[k]);
    }
    if (c->pg)
        PQfinish(c->pg);
    free(c->target);
    free(c);
}

/* Waits for the result of what was sent, within timeout_ms. NULL on a
 * timeout or a broken connection (then the database is marked down). */
static PGresult *await_result(pg_conn_t *c, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    while (PQisBusy(c->pg)) {
        int left = (int)(deadline - mono_ms());
        struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
        int n = left > 0 ? poll(&pfd, 1, left) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            PGcancel *cancel = PQgetCancel(c->pg);
            char e[128];
            if (cancel) {
                PQcancel(cancel, e, sizeof(e));
                PQfreeCancel(cancel);
            }
            drop_conn(c, "statement timed out", false);
            return NULL;
        }
        if (!PQconsumeInput(c->pg)) {
            mark_down(c, PQerrorMessage(c->pg));
            return NULL;
        }
    }
    PGresult *r = PQgetResult(c->pg), *extra;
    while ((extra = PQgetResult(c->pg)) != NULL) /* drain to the end of the statement */
        PQclear(extra);
    return r;
}

/* Whether an error means the database cannot be reached (not a bad query). */
static bool is_unavailable(PGresult *r, pg_conn_t *c)
{
    if (PQstatus(c->pg) != CONNECTION_OK)
        return true;
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    /* 08: connection exception; 57P0x: shutdown, cannot connect now; 53: out of resources */
    return st == NULL || strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0 || strncmp(st, "53", 2) == 0;
}

/* Runs sql with the statement's parameters; the result (or NULL) in s. */
static int run(pg_stmt_t *s, const char *sql)
{
    pg_conn_t *c = s->conn;
    stmt_clear(s);
    s->run = true;
    if (!ensure(c))
        return DB_ERROR;
    if (!PQsendQueryParams(c->pg, sql, s->nparams, NULL, (const char *const *)s->vals, s->lens, s->fmts, 0)) {
        mark_down(c, PQerrorMessage(c->pg));
        return DB_ERROR;
    }
    PGresult *r = await_result(c, PG_STATEMENT_TIMEOUT_MS);
    if (r == NULL)
        return DB_ERROR;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        s->res = r;
        s->nrows = st == PGRES_TUPLES_OK ? PQntuples(r) : 0;
        const char *t = PQcmdTuples(r);
        c->changes = t && *t ? strtoll(t, NULL, 10) : 0;
        return DB_OK;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    int rc = state && strncmp(state, "23", 2) == 0 ? DB_CONSTRAINT : DB_ERROR;
    if (rc == DB_ERROR) {
        char why[256];
        snprintf(why, sizeof(why), "%s", PQresultErrorMessage(r));
        why[strcspn(why, "\n")] = '\0';
        /* 40P01 deadlock detected, 40001 serialization failure: the caller
         * runs the transaction again (far_again) */
        if (state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0)) {
            c->base.conflict = true;
            log_info("postgres: %s: %s (the transaction runs again)", db_query_name[s->qid], why);
            snprintf(c->err, sizeof(c->err), "%s", why);
        } else if (state && strcmp(state, PG_FENCED) == 0) {
            /* a logical shard moving or moved away (admin/shardmove.h): the
             * request answers 503, a job waits, and the map is read again */
            log_info("postgres: %s: %s", db_query_name[s->qid], why);
            snprintf(c->err, sizeof(c->err), "%s", why);
            unavailable = true;
            db_map_stale_note();
        } else if (is_unavailable(r, c)) {
            log_warn("postgres: %s", why);
            mark_down(c, why);
        } else {
            log_error("postgres: %s: %s", db_query_name[s->qid], why);
            snprintf(c->err, sizeof(c->err), "%s", why);
        }
    }
    PQclear(r);
    return rc;
}

static db_stmt_t *pg_prepare(db_conn_t *base, unsigned qid)
{
    pg_conn_t *c = (pg_conn_t *)base;
    pg_stmt_t *s = &c->stmts[qid];
    stmt_clear(s);
    s->nparams = 0;
    return &s->base;
}

#define PS(x) ((pg_stmt_t *)(x))

/* Parameter idx (1-based) as bytes: text (NUL-terminated) or binary. */
static void put_param(db_stmt_t *st, int idx, const void *p, size_t n, bool binary)
{
    pg_stmt_t *s = PS(st);
    if (idx < 1 || idx > PG_MAX_PARAMS)
        abort(); /* the registry is ours: a bug */
    int i = idx - 1;
    if (s->store[i].data == NULL)
        buf_init(&s->store[i], 64u << 20);
    buf_reset(&s->store[i]);
    buf_append(&s->store[i], p, n);
    buf_putc(&s->store[i], '\0');
    s->vals[i] = s->store[i].data;
    s->lens[i] = (int)n;
    s->fmts[i] = binary;
    if (idx > s->nparams)
        s->nparams = idx;
}

static void pg_bind_i64(db_stmt_t *s, int i, int64_t v)
{
    char t[24];
    int n = snprintf(t, sizeof(t), "%lld", (long long)v);
    put_param(s, i, t, (size_t)n, false);
}

static void pg_bind_text(db_stmt_t *s, int i, const char *p, size_t n)
{
    put_param(s, i, p, n, false);
}

static void pg_bind_blob(db_stmt_t *s, int i, const void *p, size_t n)
{
    put_param(s, i, p, n, true);
}

static void pg_bind_null(db_stmt_t *st, int idx)
{
    pg_stmt_t *s = PS(st);
    if (idx < 1 || idx > PG_MAX_PARAMS)
        abort();
    s->vals[idx - 1] = NULL;
    s->lens[idx - 1] = 0;
    s->fmts[idx - 1] = 0;
    if (idx > s->nparams)
        s->nparams = idx;
}

static void pg_bind_double(db_stmt_t *s, int i, double v)
{
    char t[40];
    int n = snprintf(t, sizeof(t), "%.17g", v);
    put_param(s, i, t, (size_t)n, false);
}

static void pg_bind_ids(db_stmt_t *s, int i, const int64_t *ids, size_t n)
{
    buf_t b;
    buf_init(&b, 64u << 20);
    buf_putc(&b, '{');
    for (size_t k = 0; k < n; k++)
        buf_printf(&b, k ? ",%lld" : "%lld", (long long)ids[k]);
    buf_putc(&b, '}');
    put_param(s, i, b.data, b.len, false);
    buf_free(&b);
}

static int pg_step(db_stmt_t *st)
{
    pg_stmt_t *s = PS(st);
    if (!s->run) {
        int rc = run(s, pg_sql[s->qid]);
        if (rc != DB_OK)
            return rc;
    }
    if (s->res == NULL)
        return DB_ERROR;
    if (s->row + 1 < s->nrows) {
        s->row++;
        return DB_ROW;
    }
    return DB_DONE;
}

static const char *value(pg_stmt_t *s, int col)
{
    if (s->res == NULL || s->row < 0 || s->row >= s->nrows || col >= PQnfields(s->res) ||
        PQgetisnull(s->res, s->row, col))
        return NULL;
    return PQgetvalue(s->res, s->row, col);
}

static int64_t pg_col_i64(db_stmt_t *st, int col)
{
    const char *v = value(PS(st), col);
    if (v == NULL)
        return 0;
    if (v[0] == 't' || v[0] == 'f') /* a boolean */
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static double pg_col_double(db_stmt_t *st, int col)
{
    const char *v = value(PS(st), col);
    return v ? strtod(v, NULL) : 0.0;
}

static const char *pg_col_text(db_stmt_t *st, int col, size_t *len)
{
    pg_stmt_t *s = PS(st);
    const char *v = value(s, col);
    *len = v ? (size_t)PQgetlength(s->res, s->row, col) : 0;
    return v;
}

static const void *pg_col_blob(db_stmt_t *st, int col, size_t *len)
{
    pg_stmt_t *s = PS(st);
    const char *v = value(s, col);
    *len = 0;
    if (v == NULL)
        return NULL;
    if (s->blob)
        PQfreemem(s->blob);
    s->blob = PQunescapeBytea((const unsigned char *)v, len);
    return s->blob;
}

static bool pg_col_null(db_stmt_t *st, int col)
{
    return value(PS(st), col) == NULL;
}

static void pg_reset(db_stmt_t *st)
{
    stmt_clear(PS(st));
}

static void pg_release(db_conn_t *base)
{
    pg_conn_t *c = (pg_conn_t *)base;
    for (int i = 0; i < Q__COUNT; i++)
        if (c->stmts[i].res || c->stmts[i].blob)
            stmt_clear(&c->stmts[i]);
}

/* A statement of no parameters and no rows (BEGIN, COMMIT, ...). */
static int simple(pg_conn_t *c, const char *sql)
{
    if (!ensure(c))
        return DB_ERROR;
    if (!PQsendQuery(c->pg, sql)) {
        mark_down(c, PQerrorMessage(c->pg));
        return DB_ERROR;
    }
    PGresult *r = await_result(c, PG_STATEMENT_TIMEOUT_MS);
    if (r == NULL)
        return DB_ERROR;
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? DB_OK : DB_ERROR;
    if (rc != DB_OK) {
        snprintf(c->err, sizeof(c->err), "%s", PQresultErrorMessage(r));
        if (is_unavailable(r, c))
            mark_down(c, c->err);
    }
    PQclear(r);
    return rc;
}

static int pg_exec(db_conn_t *base, const char *sql, char *err, size_t errlen)
{
    pg_conn_t *c = (pg_conn_t *)base;
    if (!ensure(c)) {
        snprintf(err, errlen, "%s", c->err);
        return -1;
    }
    PGresult *r = PQexec(c->pg, sql); /* scripts: many statements, no timeout (migrations) */
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

static int pg_begin(db_conn_t *base)
{
    pg_conn_t *c = (pg_conn_t *)base;
    /* never run on inside a transaction something left open: closing the
     * connection rolls it back (ensure opens another) */
    if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        log_warn("postgres: a transaction was left open on a connection; it is rolled back");
        close_open_tx(c, "a transaction was left open");
    }
    c->in_tx = false; /* (one its caller did not end is over) */
    int rc = simple(c, "BEGIN");
    c->in_tx = rc == DB_OK;
    return rc;
}

static int pg_commit(db_conn_t *base)
{
    pg_conn_t *c = (pg_conn_t *)base;
    bool began = c->in_tx;
    c->in_tx = false;
    /* a transaction whose connection went: COMMIT on another connection
     * (none open there) would only warn, and answer success */
    if (began && (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) == PQTRANS_IDLE)) {
        snprintf(c->err, sizeof(c->err), PG_TX_LOST);
        return DB_ERROR;
    }
    /* COMMIT of a transaction an error aborted answers "ROLLBACK", no error */
    if (c->pg && PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
        snprintf(c->err, sizeof(c->err), "the transaction was aborted by an earlier error");
        simple(c, "ROLLBACK");
        return DB_ERROR;
    }
    return simple(c, "COMMIT");
}

static int pg_rollback(db_conn_t *base)
{
    pg_conn_t *c = (pg_conn_t *)base;
    c->in_tx = false;
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return DB_OK; /* nothing open (a broken connection took its transaction with it) */
    if (simple(c, "ROLLBACK") == DB_OK)
        return DB_OK;
    /* not rolled back (refused, or it failed): the connection goes, and
     * the server rolls the transaction back with it */
    if (c->pg)
        close_open_tx(c, "the transaction could not be rolled back: its connection is closed");
    return DB_OK;
}

static int pg_lock(db_conn_t *base, int64_t key)
{
    pg_conn_t *c = (pg_conn_t *)base;
    pg_stmt_t s = {.base.drv = &db_driver_postgres, .conn = c, .qid = 0, .row = -1};
    pg_bind_i64(&s.base, 1, key);
    int rc = run(&s, "SELECT pg_advisory_xact_lock($1)");
    stmt_clear(&s);
    for (int k = 0; k < PG_MAX_PARAMS; k++)
        if (s.store[k].data)
            buf_free(&s.store[k]);
    return rc == DB_OK ? DB_OK : DB_ERROR;
}

static int64_t pg_changes(db_conn_t *c)
{
    return ((pg_conn_t *)c)->changes;
}

static const char *pg_errmsg(db_conn_t *c)
{
    return ((pg_conn_t *)c)->err;
}

const db_driver_t db_driver_postgres = {
    .scheme = "postgres",
    .dialect_id_type = "BIGINT",
    .dialect_blob_type = "BYTEA",
    .remote = true,
    /* a stored shard column and a unique index by (shard, key) on every
     * table keyed by an ID: a logical shard's rows, without reading the
     * others' (the unique index can be a publication's replica identity) */
    .dialect_shard_keys =
        "ALTER TABLE users ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX users_by_shard ON users (shard, id);"
        "ALTER TABLE tokens ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX tokens_by_shard ON tokens (shard, hash);"
        "ALTER TABLE media ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX media_by_shard ON media (shard, id);"
        "ALTER TABLE media_tags ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((media_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX media_tags_by_shard ON media_tags (shard, tag, id);"
        "ALTER TABLE media_mentions ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((media_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX media_mentions_by_shard ON media_mentions (shard, media_id, username_lower);"
        "ALTER TABLE locations ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX locations_by_shard ON locations (shard, id);"
        "ALTER TABLE location_media ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((location_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX location_media_by_shard ON location_media (shard, location_id, media_id);"
        "ALTER TABLE following ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX following_by_shard ON following (shard, user_id, target_id);"
        "ALTER TABLE followers ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX followers_by_shard ON followers (shard, user_id, follower_id);"
        "ALTER TABLE blocks ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX blocks_by_shard ON blocks (shard, user_id, target_id);"
        "ALTER TABLE feed_items ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX feed_items_by_shard ON feed_items (shard, user_id, media_id);"
        "ALTER TABLE feed_state ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX feed_state_by_shard ON feed_state (shard, user_id);"
        "ALTER TABLE likes ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((media_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX likes_by_shard ON likes (shard, media_id, user_id);"
        "ALTER TABLE liked ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX liked_by_shard ON liked (shard, user_id, id);"
        "ALTER TABLE comments ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((media_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX comments_by_shard ON comments (shard, id);"
        "ALTER TABLE activity ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX activity_by_shard ON activity (shard, id);"
        "ALTER TABLE geo_media ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX geo_media_by_shard ON geo_media (shard, id);"
        "ALTER TABLE geo_places ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX geo_places_by_shard ON geo_places (shard, id);"
        "ALTER TABLE jobs ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX jobs_by_shard ON jobs (shard, id);",
    .dialect_key_shards = "CREATE UNIQUE INDEX usernames_by_shard ON usernames (shard, username_lower);"
                          "CREATE UNIQUE INDEX tags_by_shard ON tags (shard, name);"
                          "CREATE UNIQUE INDEX tag_media_by_shard ON tag_media (shard, tag, id);",
    /* an upsert's conflict target is its only arbiter: a unique index beside
     * it fails the upsert when another transaction inserts the same key */
    .dialect_upsert_shard_keys = "DROP INDEX tags_by_shard; CREATE INDEX tags_by_shard ON tags (shard, name);"
                                 "DROP INDEX following_by_shard;"
                                 "CREATE INDEX following_by_shard ON following (shard, user_id, target_id);"
                                 "DROP INDEX followers_by_shard;"
                                 "CREATE INDEX followers_by_shard ON followers (shard, user_id, follower_id);"
                                 "DROP INDEX feed_state_by_shard;"
                                 "CREATE INDEX feed_state_by_shard ON feed_state (shard, user_id);",
    .dialect_app_shard_keys =
        "ALTER TABLE apps ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX apps_by_shard ON apps (shard, id);"
        "ALTER TABLE oauth_codes ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX oauth_codes_by_shard ON oauth_codes (shard, hash);"
        "ALTER TABLE share_accounts ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX share_accounts_by_shard ON share_accounts (shard, id);"
        "ALTER TABLE shares ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((media_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE UNIQUE INDEX shares_by_shard ON shares (shard, media_id, account_id);"
        "ALTER TABLE devices ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE INDEX devices_by_shard ON devices (shard, id);"
        "ALTER TABLE push_pending ADD COLUMN shard SMALLINT GENERATED ALWAYS AS (CAST(((user_id >> 10) & 8191) AS SMALLINT)) STORED;"
        "CREATE INDEX push_pending_by_shard ON push_pending (shard, id);",
    /* plain tables of integer points (degrees x 10^7, seconds since 2011),
     * searched through an index on the latitude (geo/rtree.c's queries) */
    .dialect_geo_index =
        "CREATE TABLE geo_media (id BIGINT PRIMARY KEY, lat0 INTEGER NOT NULL, lat1 INTEGER NOT NULL,"
        " lng0 INTEGER NOT NULL, lng1 INTEGER NOT NULL, t0 INTEGER NOT NULL, t1 INTEGER NOT NULL);"
        "CREATE INDEX geo_media_lat ON geo_media (lat0, lng0);"
        "CREATE TABLE geo_places (id BIGINT PRIMARY KEY, lat0 INTEGER NOT NULL, lat1 INTEGER NOT NULL,"
        " lng0 INTEGER NOT NULL, lng1 INTEGER NOT NULL);"
        "CREATE INDEX geo_places_lat ON geo_places (lat0, lng0);",
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .prepare = pg_prepare,
    .bind_i64 = pg_bind_i64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .bind_double = pg_bind_double,
    .bind_ids = pg_bind_ids,
    .step = pg_step,
    .col_i64 = pg_col_i64,
    .col_double = pg_col_double,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .col_null = pg_col_null,
    .reset = pg_reset,
    .release = pg_release,
    .begin = pg_begin,
    .lock = pg_lock,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .errmsg = pg_errmsg,
    .changes = pg_changes,
};
