/* Moving logical shards between PostgreSQL servers: see shardmove.h. */
#include "admin/shardmove.h"
#include "admin/admin.h"
#include "core/buf.h"
#include "core/ids.h"
#include "db/db.h"
#include "model/nodes.h"

#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { OK = 0, FAILED = 1, USAGE = 2 };
/* failed copies of a table, in one run, before the move stops (copy_and_fence) */
#define COPY_FAILURES 3

#define MAX_TABLES 64
#define CATCH_UP_BYTES 65536

#define say admin_say

/* The tables of logical shards: those with a shard column; but not the
 * jobs, which any server runs wherever they wait (jobs/outbox.c), and whose
 * shard is only their ID's (a periodic job's is 0, on the first database). */
#define SHARD_TABLES                                                                                                   \
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "                                  \
    "JOIN pg_attribute a ON a.attrelid = c.oid WHERE n.nspname = 'public' AND c.relkind = 'r' "                        \
    "AND a.attname = 'shard' AND NOT a.attisdropped AND c.relname <> 'jobs' ORDER BY 1"

typedef struct mv {
    long long id;
    unsigned lo, hi;
    char source[1024], target[1024], state[16], name[64];
    bool drop_source;
    bool dst_fenced; /* this run has fenced the target on the range, and not lifted it since */
    int catch_up_s;  /* how long writes may stay fenced while the target catches up */
    dbmap_t *map;
    PGconn *cat, *src, *dst;
    char *tables[MAX_TABLES];
    size_t ntables;
} mv_t;

/* The text of b, NUL-terminated (a buf_t keeps no NUL of its own). */
static const char *text_of(buf_t *b)
{
    buf_putc(b, '\0');
    if (b->overflow) /* cut short: no statement (the server refuses an empty one), not a partial one */
        return "";
    b->len--;
    return b->data;
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Runs sql (with text parameters); the result if it succeeded, else NULL
 * (the error said, unless quiet). */
static PGresult *run(PGconn *c, bool quiet, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    if (!quiet) {
        char why[512];
        snprintf(why, sizeof(why), "%s", PQerrorMessage(c));
        why[strcspn(why, "\n")] = '\0';
        say(FAILED, "%s: %.120s", why, sql);
    }
    PQclear(r);
    return NULL;
}

static int exec(PGconn *c, const char *sql)
{
    PGresult *r = run(c, false, sql, 0, NULL);
    PQclear(r);
    return r ? 0 : -1;
}

/* A script in one transaction (a string of statements): 0, or -1 rolled back. */
static int script(PGconn *c, const char *sql, bool quiet)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok && !quiet) {
        char why[512];
        snprintf(why, sizeof(why), "%s", PQerrorMessage(c));
        why[strcspn(why, "\n")] = '\0';
        say(FAILED, "%s", why);
    }
    PQclear(r);
    if (!ok)
        PQclear(PQexec(c, "ROLLBACK"));
    return ok ? 0 : -1;
}

