/*
 * pg_held_down URL: the PostgreSQL driver never commits part of a
 * transaction that a hold-down cut short (run by tests/api/pg_held_down.test.mjs
 * against the suite's PostgreSQL server, directly, not through pgbouncer).
 *
 * Connection x begins a transaction and inserts 1. Connection y (the same
 * URL) finds its server connection gone, so the database is held down for
 * every connection for a second. x's next statement is refused, and so was
 * its ROLLBACK, which left the transaction open on a live connection; the
 * next transaction's BEGIN (PostgreSQL only warns) ran on inside it, and
 * its COMMIT committed the 1 of the transaction that had failed. After
 * the hold-down x inserts 3 in a transaction of its own: the table must
 * hold 3 alone.
 *
 * Then x begins again and inserts 10, and its own server connection goes.
 * Its next statement (an advisory lock, a statement as the model runs
 * them) fails, closes the connection and holds the database down; past
 * the hold-down, a caller that goes on regardless inserts 12 and commits.
 * Those statements once ran on a new connection, each committed alone,
 * and the COMMIT (no transaction open there) answered success: 12 was
 * kept from a transaction that had failed. Now they are refused and the
 * COMMIT fails, so the second table holds nothing.
 *
 * Prints the first table's values, then "lost:" and the second's; exit 0
 * if that is "3" and "lost:".
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "db/db.h"

static PGconn *raw;

static const char *raw_value(const char *sql)
{
    static char out[256];
    PGresult *r = PQexec(raw, sql);
    snprintf(out, sizeof(out), "%s",
             PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : PQresultErrorMessage(r));
    PQclear(r);
    return out;
}

static int fail(const char *what, const char *err)
{
    fprintf(stderr, "pg_held_down: %s%s%s\n", what, err ? ": " : "", err ? err : "");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return fail("usage: pg_held_down postgres://...", NULL);
    const char *target;
    const db_driver_t *d = db_driver_for(argv[1], &target);
    char err[512] = "";
    db_conn_t *x, *y;
    if (d == NULL || d->open(target, "full", &x, err, sizeof(err)) != 0 ||
        d->open(target, "full", &y, err, sizeof(err)) != 0)
        return fail("open", err);
    raw = PQconnectdb(argv[1]);
    if (PQstatus(raw) != CONNECTION_OK)
        return fail("raw connection", PQerrorMessage(raw));
    if (d->exec(x, "DROP TABLE IF EXISTS held_down; CREATE TABLE held_down (v INT)", err, sizeof(err)) != 0 ||
        d->exec(y, "SELECT 1", err, sizeof(err)) != 0)
        return fail("setup", err);
    if (db_begin(x) != DB_OK || d->exec(x, "INSERT INTO held_down VALUES (1)", err, sizeof(err)) != 0)
        return fail("x: begin and insert 1", err);
    /* y's server connection goes (x's is in a transaction, not idle) */
    const char *n = raw_value("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = "
                              "'picogram' AND state = 'idle' AND datname = current_database()");
    if (strcmp(n, "1") != 0)
        return fail("terminating y's backend", n);
    if (db_begin(y) == DB_OK)
        return fail("y: its connection was terminated, yet BEGIN worked", NULL);
    if (d->exec(x, "INSERT INTO held_down VALUES (2)", err, sizeof(err)) == 0)
        return fail("x: a statement while the database is held down was not refused", NULL);
    db_rollback(x);
    struct timespec wait = {1, 200 * 1000 * 1000}; /* past the hold-down (PG_DOWN_MS) */
    nanosleep(&wait, NULL);
    if (db_begin(x) != DB_OK || d->exec(x, "INSERT INTO held_down VALUES (3)", err, sizeof(err)) != 0 ||
        db_commit(x) != DB_OK)
        return fail("x: the next transaction", err);
    char v[256];
    snprintf(v, sizeof(v), "%s", raw_value("SELECT string_agg(v::text, ',' ORDER BY v) FROM held_down"));
    printf("%s\n", v);
    PQclear(PQexec(raw, "DROP TABLE held_down"));

    /* a transaction whose own connection goes */
    if (d->exec(x, "CREATE TABLE lost_tx (v INT)", err, sizeof(err)) != 0)
        return fail("setup 2", err);
    if (db_begin(x) != DB_OK || d->exec(x, "INSERT INTO lost_tx VALUES (10)", err, sizeof(err)) != 0)
        return fail("x: begin and insert 10", err);
    n = raw_value("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = "
                  "'picogram' AND state = 'idle in transaction' AND datname = current_database()");
    if (strcmp(n, "1") != 0)
        return fail("terminating x's backend", n);
    if (db_lock(x, "lost", 1, 2) == DB_OK)
        return fail("x: a statement on a terminated connection worked", NULL);
    nanosleep(&wait, NULL);
    int ins = d->exec(x, "INSERT INTO lost_tx VALUES (12)", err, sizeof(err)); /* the caller goes on */
    int com = db_commit(x);
    db_rollback(x);
    char lost[256];
    snprintf(lost, sizeof(lost), "%s", raw_value("SELECT string_agg(v::text, ',' ORDER BY v) FROM lost_tx"));
    printf("lost:%s\n", lost);
    PQclear(PQexec(raw, "DROP TABLE lost_tx"));
    if (ins == 0)
        fprintf(stderr, "pg_held_down: a statement after the transaction's connection went was run\n");
    if (com == DB_OK)
        fprintf(stderr, "pg_held_down: COMMIT of a transaction whose connection went answered success\n");
    d->close(x);
    d->close(y);
    PQfinish(raw);
    return strcmp(v, "3") == 0 && lost[0] == '\0' && ins != 0 && com != DB_OK ? 0 : 1;
}
