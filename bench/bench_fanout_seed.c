/*
 * bench_fanout_seed: writes a data directory with one author followed by N
 * users, straight through the db layer (sign-up's argon2id would take hours
 * for 100,000 users), and prints tokens for the load script:
 *   line 1: the author's access token
 *   line 2: the token of the follower the fan-out reaches last
 *
 *   build/bench_fanout_seed DATA_DIR [followers=100000]
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/ids.h"
#include "db/db.h"
#include "model/tokens.h"

static int put(db_conn_t *c, unsigned q, int64_t a, int64_t b, int64_t x, int64_t y)
{
    db_stmt_t *s = db_q(c, q);
    db_bind_i64(s, 1, a);
    db_bind_i64(s, 2, b);
    db_bind_i64(s, 3, x);
    db_bind_i64(s, 4, y);
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

static unsigned nshards; /* logical shards in use */

static int user(db_conn_t *c, int64_t id, const char *name)
{
    db_stmt_t *s = db_q(c, Q_USER_INSERT);
    db_bind_i64(s, 1, id);
    db_bind_cstr(s, 2, name);
    db_bind_cstr(s, 3, name);
    db_bind_cstr(s, 4, "Bench User");
    db_bind_cstr(s, 5, "bench user");
    db_bind_cstr(s, 6, "");
    db_bind_cstr(s, 7, "$argon2id$v=19$m=65536,t=2,p=1$unusable$unusable"); /* no log-in with it */
    db_bind_i64(s, 8, (int64_t)time(NULL));
    if (db_exec_stmt(s) != DB_DONE)
        return -1;
    s = db_q(c, Q_USERNAME_CLAIM);
    db_bind_cstr(s, 1, name);
    db_bind_i64(s, 2, id);
    db_bind_i64(s, 3, db_key_shard_of(name, strlen(name), nshards)); /* the index's shard (migration 12) */
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || sodium_init() < 0)
        return 2;
    long n = argc > 2 ? atol(argv[2]) : 100000;
    char url[4200], err[256];
    mkdir(argv[1], 0750);
    snprintf(url, sizeof(url), "sqlite:%s/picogram.db", argv[1]);
    dbmap_t *map = dbmap_new(url, "normal", err, sizeof(err));
    if (map == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    db_ctx_t *db = db_ctx_new(map);
    db_conn_t *c = db_physical(db, 0);
    nshards = db_shards(db);
    int from, to;
    if (db_migrate(c, &from, &to, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    ids_gen_t *g = ids_gen_new();
    int64_t author = ids_next(g, 1), last = 0;
    int64_t now = (int64_t)time(NULL);
    if (db_begin(c) != DB_OK || user(c, author, "star") != 0) {
        fprintf(stderr, "cannot write the author: %s\n", c->drv->errmsg ? c->drv->errmsg(c) : "?");
        return 1;
    }
    for (long i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "fan%ld", i);
        int64_t id = ids_next(g, (unsigned)(i % IDS_NSHARDS));
        if (user(c, id, name) != 0 || put(c, Q_FOLLOWING_PUT, id, author, 1, now) != 0 ||
            put(c, Q_FOLLOWERS_PUT, author, id, 1, now) != 0)
            return 1;
        if (last == 0 || id < last)
            last = id;
        if (i % 10000 == 9999) {
            fprintf(stderr, "\r%ld followers", i + 1);
            if (db_commit(c) != DB_OK || db_begin(c) != DB_OK)
                return 1;
        }
    }
    db_stmt_t *s = db_q(c, Q_USER_FOLLOW_COUNTS_ADD);
    db_bind_i64(s, 1, author);
    db_bind_i64(s, 2, 0);
    db_bind_i64(s, 3, n);
    if (db_exec_stmt(s) != DB_DONE || db_commit(c) != DB_OK)
        return 1;
    fprintf(stderr, "\r%ld followers of one author\n", n);
    char ta[TOKEN_MAX_LEN + 1], tl[TOKEN_MAX_LEN + 1];
    if (tokens_issue(db, author, ta) != 0 || tokens_issue(db, last, tl) != 0)
        return 1;
    printf("%s\n%s\n", ta, tl);
    ids_gen_free(g);
    db_ctx_free(db);
    dbmap_free(map);
    return 0;
}