/* One value of a one-row query, copied into out: 0, or -1. */
static int scalar(PGconn *c, const char *sql, int n, const char *const *params, char *out, size_t cap)
{
    PGresult *r = run(c, false, sql, n, params);
    int rc = r && PQntuples(r) == 1 ? 0 : -1;
    if (rc == 0)
        snprintf(out, cap, "%s", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

static PGconn *connect_to(const char *url, const char *what)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        char red[1024];
        db_url_redacted(url, red, sizeof(red));
        say(FAILED, "cannot reach the %s, %s: %s", what, red, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void mv_close(mv_t *m)
{
    PQfinish(m->cat);
    PQfinish(m->src);
    PQfinish(m->dst);
    for (size_t i = 0; i < m->ntables; i++)
        free(m->tables[i]);
    dbmap_free(m->map);
    memset(m, 0, sizeof(*m));
}

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg, (void)msg;
}

/* The map of the settings, moved as the catalog says; every database PostgreSQL. */
static int open_map(const config_t *cfg, mv_t *m)
{
    char err[512];
    if ((m->map = dbmap_new(cfg->database, cfg->sqlite_sync, err, sizeof(err))) == NULL)
        return say(USAGE, "%s", err);
    for (size_t i = 0; i < dbmap_count(m->map); i++)
        if (strncmp(dbmap_url(m->map, i), "postgres", 8) != 0)
            return say(USAGE, "%s", "logical shards move between PostgreSQL servers: the map has a SQLite database");
    if (db_check_schemas(m->map, err, sizeof(err)) != 0)
        return say(FAILED, "%s", err);
    if (dbmap_load(m->map, err, sizeof(err)) < 0)
        return say(FAILED, "%s", err);
    if ((m->cat = connect_to(dbmap_url(m->map, 0), "catalog (the settings' first database)")) == NULL)
        return FAILED;
    PQsetNoticeProcessor(m->cat, quiet_notice, NULL);
    return OK;
}

static int open_ends(mv_t *m)
{
    if ((m->src = connect_to(m->source, "source")) == NULL || (m->dst = connect_to(m->target, "target")) == NULL)
        return FAILED;
    PQsetNoticeProcessor(m->src, quiet_notice, NULL);
    PQsetNoticeProcessor(m->dst, quiet_notice, NULL);
    snprintf(m->name, sizeof(m->name), "picogram_move_%lld", m->id);
    PGresult *r = run(m->src, false, SHARD_TABLES, 0, NULL);
    if (r == NULL)
        return FAILED;
    if (PQntuples(r) > MAX_TABLES) {
        PQclear(r);
        return say(FAILED, "more than %d tables of logical shards: this picogram cannot move them", MAX_TABLES);
    }
    for (int i = 0; i < PQntuples(r); i++)
        m->tables[m->ntables++] = xstrdup(PQgetvalue(r, i, 0));
    PQclear(r);
    return m->ntables ? OK : say(FAILED, "%s", "the source has no tables of logical shards (not migrated?)");
}

static int set_state(mv_t *m, const char *state, const char *extra)
{
    char id[32], now[32];
    snprintf(id, sizeof(id), "%lld", m->id);
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    buf_t sql;
    buf_init(&sql, 4096);
    /* only from the state this process found: another run of the same move (a --resume or --abort beside
     * it) that changed it first wins, and this one stops */
    const char *from = m->state;
    const char *q[4] = {state, id, now, from};
    buf_printf(&sql, "UPDATE shard_moves SET state = $1, updated_at = $3%s WHERE id = $2 AND state = $4",
               extra ? extra : "");
    PGresult *r = run(m->cat, false, text_of(&sql), 4, q);
    buf_free(&sql);
    bool changed = r && atoi(PQcmdTuples(r)) == 1;
    PQclear(r);
    if (r == NULL)
        return FAILED;
    if (!changed)
        return say(FAILED, "move %lld is no longer %s: another run of it changed it; this one stops", m->id, from);
    snprintf(m->state, sizeof(m->state), "%s", state);
    const char *stop_at = getenv("PICOGRAM_MOVE_PAUSE"); /* the kill tests: stop here, to be killed */
    if (stop_at && strcmp(stop_at, state) == 0) {
        fprintf(stderr, "picogram: move %lld paused at %s\n", m->id, state);
        fflush(stderr);
        for (;;)
            pause();
    }
    return OK;
}

/* ---- fences: triggers that refuse writes to shards moving or moved away ---- */

/* Sets (add) or clears [lo, hi] in the fences of the server on c, and
 * makes its triggers say so, in one transaction; retried while locks
 * wait. */
static int fence_set(mv_t *m, PGconn *c, bool add)
{
    if (exec(c, "CREATE OR REPLACE FUNCTION picogram_fenced() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
                "RAISE EXCEPTION 'picogram: a logical shard of this row of % is fenced on this server (moving or "
                "moved away)', TG_TABLE_NAME USING ERRCODE = 'PM001'; END $f$") != 0)
        return FAILED;
    unsigned char fenced[IDS_NSHARDS] = {0};
    PGresult *r = run(c, false, "SELECT lo, hi FROM shard_fences", 0, NULL);
    if (r == NULL)
        return FAILED;
    for (int i = 0; i < PQntuples(r); i++) {
        unsigned lo = (unsigned)atoi(PQgetvalue(r, i, 0)), hi = (unsigned)atoi(PQgetvalue(r, i, 1));
        for (unsigned s = lo; s <= hi && s < IDS_NSHARDS; s++)
            fenced[s] = 1;
    }
    PQclear(r);
    for (unsigned s = m->lo; s <= m->hi; s++)
        fenced[s] = add;
    buf_t sql, cond_new, cond_old;
    buf_init(&sql, 1u << 20);
    buf_init(&cond_new, 1u << 16);
    buf_init(&cond_old, 1u << 16);
    buf_puts(&sql, "BEGIN; SET LOCAL lock_timeout = '200ms'; DELETE FROM shard_fences;");
    for (unsigned s = 0; s < IDS_NSHARDS;) {
        if (!fenced[s]) {
            s++;
            continue;
        }
        unsigned e = s;
        while (e + 1 < IDS_NSHARDS && fenced[e + 1])
            e++;
        buf_printf(&sql, "INSERT INTO shard_fences (lo, hi, move_id) VALUES (%u, %u, %lld);", s, e, m->id);
        buf_printf(&cond_new, "%s(NEW.shard BETWEEN %u AND %u)", cond_new.len ? " OR " : "", s, e);
        buf_printf(&cond_old, "%s(OLD.shard BETWEEN %u AND %u)", cond_old.len ? " OR " : "", s, e);
        s = e + 1;
    }
    for (size_t t = 0; t < m->ntables; t++) {
        const char *tb = m->tables[t];
        if (cond_new.len == 0) {
            buf_printf(&sql,
                       "DROP TRIGGER IF EXISTS picogram_fence_ins ON %s; DROP TRIGGER IF EXISTS picogram_fence_upd "
                       "ON %s; DROP TRIGGER IF EXISTS picogram_fence_del ON %s;",
                       tb, tb, tb);
            continue;
        }
        buf_printf(&sql,
                   "CREATE OR REPLACE TRIGGER picogram_fence_ins AFTER INSERT ON %s FOR EACH ROW WHEN (%.*s) "
                   "EXECUTE FUNCTION picogram_fenced();",
                   tb, (int)cond_new.len, cond_new.data);
        buf_printf(&sql,
                   "CREATE OR REPLACE TRIGGER picogram_fence_upd AFTER UPDATE ON %s FOR EACH ROW WHEN (%.*s OR "
                   "%.*s) EXECUTE FUNCTION picogram_fenced();",
                   tb, (int)cond_new.len, cond_new.data, (int)cond_old.len, cond_old.data);
        buf_printf(&sql,
                   "CREATE OR REPLACE TRIGGER picogram_fence_del AFTER DELETE ON %s FOR EACH ROW WHEN (%.*s) "
                   "EXECUTE FUNCTION picogram_fenced();",
                   tb, (int)cond_old.len, cond_old.data);
    }
    buf_puts(&sql, "COMMIT;");
    int rc = FAILED;
    for (int tries = 0; tries < 50 && rc != OK; tries++) {
        if (sql.overflow) {
            say(FAILED, "%s", "too many fenced ranges");
            break;
        }
        /* a lock wait timed out (short: a waiting lock holds up every other writer of the table): again */
        rc = script(c, text_of(&sql), tries < 49) == 0 ? OK : FAILED;
        if (rc != OK)
            nap_ms(200);
    }
    buf_free(&sql);
    buf_free(&cond_new);
    buf_free(&cond_old);
    return rc;
}

/* ---- the steps ---- */

static int replica_identity(mv_t *m, const char *identity)
{
    for (size_t t = 0; t < m->ntables; t++) {
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "BEGIN; SET LOCAL lock_timeout = '200ms'; ALTER TABLE %s REPLICA IDENTITY %s; COMMIT;", m->tables[t],
                 identity);
        int rc = -1;
        for (int tries = 0; tries < 50 && rc != 0; tries++)
            if ((rc = script(m->src, sql, tries < 49)) != 0)
                nap_ms(200);
        if (rc != 0)
            return FAILED;
    }
    return OK;
}

/* The subscription, publication and slot of this move, gone (each if there). */
static int drop_stream(mv_t *m)
{
    char sql[256];
    const char *p[1] = {m->name};
    PGresult *r = run(m->dst, false, "SELECT 1 FROM pg_subscription WHERE subname = $1", 1, p);
    if (r == NULL)
        return FAILED;
    bool sub = PQntuples(r) > 0;
    PQclear(r);
    if (sub) {
        snprintf(sql, sizeof(sql), "ALTER SUBSCRIPTION %s DISABLE", m->name);
        exec(m->dst, sql);
        snprintf(sql, sizeof(sql), "ALTER SUBSCRIPTION %s SET (slot_name = NONE)", m->name);
        if (exec(m->dst, sql) != 0)
            return FAILED;
        snprintf(sql, sizeof(sql), "DROP SUBSCRIPTION %s", m->name);
        if (exec(m->dst, sql) != 0)
            return FAILED;
    }
    /* the slot on the source (the subscription no longer drops it: it may be down); a walsender
     * still on it is ended after 5 s; a slot left would keep the source's WAL until its disk fills */
    bool dropped = false;
    for (int tries = 0; tries < 100 && !dropped; tries++) {
        r = run(m->src, true,
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", 1, p);
        dropped = r != NULL;
        PQclear(r);
        if (!dropped && tries >= 50)
            PQclear(run(m->src, true,
                        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND "
                        "active_pid IS NOT NULL",
                        1, p));
        if (!dropped)
            nap_ms(100);
    }
    if (!dropped)
        return say(FAILED, "cannot drop the replication slot %s on the source: drop it there before anything else",
                   m->name);
    snprintf(sql, sizeof(sql), "DROP PUBLICATION IF EXISTS %s", m->name);
    return exec(m->src, sql) == 0 ? OK : FAILED;
}

/* The source's tables back to their default replica identity, unless another move publishes them. */
static int identity_back(mv_t *m)
{
    char n[32];
    if (scalar(m->src, "SELECT count(*) FROM pg_publication WHERE pubname LIKE 'picogram\\_move\\_%'", 0, NULL, n,
               sizeof(n)) != 0)
        return FAILED;
    return atoi(n) == 0 ? replica_identity(m, "DEFAULT") : OK;
}

/* Deletes the rows of the range from every shard table on c, past its
 * fence triggers (a replica's session runs no ordinary trigger). If
 * archive, they are kept first in the schema picogram_moved_<id>. */
static int clear_range(mv_t *m, PGconn *c, bool archive)
{
    for (size_t t = 0; t < m->ntables; t++) {
        buf_t sql;
        buf_init(&sql, 8192);
        buf_puts(&sql, "BEGIN; SET LOCAL session_replication_role = replica;");
        if (archive) {
            char exists[8], q[256];
            snprintf(q, sizeof(q), "SELECT to_regclass('picogram_moved_%lld.%s') IS NOT NULL", m->id, m->tables[t]);
            if (scalar(c, q, 0, NULL, exists, sizeof(exists)) != 0) {
                buf_free(&sql);
                return FAILED;
            }
            if (strcmp(exists, "t") == 0) { /* done before a crash (with its delete, in the same transaction) */
                buf_free(&sql);
                continue;
            }
            buf_printf(&sql,
                       "CREATE SCHEMA IF NOT EXISTS picogram_moved_%lld; CREATE TABLE picogram_moved_%lld.%s AS "
                       "SELECT * FROM public.%s WHERE shard BETWEEN %u AND %u;",
                       m->id, m->id, m->tables[t], m->tables[t], m->lo, m->hi);
        }
        buf_printf(&sql, "DELETE FROM public.%s WHERE shard BETWEEN %u AND %u; COMMIT;", m->tables[t], m->lo, m->hi);
        int rc = script(c, text_of(&sql), false);
        buf_free(&sql);
        if (rc != 0)
            return FAILED;
    }
    return OK;
}

/* key='value' into a connection string, the value's quotes and backslashes escaped */
static void conn_value(buf_t *b, const char *key, const char *v)
{
    buf_printf(b, "%s%s='", b->len ? " " : "", key);
    for (; *v; v++) {
        if (*v == '\'' || *v == '\\')
            buf_putc(b, '\\');
        buf_putc(b, *v);
    }
    buf_putc(b, '\'');
}

static int prepare(mv_t *m)
{
    if (drop_stream(m) != OK)
        return FAILED;
    /* the target: nothing of the range in its live tables (the map sends
     * none of it there), and fenced on it until the switch, so that no
     * process on an old map writes there meanwhile (the copy and the stream
     * apply as replication, for which triggers do not fire) */
    if (clear_range(m, m->dst, false) != OK || fence_set(m, m->dst, true) != OK)
        return FAILED;
    m->dst_fenced = true;
    if (replica_identity(m, "FULL") != OK)
        return FAILED;
    /* the mark the source writes once fenced: its arrival on the target says all before it has */
    char marks[256];
    snprintf(marks, sizeof(marks),
             "CREATE TABLE IF NOT EXISTS picogram_move_marks (id BIGINT PRIMARY KEY, at BIGINT NOT NULL); DELETE FROM "
             "picogram_move_marks WHERE id = %lld",
             m->id);
    if (script(m->src, marks, false) != 0 || script(m->dst, marks, false) != 0)
        return FAILED;
    buf_t sql;
    buf_init(&sql, 1u << 16);
    buf_printf(&sql, "CREATE PUBLICATION %s FOR TABLE picogram_move_marks WHERE (id = %lld)", m->name, m->id);
    for (size_t t = 0; t < m->ntables; t++)
        buf_printf(&sql, ", %s WHERE (shard BETWEEN %u AND %u)", m->tables[t], m->lo, m->hi);
    buf_puts(&sql, " WITH (publish = 'insert, update, delete')");
    int rc = exec(m->src, text_of(&sql));
    buf_free(&sql);
    if (rc != 0)
        return FAILED;
    /* the target connects to the source itself (replication does not go through pgbouncer) */
    PGresult *r =
        run(m->src, false,
            "SELECT host(inet_server_addr()), inet_server_port()::text, current_database(), current_user", 0, NULL);
    if (r == NULL)
        return FAILED;
    if (PQgetisnull(r, 0, 0)) {
        PQclear(r);
        return say(USAGE, "%s", "the source is reached over a Unix socket: give its URL with a TCP host");
    }
    /* the connection string, each value quoted, the password the source URL's (or PGPASSWORD's) */
    buf_t conn;
    buf_init(&conn, 4096);
    const char *key[4] = {"host", "port", "dbname", "user"};
    for (int i = 0; i < 4; i++)
        conn_value(&conn, key[i], PQgetvalue(r, 0, i));
    PQclear(r);
    PQconninfoOption *opts = PQconninfoParse(m->source, NULL);
    const char *pw = getenv("PGPASSWORD");
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
            pw = o->val;
    if (pw && *pw)
        conn_value(&conn, "password", pw);
    char *lit = PQescapeLiteral(m->dst, text_of(&conn), conn.len);
    PQconninfoFree(opts);
    buf_init(&sql, 8192);
    buf_printf(&sql,
               "CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s WITH (copy_data = true, slot_name = '%s', "
               "synchronous_commit = 'off')",
               m->name, lit ? lit : "''", m->name, m->name);
    PQfreemem(lit);
    sodium_memzero(conn.data, conn.cap);
    buf_free(&conn);
    r = run(m->dst, true, text_of(&sql), 0, NULL); /* quiet: the statement holds the password */
    if (r == NULL) {
        char why[512];
        snprintf(why, sizeof(why), "%s", PQerrorMessage(m->dst));
        why[strcspn(why, "\n")] = '\0';
        say(FAILED, "cannot make the subscription on the target: %s", why);
    }
    rc = r ? 0 : -1;
    PQclear(r);
    sodium_memzero(sql.data, sql.cap);
    buf_free(&sql);
    return rc == 0 ? set_state(m, "copying", NULL) : FAILED;
}

/* How many bytes of the source's WAL (up to upto, or all of it) the
 * target has not confirmed, in *lag (negative: it is past upto): 0, or
 * -1 if the slot is gone or the source did not answer. */
static int lag_bytes(mv_t *m, const char *upto, long long *lag)
{
    char v[64];
    const char *p[2] = {m->name, upto};
    if (scalar(m->src,
               upto ? "SELECT pg_wal_lsn_diff($2::pg_lsn, confirmed_flush_lsn)::bigint FROM pg_replication_slots "
                      "WHERE slot_name = $1"
                    : "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM "
                      "pg_replication_slots WHERE slot_name = $1",
               upto ? 2 : 1, p, v, sizeof(v)) != 0 ||
        *v == '\0')
        return -1;
    *lag = atoll(v);
    return 0;
}

/* count:checksum of the range's rows of table on both sides, at once */
static int digest_both(mv_t *m, const char *table, char *a, char *b, size_t cap)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) || ':' || coalesce(sum(hashtextextended(t::text, 0)), 0) FROM public.%s t WHERE "
             "shard BETWEEN %u AND %u",
             table, m->lo, m->hi);
    PGconn *c[2] = {m->src, m->dst};
    char *out[2] = {a, b};
    int rc = OK;
    for (int i = 0; i < 2; i++)
        if (!PQsendQuery(c[i], sql))
            rc = say(FAILED, "%s", PQerrorMessage(c[i]));
    for (int i = 0; i < 2; i++) {
        PGresult *r;
        bool got = false;
        while ((r = PQgetResult(c[i])) != NULL) {
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
                snprintf(out[i], cap, "%s", PQgetvalue(r, 0, 0));
                got = true;
            }
            PQclear(r);
        }
        if (!got && rc == OK)
            rc = say(FAILED, "cannot read %s's rows of the range: %s", table, PQerrorMessage(c[i]));
    }
    return rc;
}

