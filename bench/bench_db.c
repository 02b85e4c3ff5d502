/*
 * bench_db: how long the database calls that run inline on an event-loop
 * thread take (the threading model allows short reads there, if measured).
 *
 * Creates a SQLite database in a temporary directory with N users and one
 * token each, then times, on one thread, each call the hot read path makes:
 * tokens_check (every authenticated request) and users_get, and, for
 * comparison, one committed write with synchronous=FULL. Prints the
 * median and p99 of per-call wall time over many calls, in microseconds.
 *
 *   build/bench/bench_db [users=10000] [calls=200000]
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ids.h"
#include "db/db.h"
#include "model/tokens.h"
#include "model/users.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *t, int n)
{
    qsort(t, (size_t)n, sizeof(double), cmpd);
    printf("%-14s median %6.2f us   p99 %6.2f us   max %7.1f us   (%d calls)\n", name, t[n / 2], t[n * 99 / 100],
           t[n - 1], n);
}

int main(int argc, char **argv)
{
    int nusers = argc > 1 ? atoi(argv[1]) : 10000, ncalls = argc > 2 ? atoi(argv[2]) : 200000;
    if (sodium_init() < 0 || nusers < 1 || ncalls < 100)
        return 2;
    char dir[] = "/tmp/picogram-bench-XXXXXX", url[128], err[256];
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(url, sizeof(url), "sqlite:%s/b.db", dir);
    dbmap_t *map = dbmap_new(url, "normal", err, sizeof(err));
    db_ctx_t *db = db_ctx_new(map);
    int from, to;
    if (db_migrate(db_physical(db, 0), &from, &to, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ids_gen_t *g = ids_gen_new();
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)nusers);
    char(*toks)[TOKEN_MAX_LEN + 1] = malloc(sizeof(*toks) * (size_t)nusers);
    for (int i = 0; i < nusers; i++) {
        char name[32];
        snprintf(name, sizeof(name), "user%d", i);
        user_new_t in = {.username = name, .full_name = "Bench User", .email = "", .password_hash = "x"};
        user_t u;
        ids[i] = ids_next(g, (unsigned)i);
        if (users_create(db, ids[i], &in, &u) != USERS_OK || tokens_issue(db, ids[i], toks[i]) != USERS_OK) {
            fprintf(stderr, "setup failed at user %d\n", i);
            return 1;
        }
    }
    double *t = malloc(sizeof(double) * (size_t)ncalls);
    unsigned seed = 1;
    for (int i = 0; i < ncalls; i++) {
        int k = (int)(rand_r(&seed) % (unsigned)nusers);
        token_grant_t who;
        double t0 = now_us();
        int rc = tokens_check(db, toks[k], strlen(toks[k]), &who);
        t[i] = now_us() - t0;
        if (rc != USERS_OK || who.user != ids[k]) {
            fprintf(stderr, "tokens_check failed\n");
            return 1;
        }
    }
    report("tokens_check", t, ncalls);
    for (int i = 0; i < ncalls; i++) {
        user_t u;
        int k = (int)(rand_r(&seed) % (unsigned)nusers);
        double t0 = now_us();
        int rc = users_get(db, ids[k], &u);
        t[i] = now_us() - t0;
        if (rc != USERS_OK) {
            fprintf(stderr, "users_get failed\n");
            return 1;
        }
    }
    report("users_get", t, ncalls);
    /* A write as the worker pool does it: one commit, synchronous=FULL. */
    dbmap_t *fmap = dbmap_new(url, "full", err, sizeof(err));
    db_ctx_t *fdb = db_ctx_new(fmap);
    int nwrites = ncalls / 100;
    for (int i = 0; i < nwrites; i++) {
        char tok[TOKEN_MAX_LEN + 1];
        double t0 = now_us();
        int rc = tokens_issue(fdb, ids[i % nusers], tok);
        t[i] = now_us() - t0;
        if (rc != USERS_OK) {
            fprintf(stderr, "tokens_issue failed\n");
            return 1;
        }
    }
    report("write (FULL)", t, nwrites);
    db_ctx_free(fdb);
    dbmap_free(fmap);
    db_ctx_free(db);
    dbmap_free(map);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
