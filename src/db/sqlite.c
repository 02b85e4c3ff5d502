/*
 * The SQLite driver: the embedded topology's database.
 *
 * One connection per thread (opened with SQLITE_OPEN_NOMUTEX), WAL mode so
 * readers never wait for the writer, a busy timeout for writers, and
 * statements prepared once per connection with SQLITE_PREPARE_PERSISTENT.
 */
#include "db/db.h"
#include "core/buf.h"
#include "obs/log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sq_stmt {
    db_stmt_t base;
    sqlite3_stmt *st;
    struct sq_conn *conn;
} sq_stmt_t;

typedef struct sq_conn {
    db_conn_t base;
    sqlite3 *db;
    sq_stmt_t stmts[Q__COUNT];
} sq_conn_t;

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

static int sq_open(const char *target, const char *sync, db_conn_t **out, char *err, size_t errlen)
{
    sq_conn_t *c = xcalloc(1, sizeof(*c));
    c->base.drv = &db_driver_sqlite;
    int rc = sqlite3_open_v2(target, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
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
             /* pages through mmap rather than a read(2) each; a 16 MiB page cache per connection */
             "PRAGMA mmap_size=1073741824; PRAGMA cache_size=-16384;",
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

static void sq_close(db_conn_t *base)
{
    sq_conn_t *c = (sq_conn_t *)base;
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(c->stmts[i].st);
    sqlite3_close(c->db);
    free(c);
}

static int sq_exec(db_conn_t *base, const char *sql, char *err, size_t errlen)
{
    sq_conn_t *c = (sq_conn_t *)base;
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
    sq_conn_t *c = (sq_conn_t *)base;
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
    int rc = sqlite3_step(ST(s));
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
    sqlite3_reset(ST(s));
}

static void sq_release(db_conn_t *c)
{
    sqlite3 *db = ((sq_conn_t *)c)->db;
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st; st = sqlite3_next_stmt(db, st))
        if (sqlite3_stmt_busy(st))
            sqlite3_reset(st);
}

static int run_simple(db_conn_t *c, unsigned qid)
{
    return db_exec_stmt(sq_prepare(c, qid)) == DB_DONE ? DB_OK : DB_ERROR;
}

static int sq_begin(db_conn_t *c)
{
    /* IMMEDIATE: take the write lock now, so a transaction never fails to
     * upgrade from read to write half-way through. */
    sq_conn_t *sc = (sq_conn_t *)c;
    return sqlite3_exec(sc->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? DB_OK : DB_ERROR;
}

static int sq_lock(db_conn_t *c, int64_t key)
{
    (void)c, (void)key; /* BEGIN IMMEDIATE: one writer at a time already */
    return DB_OK;
}

static int sq_commit(db_conn_t *c)
{
    return run_simple(c, Q_COMMIT);
}

static int sq_rollback(db_conn_t *c)
{
    sq_conn_t *sc = (sq_conn_t *)c;
    if (sqlite3_get_autocommit(sc->db))
        return DB_OK; /* nothing open (SQLite may have rolled back already) */
    return run_simple(c, Q_ROLLBACK);
}

static int64_t sq_changes(db_conn_t *c)
{
    return sqlite3_changes64(((sq_conn_t *)c)->db);
}

static const char *sq_errmsg(db_conn_t *c)
{
    return sqlite3_errmsg(((sq_conn_t *)c)->db);
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
};