static int copy_and_fence(mv_t *m)
{
    const char *p[1] = {m->name};
    time_t said = time(NULL);
    /* the target fenced on the range, unless this run's prepare just did
     * (a run killed, or failed, after the switch lifted it and before it
     * was put back, resumes here) */
    if (!m->dst_fenced && fence_set(m, m->dst, true) != OK)
        return FAILED;
    m->dst_fenced = true;
    long long errors0 = -1;
    for (;;) { /* the initial copy: every table ready */
        char left[32], errs[32];
        if (scalar(m->dst,
                   "SELECT count(*) FILTER (WHERE r.srsubstate <> 'r') || '/' || count(*) FROM pg_subscription_rel r "
                   "JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = $1",
                   1, p, left, sizeof(left)) != 0)
            return FAILED;
        if (strncmp(left, "0/", 2) == 0 && strcmp(left, "0/0") != 0)
            break;
        if (strcmp(left, "0/0") == 0)
            return say(FAILED, "the subscription %s has no tables (dropped?): --abort, then move again", m->name);
        /* A table whose copy fails (a row of the range already on the target,
         * say) is tried again by PostgreSQL every few seconds, for ever: the
         * failures are counted (pg_stat_subscription_stats, PostgreSQL 15),
         * and after COPY_FAILURES of them the move stops and says so. */
        if (scalar(m->dst,
                   "SELECT coalesce((SELECT sync_error_count FROM pg_stat_subscription_stats WHERE subname = $1), 0)",
                   1, p, errs, sizeof(errs)) == 0) {
            long long e = atoll(errs);
            if (errors0 < 0)
                errors0 = e;
            else if (e - errors0 >= COPY_FAILURES)
                return say(FAILED,
                           "move %lld: the target failed to copy a table %lld times (its log says why: a row of "
                           "shards %u-%u there already?); --resume once that is mended, or --abort",
                           m->id, e - errors0, m->lo, m->hi);
        }
        if (time(NULL) - said >= 5) {
            fprintf(stderr, "picogram: move %lld: copying, %s tables not yet copied\n", m->id, left);
            said = time(NULL);
        }
        nap_ms(100);
    }
    for (int i = 0;; i++) { /* then the stream, until close behind */
        long long lag = 0;
        if (lag_bytes(m, NULL, &lag) != 0)
            return say(FAILED, "the replication slot %s is gone: --abort, then move again", m->name);
        if (lag <= CATCH_UP_BYTES)
            break;
        if (i % 50 == 49)
            fprintf(stderr, "picogram: move %lld: catching up, %lld bytes behind\n", m->id, lag);
        nap_ms(100);
    }
    /* the comparison made once before the fence, unchecked: the range's pages
     * in both servers' caches, so the one inside the fence reads memory */
    for (size_t t = 0; t < m->ntables; t++) {
        char a[128], b[128];
        if (digest_both(m, m->tables[t], a, b, sizeof(a)) != OK)
            return FAILED;
    }
    if (fence_set(m, m->src, true) != OK)
        return FAILED;
    char extra[64];
    snprintf(extra, sizeof(extra), ", fenced_us = %lld", now_us());
    return set_state(m, "fenced", extra);
}

static int do_abort(mv_t *m);

static int catch_up_and_switch(mv_t *m)
{
    /* every write of the range committed before the fence (it took each
     * table's lock); a mark written now arrives on the target after them */
    long long t0 = now_us();
    char mark[32], sql[256], got[32];
    snprintf(mark, sizeof(mark), "%lld", t0);
    snprintf(sql, sizeof(sql),
             "INSERT INTO picogram_move_marks (id, at) VALUES (%lld, %s) ON CONFLICT (id) DO UPDATE SET at = "
             "EXCLUDED.at",
             m->id, mark);
    if (exec(m->src, sql) != 0)
        return FAILED;
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(at), 0)::text FROM picogram_move_marks WHERE id = %lld", m->id);
    for (int i = 0;; i++) {
        if (scalar(m->dst, sql, 0, NULL, got, sizeof(got)) != 0)
            return FAILED;
        if (strcmp(got, mark) == 0)
            break;
        long long lag = 0;
        if (i % 100 == 99 && lag_bytes(m, NULL, &lag) != 0)
            return say(FAILED, "the replication slot %s is gone: --abort, then move again", m->name);
        if (i >= m->catch_up_s * 100)
            return say(FAILED, "the target has not caught up in %d s", m->catch_up_s);
        nap_ms(10);
    }
    long long t1 = now_us(), rows = 0;
    for (size_t t = 0; t < m->ntables; t++) {
        char a[128], b[128];
        if (digest_both(m, m->tables[t], a, b, sizeof(a)) != OK)
            return FAILED;
        if (strcmp(a, b) != 0) {
            say(FAILED,
                "%s differs on the target (count:checksum %s on the source, %s on the target): undoing the move",
                m->tables[t], a, b);
            do_abort(m);
            return FAILED;
        }
        rows += atoll(a);
    }
    fprintf(stderr, "picogram: move %lld: the target caught up in %lld ms, %lld rows compared in %lld ms\n", m->id,
            (t1 - t0) / 1000, rows, (now_us() - t1) / 1000);
    /* the new map, under the next epoch, with the move's state, at once */
    char err[512];
    if (dbmap_load(m->map, err, sizeof(err)) < 0)
        return say(FAILED, "%s", err);
    char *spec = dbmap_spec_moved(m->map, m->lo, m->hi, m->target);
    char id[32], now[32], fence[32];
    snprintf(id, sizeof(id), "%lld", m->id);
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    snprintf(fence, sizeof(fence), "%lld", now_us());
    const char *p[4] = {spec, now, id, fence};
    PGresult *r = NULL;
    bool ok = exec(m->cat, "BEGIN") == 0 && exec(m->cat, "LOCK TABLE shard_maps IN EXCLUSIVE MODE") == 0;
    /* the move's row held to the commit, and only while it is still fenced:
     * an --abort beside this run waits for it, then finds it switched */
    if (ok) {
        r = run(m->cat, false, "SELECT 1 FROM shard_moves WHERE id = $1::bigint AND state = 'fenced' FOR UPDATE", 1,
                p + 2);
        ok = r != NULL && PQntuples(r) == 1;
        PQclear(r);
        r = NULL;
    }
    /* the target takes the range's writes from the switch on: its fence
     * goes first (a failure from here on puts it back, in proceed) */
    if (ok) {
        m->dst_fenced = false;
        ok = fence_set(m, m->dst, false) == OK;
    }
    if (ok &&
        (r = run(m->cat, false,
                 "INSERT INTO shard_maps (epoch, spec, made_at) SELECT coalesce(max(epoch), 0) + 1, $1, $2::bigint "
                 "FROM shard_maps",
                 2, p)) != NULL) {
        PQclear(r);
        r = run(m->cat, false,
                "UPDATE shard_moves SET state = 'switched', updated_at = $1::bigint, fence_us = $3::bigint - fenced_us "
                "WHERE id = $2::bigint AND state = 'fenced'",
                3, p + 1);
    }
    ok = ok && r != NULL && atoi(PQcmdTuples(r)) == 1 && exec(m->cat, "COMMIT") == 0;
    PQclear(r);
    free(spec);
    if (!ok) {
        PQclear(PQexec(m->cat, "ROLLBACK"));
        return say(FAILED, "%s", "cannot write the new map: --resume or --abort");
    }
    char ms[32] = "";
    scalar(m->cat, "SELECT fence_us / 1000 FROM shard_moves WHERE id = $1::bigint", 1, p + 2, ms, sizeof(ms));
    fprintf(stderr,
            "picogram: move %lld: shards %u-%u switched to the target (%lld rows compared); writes to them "
            "were fenced for %s ms\n",
            m->id, m->lo, m->hi, rows, ms);
    snprintf(m->state, sizeof(m->state), "switched");
    const char *stop_at = getenv("PICOGRAM_MOVE_PAUSE");
    if (stop_at && strcmp(stop_at, "switched") == 0) {
        fprintf(stderr, "picogram: move %lld paused at switched\n", m->id);
        fflush(stderr);
        for (;;)
            pause();
    }
    return OK;
}

/* Waits until every live process (a node with a lease, model/nodes.h)
 * reports the map that has the range on the target: they read it within a
 * second and report it within another. A process that cannot report loses
 * its lease within NODES_LEASE_MS and stops writing; one that renews with an
 * older map past that (a binary from before the epoch was reported) is
 * named, and the move goes on. */
static int await_epoch(mv_t *m)
{
    char epoch[32];
    if (scalar(m->cat, "SELECT coalesce(max(epoch), 0)::text FROM shard_maps", 0, NULL, epoch, sizeof(epoch)) != 0)
        return FAILED;
    long long t0 = now_us();
    for (;;) {
        char now[32];
        snprintf(now, sizeof(now), "%lld", now_us() / 1000);
        const char *p[2] = {epoch, now};
        PGresult *r = run(m->cat, false,
                          "SELECT string_agg(holder || ' (map ' || epoch || ')', ', ' ORDER BY node) FROM nodes WHERE "
                          "lease_until >= $2::bigint AND epoch < $1::bigint",
                          2, p);
        if (r == NULL)
            return FAILED;
        bool behind = !PQgetisnull(r, 0, 0);
        if (!behind) {
            PQclear(r);
            fprintf(stderr, "picogram: move %lld: every live process is on map %s (after %lld ms)\n", m->id, epoch,
                    (now_us() - t0) / 1000);
            nap_ms(200); /* requests that began on the old map end */
            return OK;
        }
        if (now_us() - t0 > (NODES_LEASE_MS + 5000) * 1000LL) {
            fprintf(stderr, "picogram: move %lld: still not on map %s after %d s, and going on: %s\n", m->id, epoch,
                    NODES_LEASE_MS / 1000 + 5, PQgetvalue(r, 0, 0));
            PQclear(r);
            return OK;
        }
        PQclear(r);
        nap_ms(100);
    }
}

static int finish(mv_t *m)
{
    if (await_epoch(m) != OK)
        return FAILED;
    if (drop_stream(m) != OK || identity_back(m) != OK)
        return FAILED;
    if (clear_range(m, m->src, !m->drop_source) != OK)
        return FAILED;
    if (set_state(m, "done", NULL) != OK)
        return FAILED;
    char red[1024];
    db_url_redacted(m->target, red, sizeof(red));
    printf("moved logical shards %u-%u to %s (move %lld)%s\n", m->lo, m->hi, red, m->id,
           m->drop_source ? "; the source's copy deleted" : "");
    if (!m->drop_source)
        printf("the source's copy is kept in its schema picogram_moved_%lld (DROP SCHEMA picogram_moved_%lld CASCADE "
               "when it is not needed)\n",
               m->id, m->id);
    return OK;
}

static int proceed(mv_t *m)
{
    int rc = open_ends(m);
    while (rc == OK && strcmp(m->state, "done") != 0) {
        if (strcmp(m->state, "prepare") == 0 || strcmp(m->state, "copying") == 0) {
            char n[8];
            const char *p[1] = {m->name};
            /* copying but no subscription (killed while making it): prepared again */
            if (strcmp(m->state, "copying") == 0 &&
                (scalar(m->dst, "SELECT count(*) FROM pg_subscription WHERE subname = $1", 1, p, n, sizeof(n)) != 0 ||
                 atoi(n) == 0) &&
                (rc = set_state(m, "prepare", NULL)) != OK)
                break;
            rc = strcmp(m->state, "prepare") == 0 ? prepare(m) : copy_and_fence(m);
        } else if (strcmp(m->state, "fenced") == 0) {
            rc = catch_up_and_switch(m);
        } else if (strcmp(m->state, "switched") == 0) {
            rc = finish(m);
        } else {
            rc = say(FAILED, "move %lld is %s", m->id, m->state);
        }
    }
    /* stopped inside the fence (the catch-up's time limit, a query or the
     * map's write failed): the range takes writes again, and the copy goes
     * on streaming; a --resume fences it again. Recorded first, so that no
     * run finds it fenced without the fence. */
    if (rc == FAILED && strcmp(m->state, "fenced") == 0 && set_state(m, "copying", NULL) == OK) {
        if (!m->dst_fenced && fence_set(m, m->dst, true) != OK) /* may have been lifted for the switch */
            fprintf(stderr,
                    "picogram: move %lld: the target's fence on shards %u-%u could not be put back (a "
                    "--resume or --abort puts it)\n",
                    m->id, m->lo, m->hi);
        if (fence_set(m, m->src, false) == OK)
            fprintf(stderr, "picogram: move %lld: the fence is lifted; writes to shards %u-%u go on on the source\n",
                    m->id, m->lo, m->hi);
        else
            fprintf(stderr,
                    "picogram: move %lld: the fence could not be lifted: writes to shards %u-%u are refused "
                    "until a --resume or --abort\n",
                    m->id, m->lo, m->hi);
    }
    if (rc == FAILED && strcmp(m->state, "aborted") == 0)
        fprintf(stderr, "picogram: move %lld undone: the shards stay where they were\n", m->id);
    else if (rc == FAILED)
        fprintf(stderr,
                "picogram: move %lld stopped at %s: 'picogram shards move --resume' takes it up, '--abort' "
                "undoes it%s\n",
                m->id, m->state, strcmp(m->state, "switched") == 0 ? " (not after the switch: resume it)" : "");
    return rc;
}

/* The move in progress (state not done or aborted): 1 and m filled, 0 if none, -1. */
static int current_move(mv_t *m)
{
    PGresult *r = run(m->cat, false,
                      "SELECT id, lo, hi, source, target, state, drop_source FROM shard_moves WHERE state NOT IN "
                      "('done', 'aborted') ORDER BY id LIMIT 1",
                      0, NULL);
    if (r == NULL)
        return -1;
    int rc = PQntuples(r) > 0;
    if (rc) {
        m->id = atoll(PQgetvalue(r, 0, 0));
        m->lo = (unsigned)atoi(PQgetvalue(r, 0, 1));
        m->hi = (unsigned)atoi(PQgetvalue(r, 0, 2));
        snprintf(m->source, sizeof(m->source), "%s", PQgetvalue(r, 0, 3));
        snprintf(m->target, sizeof(m->target), "%s", PQgetvalue(r, 0, 4));
        snprintf(m->state, sizeof(m->state), "%s", PQgetvalue(r, 0, 5));
        m->drop_source = atoi(PQgetvalue(r, 0, 6)) != 0;
    }
    PQclear(r);
    return rc;
}

/* The rows of shards lo..hi in the live tables of logical shards on c (not the jobs): 0, or -1. */
static int range_rows(PGconn *c, unsigned lo, unsigned hi, long long *n)
{
    PGresult *r = run(c, false, SHARD_TABLES, 0, NULL);
    if (r == NULL)
        return -1;
    int rc = 0;
    *n = 0;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        char sql[256], v[32];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM public.%s WHERE shard BETWEEN %u AND %u", PQgetvalue(r, i, 0),
                 lo, hi);
        rc = scalar(c, sql, 0, NULL, v, sizeof(v));
        *n += atoll(v);
    }
    PQclear(r);
    return rc;
}

int shards_move(const config_t *cfg, const char *range, const char *to, bool drop_source, int catch_up_s)
{
    mv_t m;
    memset(&m, 0, sizeof(m));
    m.catch_up_s = catch_up_s;
    unsigned lo, hi;
    int used = 0;
    if (sscanf(range, "%u-%u%n", &lo, &hi, &used) == 2 && range[used] == '\0') {
    } else if (sscanf(range, "%u%n", &lo, &used) == 1 && range[used] == '\0') {
        hi = lo;
    } else {
        return say(USAGE, "bad range '%s': a logical shard N or a range LO-HI, 0 to %d", range, IDS_NSHARDS - 1);
    }
    if (lo > hi || hi >= IDS_NSHARDS)
        return say(USAGE, "bad range '%s': a logical shard N or a range LO-HI, 0 to %d", range, IDS_NSHARDS - 1);
    if (strncmp(to, "postgres", 8) != 0)
        return say(USAGE, "--to takes a PostgreSQL URL, postgres://USER@HOST:PORT/DB (not '%s')", to);
    int rc = open_map(cfg, &m);
    size_t from = rc == OK ? dbmap_db_of(m.map, lo) : 0;
    for (unsigned s = lo; rc == OK && s <= hi; s++)
        if (dbmap_db_of(m.map, s) != from)
            rc = say(USAGE, "shards %u-%u are on more than one server now: move each server's part on its own", lo, hi);
    if (rc == OK && strcmp(dbmap_url(m.map, from), to) == 0)
        rc = say(USAGE, "shards %u-%u are on that server already", lo, hi);
    if (rc == OK) { /* the target has this binary's schema */
        char err[512];
        dbmap_t *t = dbmap_new(to, cfg->sqlite_sync, err, sizeof(err));
        if (t == NULL)
            rc = say(USAGE, "%s", err);
        else if (db_check_schemas(t, err, sizeof(err)) != 0)
            rc = say(USAGE, "%s", err);
        dbmap_free(t);
    }
    if (rc == OK) { /* before anything is recorded: the two ends as a move needs them */
        PGconn *src = connect_to(dbmap_url(m.map, from), "source"), *dst = connect_to(to, "target");
        char level[32] = "", a[128] = "", b[128] = "", tcp[8] = "";
        const char *who = "SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()";
        long long rows = 0;
        if (src == NULL || dst == NULL || scalar(src, "SHOW wal_level", 0, NULL, level, sizeof(level)) != 0 ||
            scalar(src, who, 0, NULL, a, sizeof(a)) != 0 || scalar(dst, who, 0, NULL, b, sizeof(b)) != 0 ||
            scalar(src, "SELECT (inet_server_addr() IS NOT NULL)::text", 0, NULL, tcp, sizeof(tcp)) != 0 ||
            range_rows(dst, lo, hi, &rows) != 0)
            rc = FAILED;
        else if (strcmp(level, "logical") != 0)
            rc = say(USAGE, "the source runs with wal_level = %s: a move needs wal_level = logical (a restart)", level);
        else if (strcmp(a, b) == 0) /* the same database under another URL (pgbouncer's, an address for a name) */
            rc = say(USAGE, "shards %u-%u are on that server already (the same database under another URL)", lo, hi);
        else if (strcmp(tcp, "true") != 0)
            rc = say(USAGE, "%s", "the source is reached over a Unix socket: give its URL with a TCP host");
        else if (rows > 0)
            rc = say(USAGE,
                     "the target holds %lld rows of shards %u-%u already, which the map sends elsewhere: "
                     "remove them first (a copy left by hand?)",
                     rows, lo, hi);
        PQfinish(src);
        PQfinish(dst);
    }
    int cur = rc == OK ? current_move(&m) : 0;
    if (cur < 0)
        rc = FAILED;
    else if (cur > 0)
        rc = say(USAGE, "move %lld (shards %u-%u) is %s: 'picogram shards move --resume' or '--abort' first", m.id,
                 m.lo, m.hi, m.state);
    if (rc == OK) {
        m.lo = lo, m.hi = hi, m.drop_source = drop_source;
        snprintf(m.source, sizeof(m.source), "%s", dbmap_url(m.map, from));
        snprintf(m.target, sizeof(m.target), "%s", to);
        snprintf(m.state, sizeof(m.state), "prepare");
        char lo_s[16], hi_s[16], ds[4], now[32];
        snprintf(lo_s, sizeof(lo_s), "%u", lo);
        snprintf(hi_s, sizeof(hi_s), "%u", hi);
        snprintf(ds, sizeof(ds), "%d", drop_source);
        snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
        const char *p[6] = {lo_s, hi_s, m.source, m.target, ds, now};
        char id[32] = "0";
        if (scalar(m.cat,
                   "INSERT INTO shard_moves (id, lo, hi, source, target, state, drop_source, started_at, updated_at) "
                   "SELECT coalesce(max(id), 0) + 1, $1::int, $2::int, $3, $4, 'prepare', $5::int, $6::bigint, "
                   "$6::bigint FROM shard_moves RETURNING id",
                   6, p, id, sizeof(id)) != 0)
            rc = FAILED;
        m.id = atoll(id);
        const char *stop_at = getenv("PICOGRAM_MOVE_PAUSE"); /* the kill tests */
        if (rc == OK && stop_at && strcmp(stop_at, "prepare") == 0) {
            fprintf(stderr, "picogram: move %lld paused at prepare\n", m.id);
            fflush(stderr);
            for (;;)
                pause();
        }
    }
    if (rc == OK)
        rc = proceed(&m);
    mv_close(&m);
    return rc;
}

/* The map and the move in progress, for --resume and --abort. */
static int open_current(const config_t *cfg, mv_t *m)
{
    memset(m, 0, sizeof(*m));
    int rc = open_map(cfg, m);
    int cur = rc == OK ? current_move(m) : 0;
    if (rc == OK && cur < 0)
        rc = FAILED;
    else if (rc == OK && cur == 0)
        rc = say(USAGE, "%s", "no move in progress");
    return rc;
}

int shards_move_resume(const config_t *cfg, int catch_up_s)
{
    mv_t m;
    int rc = open_current(cfg, &m);
    if (rc == OK) {
        m.catch_up_s = catch_up_s;
        fprintf(stderr, "picogram: resuming move %lld (shards %u-%u) at %s\n", m.id, m.lo, m.hi, m.state);
        rc = proceed(&m);
    }
    mv_close(&m);
    return rc;
}

static int do_abort(mv_t *m)
{
    /* first recorded: a run of the move beside this one can no longer switch the map */
    if (strcmp(m->state, "aborting") != 0 && set_state(m, "aborting", NULL) != OK)
        return FAILED;
    /* the target keeps its fence on the range (put back if the switch had lifted it) */
    if (drop_stream(m) != OK || clear_range(m, m->dst, false) != OK || fence_set(m, m->dst, true) != OK ||
        fence_set(m, m->src, false) != OK || identity_back(m) != OK)
        return FAILED;
    return set_state(m, "aborted", NULL);
}

int shards_move_abort(const config_t *cfg)
{
    mv_t m;
    int rc = open_current(cfg, &m);
    if (rc == OK && strcmp(m.state, "switched") == 0)
        rc = say(USAGE,
                 "move %lld has switched the map already: 'picogram shards move --resume' finishes it (move "
                 "the shards back to undo it)",
                 m.id);
    if (rc == OK)
        rc = open_ends(&m);
    if (rc == OK && (rc = do_abort(&m)) == OK)
        printf("move %lld (shards %u-%u) undone: they stay where they were\n", m.id, m.lo, m.hi);
    mv_close(&m);
    return rc;
}

char *shards_moves_json(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return NULL;
    }
    PGresult *r = run(c, true,
                      "SELECT id, lo, hi, source, target, state, started_at, updated_at, fence_us FROM (SELECT * FROM "
                      "shard_moves WHERE state NOT IN ('done', 'aborted') UNION ALL (SELECT * FROM shard_moves WHERE "
                      "state IN ('done', 'aborted') ORDER BY id DESC LIMIT 5)) m ORDER BY id",
                      0, NULL);
    if (r == NULL) {
        PQfinish(c);
        return NULL;
    }
    buf_t b;
    buf_init(&b, 1u << 20);
    buf_putc(&b, '[');
    for (int i = 0; i < PQntuples(r); i++) {
        char src[1024], dst[1024];
        db_url_redacted(PQgetvalue(r, i, 3), src, sizeof(src));
        db_url_redacted(PQgetvalue(r, i, 4), dst, sizeof(dst));
        buf_printf(&b, "%s{\"id\":%s,\"range\":[%s,%s],\"source\":", i ? "," : "", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
        buf_json_cstr(&b, src);
        buf_puts(&b, ",\"target\":");
        buf_json_cstr(&b, dst);
        buf_printf(&b, ",\"state\":\"%s\",\"started_at\":%s,\"updated_at\":%s,\"fence_ms\":%lld}", PQgetvalue(r, i, 5),
                   PQgetvalue(r, i, 6), PQgetvalue(r, i, 7), atoll(PQgetvalue(r, i, 8)) / 1000);
    }
    buf_putc(&b, ']');
    PQclear(r);
    PQfinish(c);
    return buf_steal(&b, NULL);
}
