/* The storage layer against a real SQLite file: migrations, shard routing,
 * the user model's uniqueness rules and the token store. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ids.h"
#include "db/db.h"
#include "db/walbuf.h"
#include "model/graph.h"
#include "model/apps.h"
#include "model/tokens.h"
#include "model/users.h"

static char dir[64];
static char url[128];

static int setup(void **state)
{
    strcpy(dir, "/tmp/picogram-dbtest-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(url, sizeof(url), "sqlite:%s/t.db", dir);
    return 0;
}

/* fdatasync's failures a test switches on (see fdatasync below): off
 * again after every test, also one that stopped at a failed assertion */
static atomic_bool wal_sync_fails, db_sync_fails;

static int teardown(void **state)
{
    atomic_store(&wal_sync_fails, false);
    atomic_store(&db_sync_fails, false);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static db_ctx_t *open_migrated_sync(dbmap_t **map, const char *sync)
{
    char err[256];
    *map = dbmap_new(url, sync, err, sizeof(err));
    assert_non_null(*map);
    db_ctx_t *db = db_ctx_new(*map);
    int from, to;
    assert_int_equal(db_migrate(db_physical(db, 0), &from, &to, err, sizeof(err)), 0);
    assert_int_equal(to, db_schema_latest());
    return db;
}

static db_ctx_t *open_migrated(dbmap_t **map)
{
    return open_migrated_sync(map, "normal");
}

static void test_migrate_idempotent(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = open_migrated(&map);
    char err[256];
    int from, to;
    assert_int_equal(db_migrate(db_physical(db, 0), &from, &to, err, sizeof(err)), 0);
    assert_int_equal(from, to);
    assert_int_equal(db_schema_version(db_physical(db, 0)), db_schema_latest());
    db_ctx_free(db);
    dbmap_free(map);
}

/* A database made up to schema `version`, given rows by `sql` as the build
 * of that version stored them, then migrated to the latest. */
static db_ctx_t *migrate_across(dbmap_t **map, int version, const char *sql)
{
    char err[256];
    *map = dbmap_new(url, "normal", err, sizeof(err));
    assert_non_null(*map);
    db_ctx_t *db = db_ctx_new(*map);
    db_conn_t *c = db_physical(db, 0);
    int from, to;
    assert_int_equal(db_migrate_to(c, version, &from, &to, err, sizeof(err)), 0);
    assert_int_equal(to, version);
    assert_int_equal(c->drv->exec(c, sql, err, sizeof(err)), 0);
    assert_int_equal(db_migrate(c, &from, &to, err, sizeof(err)), 0);
    assert_int_equal(from, version);
    assert_int_equal(to, db_schema_latest());
    return db;
}

/* Migration 12 gives the rows of the hash-keyed tables made before it the
 * shard of their key, the one the server routes them by. */
static void test_key_shards_backfilled(void **state)
{
    dbmap_t *map;
    db_ctx_t *db =
        migrate_across(&map, 11,
                       "INSERT INTO usernames (username_lower, user_id) VALUES ('alice', 1), ('bob', 2);"
                       "INSERT INTO tags (name, media_count) VALUES ('sunset', 2);"
                       "INSERT INTO tag_media (tag, id, media_id) VALUES ('sunset', 10, 10), ('sunset', 11, 11);"
                       /* and many more names than one read's buffer once held (64 KiB) */
                       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
                       "INSERT INTO usernames (username_lower, user_id) SELECT 'someone_' || i, 100 + i FROM n;");
    static const char *const checks[][2] = {
        {"SELECT shard FROM usernames WHERE username_lower = 'alice'", "alice"},
        {"SELECT shard FROM usernames WHERE username_lower = 'bob'", "bob"},
        {"SELECT shard FROM tags WHERE name = 'sunset'", "sunset"},
        {"SELECT MIN(shard) FROM tag_media WHERE tag = 'sunset'", "sunset"},
        {"SELECT MAX(shard) FROM tag_media WHERE tag = 'sunset'", "sunset"},
        {"SELECT shard FROM usernames WHERE username_lower = 'someone_20000'", "someone_20000"},
    };
    char path[128];
    snprintf(path, sizeof(path), "%s/t.db", dir);
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        sqlite3 *h = NULL;
        assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(h, checks[i][0], -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        const char *key = checks[i][1];
        assert_int_equal(sqlite3_column_int64(st, 0), db_key_shard(db, key, strlen(key)));
        sqlite3_finalize(st);
        sqlite3_close(h);
    }
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM usernames WHERE shard < 0", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 0); /* none left without its shard */
    sqlite3_finalize(st);
    sqlite3_close(h);
    db_ctx_free(db);
    dbmap_free(map);
}

/* The query plan's detail of `sql`, its first line, into out. */
static void plan_of(sqlite3 *h, const char *sql, char *out, size_t n)
{
    char q[512];
    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
}

/* Migration 21 drops activity_ref, whose column leads activity_once: news
 * is still found by what caused it through an index (an unlike, a deleted
 * comment), never by reading the whole table, and the rows stay. */
static void test_activity_by_ref_indexed(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = migrate_across(&map, 20,
                                  "INSERT INTO activity (id, user_id, actor_id, kind, media_id, ref_id) VALUES "
                                  "(1, 10, 20, 'like', 5, 7), (2, 10, 21, 'comment', 5, 8);");
    char path[128];
    snprintf(path, sizeof(path), "%s/t.db", dir);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'activity_ref'", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 0);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM activity WHERE ref_id = 8", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 1);
    sqlite3_finalize(st);
    static const char *const by_ref[] = {
        "DELETE FROM activity WHERE ref_id = 1",
        "DELETE FROM activity WHERE ref_id = 1 AND user_id = 2 AND kind = 'like'",
    };
    for (size_t i = 0; i < sizeof(by_ref) / sizeof(by_ref[0]); i++) {
        char plan[256];
        plan_of(h, by_ref[i], plan, sizeof(plan));
        if (strstr(plan, "INDEX activity_once (ref_id=?") == NULL)
            fail_msg("%s: %s", by_ref[i], plan);
    }
    sqlite3_close(h);
    db_ctx_free(db);
    dbmap_free(map);
}

/* Migration 14 turns the edges' times from seconds into milliseconds (the
 * follow lists are read newest first by them): rows made before keep their
 * order, and sort below every edge made since. */
static void test_edge_times_in_ms(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = migrate_across(&map, 13,
                                  "INSERT INTO following (user_id, target_id, status, created_at) VALUES "
                                  "(1, 2, 1, 1700000000), (1, 3, 1, 1700000005);"
                                  "INSERT INTO followers (user_id, follower_id, status, created_at) VALUES "
                                  "(2, 1, 1, 1700000000);");
    db_conn_t *c = db_physical(db, 0);
    char err[256];
    /* and a new edge, made now in milliseconds */
    assert_int_equal(c->drv->exec(c,
                                  "INSERT INTO following (user_id, target_id, status, created_at) VALUES "
                                  "(1, 4, 1, 1800000000000);",
                                  err, sizeof(err)),
                     0);
    int64_t ids[4], at[4];
    int n = 0;
    assert_int_equal(graph_list_recent(db, GRAPH_FOLLOWS, 1, INT64_MAX, INT64_MAX, 4, ids, at, &n), GRAPH_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 4);
    assert_int_equal(ids[1], 3);
    assert_int_equal(at[1], 1700000005000LL);
    assert_int_equal(ids[2], 2);
    assert_int_equal(at[2], 1700000000000LL);
    /* the page after the first two */
    assert_int_equal(graph_list_recent(db, GRAPH_FOLLOWS, 1, at[1], ids[1], 4, ids, at, &n), GRAPH_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 2);
    assert_int_equal(graph_list_recent(db, GRAPH_FOLLOWED_BY, 2, INT64_MAX, INT64_MAX, 4, ids, at, &n), GRAPH_OK);
    assert_int_equal(n, 1);
    assert_int_equal(at[0], 1700000000000LL);
    db_ctx_free(db);
    dbmap_free(map);
}

/* Migration 15 lower-cases the full names stored before it beyond ASCII,
 * as users_search now lower-cases what it is asked. */
static void test_full_names_folded(void **state)
{
    dbmap_t *map;
    /* as the build before stored them: ASCII letters lowered, the rest not */
    db_ctx_t *db = migrate_across(&map, 14,
                                  "INSERT INTO users (id, username, username_lower, full_name, full_name_lower, "
                                  "password_hash, created_at) VALUES "
                                  "(1, 'emile', 'emile', '\xc3\x89mile Zola', '\xc3\x89mile zola', 'x', 0),"
                                  "(2, 'plain', 'plain', 'Plain Name', 'plain name', 'x', 0);");
    user_t *found = calloc(4, sizeof(user_t));
    int n = 0;
    assert_int_equal(users_search(db, "\xc3\xa9mile", 4, found, &n), USERS_OK); /* "émile" */
    assert_int_equal(n, 1);
    assert_int_equal(found[0].id, 1);
    assert_int_equal(users_search(db, "\xc3\x89MILE ZOLA", 4, found, &n), USERS_OK); /* "ÉMILE ZOLA" */
    assert_int_equal(n, 1);
    assert_int_equal(users_search(db, "PLAIN", 4, found, &n), USERS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(found[0].id, 2);
    free(found);
    db_ctx_free(db);
    dbmap_free(map);
}

static void test_shard_map(void **state)
{
    char err[256];
    dbmap_t *m = dbmap_new("0-4095=sqlite:/tmp/a.db;4096-8191=sqlite:/tmp/b.db", "full", err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(dbmap_count(m), 2);
    /* key placement is stable (data placement depends on it) */
    db_ctx_t *x = db_ctx_new(m);
    assert_int_equal(db_key_shard(x, "alice", 5), db_key_shard(x, "alice", 5));
    assert_true(db_key_shard(x, "alice", 5) < IDS_NSHARDS);
    db_ctx_free(x);
    dbmap_free(m);
    assert_null(dbmap_new("0-4095=sqlite:/tmp/a.db", "full", err, sizeof(err))); /* shards unmapped */
    assert_non_null(strstr(err, "4096"));
    assert_null(dbmap_new("0-8191=sqlite:/a;5-5=sqlite:/b", "full", err, sizeof(err))); /* twice */
    assert_null(dbmap_new("mysql://x", "full", err, sizeof(err)));
    assert_null(dbmap_new("sqlite:", "full", err, sizeof(err)));
    assert_null(dbmap_new("9-1=sqlite:/a", "full", err, sizeof(err)));
}

static void test_users_and_tokens(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = open_migrated(&map);
    ids_gen_t *g = ids_gen_new();
    user_t u, v;
    user_new_t in = {.username = "Alice", .full_name = "Alice O'Hara", .email = "", .password_hash = "h"};
    int64_t id = ids_next(g, 17);
    assert_int_equal(users_create(db, id, &in, &u), USERS_OK);
    assert_int_equal(u.id, id);
    assert_string_equal(u.username, "Alice");
    assert_string_equal(u.full_name, "Alice O'Hara");
    /* the same name in another case is taken, and nothing is left behind */
    user_new_t dup = {.username = "ALICE", .full_name = "", .email = "", .password_hash = "h"};
    int64_t id2 = ids_next(g, 18);
    assert_int_equal(users_create(db, id2, &dup, &v), USERS_TAKEN);
    assert_int_equal(users_get(db, id2, &v), USERS_NOT_FOUND);
    int64_t found;
    assert_int_equal(users_id_by_username(db, "aLiCe", &found), USERS_OK);
    assert_int_equal(found, id);
    assert_int_equal(users_id_by_username(db, "bob", &found), USERS_NOT_FOUND);

    char tok[TOKEN_MAX_LEN + 1];
    token_grant_t who = {0};
    assert_int_equal(tokens_issue(db, id, tok), USERS_OK);
    assert_int_equal(tokens_check(db, tok, strlen(tok), &who), USERS_OK);
    assert_int_equal(who.user, id);
    assert_int_equal(who.app, 0);
    assert_int_equal(who.scopes, SCOPE_ALL);
    char forged[TOKEN_MAX_LEN + 1];
    snprintf(forged, sizeof(forged), "%lld%s", (long long)id2, strchr(tok, '.'));
    assert_int_equal(tokens_check(db, forged, strlen(forged), &who), USERS_NOT_FOUND);
    assert_int_equal(tokens_revoke(db, tok, strlen(tok)), USERS_OK);
    assert_int_equal(tokens_check(db, tok, strlen(tok), &who), USERS_NOT_FOUND);

    /* search: prefix on username and full name, exact first */
    const char *names[] = {"al", "alfred", "zed"};
    for (int i = 0; i < 3; i++) {
        user_new_t x = {.username = names[i], .full_name = i == 2 ? "Alan Zed" : "", .email = "", .password_hash = "h"};
        assert_int_equal(users_create(db, ids_next(g, (unsigned)i), &x, &v), USERS_OK);
    }
    user_t res[10];
    int n;
    assert_int_equal(users_search(db, "AL", 10, res, &n), USERS_OK);
    assert_int_equal(n, 4);
    assert_string_equal(res[0].username, "al");
    assert_int_equal(users_search(db, "al", 2, res, &n), USERS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(users_search(db, "%", 10, res, &n), USERS_OK);
    assert_int_equal(n, 0); /* no LIKE wildcards */
    ids_gen_free(g);
    db_ctx_free(db);
    dbmap_free(map);
}

/* Regression: a read left open on one connection (a statement not reset)
 * made that connection's next write fail with "database is locked" once
 * another connection had written in between (WAL snapshot upgrade). */
static void test_read_then_write_across_connections(void **state)
{
    dbmap_t *map;
    db_ctx_t *a = open_migrated(&map);
    db_ctx_t *b = db_ctx_new(map);
    ids_gen_t *g = ids_gen_new();
    user_t u;
    user_new_t in = {.username = "carol", .full_name = "", .email = "", .password_hash = "h"};
    int64_t id = ids_next(g, 1);
    assert_int_equal(users_create(a, id, &in, &u), USERS_OK);
    assert_int_equal(users_get(a, id, &u), USERS_OK); /* a reads */
    user_new_t in2 = {.username = "dave", .full_name = "", .email = "", .password_hash = "h"};
    assert_int_equal(users_create(b, ids_next(g, 2), &in2, &u), USERS_OK); /* b writes */
    char tok[TOKEN_MAX_LEN + 1];
    assert_int_equal(tokens_issue(a, id, tok), USERS_OK); /* a writes */
    token_grant_t who;
    assert_int_equal(tokens_check(b, tok, strlen(tok), &who), USERS_OK);
    ids_gen_free(g);
    db_ctx_free(b);
    db_ctx_free(a);
    dbmap_free(map);
}

/* Group commit (src/db/sqlite.c): ops that queue behind an open one join
 * its batch and commit with it, once; an op that fails rolls back only
 * itself, and the ops around it in the batch still commit. */
typedef struct {
    const dbmap_t *map;
    int k;
    int rc;      /* of the commit (or, for the op that fails, of the rollback) */
    sem_t *hold; /* if set, the op waits for it before its commit */
} gc_arg_t;

static int gc_exec(db_conn_t *c, int k)
{
    char sql[128], err[256];
    snprintf(sql, sizeof(sql), "INSERT INTO gc VALUES (%d)", k);
    return c->drv->exec(c, sql, err, sizeof(err));
}

/* A migrated database with the table gc, and sqlite_sync as given. */
static db_ctx_t *gc_open(dbmap_t **map, const char *sync)
{
    db_ctx_t *db = open_migrated_sync(map, sync);
    db_conn_t *c = db_physical(db, 0);
    char err[256];
    assert_int_equal(c->drv->exec(c, "CREATE TABLE gc (k INTEGER PRIMARY KEY)", err, sizeof(err)), 0);
    return db;
}

static void *gc_op(void *p)
{
    gc_arg_t *a = p;
    db_ctx_t *db = db_ctx_new(a->map);
    db_conn_t *c = db_physical(db, 0);
    a->rc = -9;
    if (db_begin(c) == DB_OK) {
        if (a->k == 3) { /* writes, then fails: all of it is undone */
            if (gc_exec(c, 100) == 0 && gc_exec(c, 0) != 0)
                a->rc = db_rollback(c);
        } else {
            if (gc_exec(c, a->k) != 0) {
                db_rollback(c);
                a->rc = -8;
            } else {
                if (a->hold)
                    sem_wait(a->hold);
                a->rc = db_commit(c);
            }
        }
    }
    db_ctx_free(db);
    return NULL;
}

/* Rows of table matching where, as another process would see them. */
static int table_count(const char *table, const char *where)
{
    char path[160], sql[160];
    snprintf(path, sizeof(path), "%s/t.db", dir);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE %s", table, where);
    sqlite3 *h;
    sqlite3_stmt *st;
    int n = -1;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static int gc_count(const char *where)
{
    return table_count("gc", where);
}

static void test_group_commit(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = gc_open(&map, "normal");
    db_conn_t *c = db_physical(db, 0);
    db_sqlite_writes_t w0, w;
    assert_true(db_sqlite_writes(c, &w0));

    /* op 0 holds the write mutex while seven others queue behind it (a
     * window long enough for the whole test: the batch stays open) */
    db_sqlite_batch_window(60ull * 1000000000);
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(gc_exec(c, 0), 0);
    enum { N = 7 };
    pthread_t t[N];
    gc_arg_t args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (gc_arg_t){.map = map, .k = i + 1};
        assert_int_equal(pthread_create(&t[i], NULL, gc_op, &args[i]), 0);
    }
    usleep(300 * 1000);                    /* they are all waiting for the mutex by now */
    assert_int_equal(db_commit(c), DB_OK); /* returns once the batch has committed */
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    assert_true(db_sqlite_writes(c, &w));
    assert_int_equal(w.ops - w0.ops, N + 1);
    assert_int_equal(w.batches - w0.batches, 1); /* eight ops, one commit */
    /* the lock: taken by each op; op 0 held it over 300 ms, while the
     * seven others waited (each at least the 300 ms less its start) */
    assert_true(w.lock_takes - w0.lock_takes >= N + 1);
    assert_true(w.lock_seconds - w0.lock_seconds >= 0.29);
    assert_true(w.lock_wait_seconds - w0.lock_wait_seconds >= N * 0.2);
    assert_int_equal(w.syncs - w0.syncs, 0); /* sqlite_sync normal */
    assert_int_equal(gc_count("k IN (0, 1, 2, 4, 5, 6, 7)"), 7);
    assert_int_equal(gc_count("k IN (3, 100)"), 0); /* the failed op left nothing */

    /* alone, an op commits at once */
    args[0] = (gc_arg_t){.map = map, .k = 8};
    gc_op(&args[0]);
    assert_int_equal(args[0].rc, 0);
    assert_true(db_sqlite_writes(c, &w));
    assert_int_equal(w.batches - w0.batches, 2);
    assert_int_equal(gc_count("k = 8"), 1);

    /* with the default window (1 ms), an op open for 300 ms commits alone
     * when it ends: it does not wait for the op queued behind it, which
     * here cannot end before it is let go (were the batch left open, the
     * commit would never return) */
    db_sqlite_batch_window(1000000);
    sem_t hold;
    sem_init(&hold, 0, 0);
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(gc_exec(c, 10), 0);
    args[0] = (gc_arg_t){.map = map, .k = 11, .hold = &hold};
    assert_int_equal(pthread_create(&t[0], NULL, gc_op, &args[0]), 0);
    usleep(300 * 1000);
    uint64_t before = w.batches;
    assert_int_equal(db_commit(c), DB_OK);
    assert_true(db_sqlite_writes(c, &w));
    assert_int_equal(w.batches - before, 1);
    assert_int_equal(gc_count("k = 10"), 1);
    sem_post(&hold);
    pthread_join(t[0], NULL);
    assert_int_equal(args[0].rc, 0);
    assert_int_equal(gc_count("k = 11"), 1);
    sem_destroy(&hold);

    /* a second write on the database from the same thread, inside the
     * first (through another context), fails rather than waits for itself */
    db_ctx_t *other = db_ctx_new(map);
    db_conn_t *c2 = db_physical(other, 0);
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(db_begin(c2), DB_ERROR);
    assert_int_equal(db_commit(c), DB_OK);
    assert_int_equal(db_begin(c2), DB_OK); /* and works again after */
    assert_int_equal(gc_exec(c2, 21), 0);
    assert_int_equal(db_commit(c2), DB_OK);
    assert_int_equal(gc_count("k = 21"), 1);
    db_ctx_free(other);
    db_ctx_free(db);
    dbmap_free(map);
}

static int afters; /* what db_after_commit ran, as a sum of its arguments */
static void note_after(int64_t v)
{
    afters += (int)v;
}

/* A write group (db.h): the transactions of one thread in one batch, under
 * one hold of the writer's mutex. Each fails alone; none is seen, and what
 * waits for the commit does not run, until the group ends; an op of
 * another thread waits for the group. */
static void test_write_group(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = gc_open(&map, "normal");
    db_conn_t *c = db_physical(db, 0);
    db_sqlite_writes_t w0, w;
    assert_true(db_sqlite_writes(c, &w0));
    db_sqlite_batch_window(60ull * 1000000000);
    afters = 0;
    db_after_commit(note_after, 1000); /* outside a group: at once */
    assert_int_equal(afters, 1000);
    afters = 0;

    assert_true(db_group_supported(db));
    assert_true(db_group_begin(db));
    assert_false(db_group_begin(db)); /* one at a time, per thread */
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(gc_exec(c, 1), 0);
    assert_int_equal(db_commit(c), DB_OK);
    db_after_commit(note_after, 1);
    assert_int_equal(afters, 0);
    assert_int_equal(gc_count("k = 1"), 0); /* not committed yet */
    /* an op that fails rolls back only itself */
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(gc_exec(c, 100), 0);
    assert_true(gc_exec(c, 1) != 0);
    assert_int_equal(db_rollback(c), DB_OK);
    /* another context of the same thread joins the group; a write inside
     * another still fails, as does one outside any transaction */
    db_ctx_t *other = db_ctx_new(map);
    db_conn_t *c2 = db_physical(other, 0);
    assert_int_equal(db_begin(c2), DB_OK);
    assert_int_equal(db_begin(c), DB_ERROR);
    assert_int_equal(gc_exec(c2, 2), 0);
    assert_int_equal(db_commit(c2), DB_OK);
    assert_true(gc_exec(c, 5) != 0);
    /* an op of another thread waits for the group's end */
    pthread_t t;
    gc_arg_t arg = {.map = map, .k = 7};
    assert_int_equal(pthread_create(&t, NULL, gc_op, &arg), 0);
    usleep(200 * 1000);
    assert_int_equal(arg.rc, -9); /* still waiting */
    assert_true(db_group_more(db));
    db_group_commit(db);
    assert_int_equal(db_begin(c), DB_ERROR); /* the group has let go of the lock */
    assert_int_equal(db_group_end(db), DB_OK);
    assert_int_equal(afters, 1);
    pthread_join(t, NULL);
    assert_int_equal(arg.rc, 0);
    assert_int_equal(gc_count("k IN (1, 2, 7)"), 3);
    assert_int_equal(gc_count("k IN (5, 100)"), 0);
    assert_true(db_sqlite_writes(c, &w));
    assert_true(w.batches - w0.batches >= 1 && w.batches - w0.batches <= 2);

    /* a batch SQLite rolls back whole loses the group: its end says so,
     * and the group takes no more ops */
    assert_true(db_group_begin(db));
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(gc_exec(c, 10), 0);
    assert_int_equal(db_commit(c), DB_OK);
    assert_int_equal(db_begin(c), DB_OK);
    char err[256];
    assert_int_equal(c->drv->exec(c, "ROLLBACK", err, sizeof(err)), 0);
    assert_int_equal(db_commit(c), DB_ERROR);
    assert_false(db_group_more(db));
    assert_int_equal(db_begin(c), DB_ERROR);
    db_after_commit(note_after, 10);
    assert_int_equal(db_group_end(db), DB_ERROR);
    assert_int_equal(afters, 11); /* run whatever the outcome */
    assert_int_equal(gc_count("k = 10"), 0);
    /* and the database works as before */
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(gc_exec(c, 11), 0);
    assert_int_equal(db_commit(c), DB_OK);
    assert_int_equal(gc_count("k = 11"), 1);
    db_sqlite_batch_window(1000000);
    db_ctx_free(other);
    db_ctx_free(db);
    dbmap_free(map);
}

/* fdatasync(2) as this test sees it: the calls on a WAL file are counted,
 * with the file's size at the last one, and can be made to fail (EIO).
 * Defined here, it stands in for libc's for picogram's code and SQLite's. */
static atomic_int wal_syncs;
static _Atomic long long wal_synced_size;
/* and the calls on the database file itself (a checkpoint's): in all, and
 * on a thread that set db_sync_watch; they too can be made to fail */
static atomic_int db_syncs, db_syncs_watched;
static _Thread_local bool db_sync_watch;

int fdatasync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    char link[64], path[512];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n > 4 && memcmp(path + n - 4, "-wal", 4) == 0) {
        if (atomic_load(&wal_sync_fails)) {
            errno = EIO;
            return -1;
        }
        struct stat st;
        int rc = real(fd);
        if (rc == 0 && fstat(fd, &st) == 0) {
            atomic_store(&wal_synced_size, (long long)st.st_size);
            atomic_fetch_add(&wal_syncs, 1);
        }
        return rc;
    }
    if (n > 5 && memcmp(path + n - 5, "/t.db", 5) == 0) {
        if (atomic_load(&db_sync_fails)) {
            errno = EIO;
            return -1;
        }
        atomic_fetch_add(&db_syncs, 1);
        if (db_sync_watch)
            atomic_fetch_add(&db_syncs_watched, 1);
    }
    return real(fd);
}

static long long wal_size(void)
{
    char path[160];
    struct stat st;
    snprintf(path, sizeof(path), "%s/t.db-wal", dir);
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The writer's WAL appends (db/walbuf.c): a commit's frames go out in one
 * write, and are in the file when the commit returns (another connection
 * sees them, and the WAL has grown by them), alone or in a group. */
static void test_walbuf_one_write_a_commit(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = gc_open(&map, "full");
    db_conn_t *c = db_physical(db, 0);
    char err[256];
    assert_int_equal(c->drv->exec(c, "CREATE TABLE wb (k INTEGER PRIMARY KEY, v BLOB)", err, sizeof(err)), 0);
    long long size0 = wal_size();
    unsigned long long n0 = db_walbuf_writes();
    assert_true(db_group_begin(db));
    for (int i = 0; i < 20; i++) {
        char sql[96];
        snprintf(sql, sizeof(sql), "INSERT INTO wb VALUES (%d, randomblob(3000))", i);
        assert_int_equal(db_begin(c), DB_OK);
        assert_int_equal(c->drv->exec(c, sql, err, sizeof(err)), 0);
        assert_int_equal(db_commit(c), DB_OK);
    }
    assert_int_equal(db_walbuf_writes() - n0, 0); /* nothing written before the commit */
    db_group_commit(db);
    assert_int_equal(db_walbuf_writes() - n0, 1); /* about twenty pages (82 KiB), one write */
    assert_true(wal_size() >= size0 + 20 * 3000);
    assert_int_equal(table_count("wb", "1"), 20);
    assert_int_equal(db_group_end(db), DB_OK);
    /* alone, the same */
    n0 = db_walbuf_writes();
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(c->drv->exec(c, "INSERT INTO wb VALUES (100, randomblob(9000))", err, sizeof(err)), 0);
    assert_int_equal(db_commit(c), DB_OK);
    assert_int_equal(db_walbuf_writes() - n0, 1);
    assert_int_equal(table_count("wb", "k = 100"), 1);
    db_ctx_free(db);
    dbmap_free(map);
}

/* With sqlite_sync full, a commit returns after an fdatasync of the WAL
 * that began once the commit's frames were in it (the writer syncs it
 * itself, after letting the next batch in); with normal, it does not sync. */
static void test_commit_syncs_wal(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = gc_open(&map, "full");
    db_conn_t *c = db_physical(db, 0);
    db_sqlite_writes_t w0, w;
    assert_true(db_sqlite_writes(c, &w0));

    for (int k = 1; k <= 3; k++) {
        int before = atomic_load(&wal_syncs);
        assert_int_equal(db_begin(c), DB_OK);
        assert_int_equal(gc_exec(c, k), 0);
        assert_int_equal(atomic_load(&wal_syncs), before); /* nothing synced before the commit */
        assert_int_equal(db_commit(c), DB_OK);
        assert_true(atomic_load(&wal_syncs) > before);
        assert_true(atomic_load(&wal_synced_size) >= wal_size()); /* the sync saw the commit's frames */
    }
    /* the writer counts what it did (for /metrics): three ops, three
     * batches, one sync of its own each */
    assert_true(db_sqlite_writes(c, &w));
    assert_int_equal(w.ops - w0.ops, 3);
    assert_int_equal(w.batches - w0.batches, 3);
    assert_int_equal(w.syncs - w0.syncs, 3);
    assert_true(w.sync_seconds > w0.sync_seconds);
    assert_false(w.sync_failed);

    /* a batch of several ops: each returns after a sync that covers it */
    db_sqlite_batch_window(60ull * 1000000000);
    int before = atomic_load(&wal_syncs);
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(gc_exec(c, 10), 0);
    enum { N = 4 };
    pthread_t t[N];
    gc_arg_t args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (gc_arg_t){.map = map, .k = 11 + i};
        assert_int_equal(pthread_create(&t[i], NULL, gc_op, &args[i]), 0);
    }
    usleep(300 * 1000);
    assert_int_equal(db_commit(c), DB_OK);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    db_sqlite_batch_window(1000000);
    assert_true(atomic_load(&wal_syncs) > before);
    assert_true(atomic_load(&wal_synced_size) >= wal_size());
    assert_int_equal(gc_count("k BETWEEN 10 AND 14"), 5);

    /* a failed sync fails its commit, and every write after it: what it
     * covered may be lost, and later frames are read back only after it */
    atomic_store(&wal_sync_fails, true);
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(gc_exec(c, 20), 0);
    assert_int_equal(db_commit(c), DB_ERROR);
    atomic_store(&wal_sync_fails, false);
    assert_int_equal(db_begin(c), DB_ERROR);
    db_sqlite_writes_t failed;
    assert_true(db_sqlite_writes(c, &failed));
    assert_true(failed.sync_failed);
    db_ctx_free(db);
    dbmap_free(map);
}

/* The checkpoint tests' table, and its rows: key k, a blob made by the SQL
 * expression blob, each in a write of its own (blob_put: 0 once committed). */
static void blobs_create(db_conn_t *c)
{
    char err[256];
    assert_int_equal(c->drv->exec(c, "CREATE TABLE blobs (k INTEGER PRIMARY KEY, b BLOB)", err, sizeof(err)), 0);
}

/* A migrated database with full syncs and the blobs table: its connection. */
static db_conn_t *blobs_open(dbmap_t **map, db_ctx_t **db)
{
    *db = open_migrated_sync(map, "full");
    db_conn_t *c = db_physical(*db, 0);
    blobs_create(c);
    return c;
}

static int blob_put(db_conn_t *c, int k, const char *blob)
{
    char sql[96], err[256];
    snprintf(sql, sizeof(sql), "INSERT INTO blobs VALUES (%d, %s)", k, blob);
    if (db_begin(c) != DB_OK)
        return -1;
    if (c->drv->exec(c, sql, err, sizeof(err)) != 0) {
        db_rollback(c);
        return -1;
    }
    return db_commit(c) == DB_OK ? 0 : -1;
}

/* Rows of 64 pages from key 0 until the WAL passes 1,000 pages (the
 * checkpointer wakes), then no more: how many, and the writer's counts
 * after the last. */
static int blobs_past_checkpoint(db_conn_t *c, db_sqlite_writes_t *st)
{
    int k = 0;
    do
        assert_int_equal(blob_put(c, k++, "zeroblob(262144)"), 0);
    while (db_sqlite_writes(c, st) && st->wal_pages < 1000 && k < 100);
    return k;
}

/* The WAL is copied back into the database by the writer's checkpointer
 * thread, never inside a commit (SQLite's own checkpoint would run in the
 * committing thread, with the write mutex held), and it starts again from
 * its beginning: 30 MiB written through it leave it far smaller. */
static void test_checkpoint_outside_commit(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = gc_open(&map, "full");
    db_conn_t *c = db_physical(db, 0);
    blobs_create(c);
    int synced0 = atomic_load(&db_syncs);
    db_sync_watch = true;
    enum { N = 120 }; /* 256 KiB each: 64 pages */
    for (int k = 0; k < N; k++) {
        assert_int_equal(blob_put(c, k, "zeroblob(262144)"), 0);
    }
    db_sync_watch = false;
    for (int i = 0; i < 500 && atomic_load(&db_syncs) == synced0; i++)
        usleep(10 * 1000);
    assert_true(atomic_load(&db_syncs) > synced0); /* checkpoints ran */
    db_sqlite_writes_t st;
    for (int i = 0; i < 500 && db_sqlite_writes(c, &st) && st.checkpoints == 0; i++)
        usleep(10 * 1000);
    assert_true(db_sqlite_writes(c, &st) && st.checkpoints > 0); /* and counted */
    assert_int_equal(atomic_load(&db_syncs_watched), 0);         /* none in a commit of this thread's */
    long long wal = wal_size();
    assert_true(wal > 0 && wal < 16ll << 20);
    assert_int_equal(table_count("blobs", "length(b) = 262144"), N); /* and nothing lost */
    db_ctx_free(db);
    dbmap_free(map);
}

/* A checkpoint whose step 1 copied the whole WAL, with nothing committed
 * since, takes the writer's lock only to look (no copy, no sync under it),
 * and the WAL still starts again at the next batch. */
static void test_checkpoint_quick(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = gc_open(&map, "full");
    db_conn_t *c = db_physical(db, 0);
    blobs_create(c);
    db_sqlite_writes_t st;
    int k = blobs_past_checkpoint(c, &st);
    db_sqlite_writes_t st0 = st;
    for (int i = 0; i < 500 && db_sqlite_writes(c, &st) && st.checkpoints == st0.checkpoints; i++)
        usleep(10 * 1000);
    assert_true(db_sqlite_writes(c, &st) && st.checkpoints > st0.checkpoints);
    /* nothing came in after step 1: step 2 only looked */
    assert_true(st.checkpoints_quick > st0.checkpoints_quick);
    assert_int_equal(blob_put(c, k++, "1"), 0);
    assert_true(db_sqlite_writes(c, &st));
    assert_true(st.wal_pages < 100); /* the WAL started again */
    assert_int_equal(table_count("blobs", "1"), k);
    db_ctx_free(db);
    dbmap_free(map);
}

/* A connection of its own to the test's database, into path, in a read
 * of the blobs: its snapshot holds back the WAL's frames after it. */
static sqlite3 *reader_in_read(char *path, size_t len)
{
    sqlite3 *reader;
    snprintf(path, len, "%s/t.db", dir);
    assert_int_equal(sqlite3_open(path, &reader), SQLITE_OK);
    assert_int_equal(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM blobs", NULL, NULL, NULL), SQLITE_OK);
    return reader;
}

/* A long read (an admin backup's) holds the WAL's frames: while it lasts
 * the checkpointer copies what it may without the writer's lock and does
 * not take the lock at every commit for nothing; once it ends, the next
 * commits' checkpoint copies the rest and the WAL starts again. */
static void test_checkpoint_waits_for_long_read(void **state)
{
    dbmap_t *map;
    db_ctx_t *db;
    db_conn_t *c = blobs_open(&map, &db);
    char path[160];
    sqlite3 *reader = reader_in_read(path, sizeof(path));
    db_sqlite_writes_t st0, st;
    assert_true(db_sqlite_writes(c, &st0));
    int k = 0;
    for (; k < 100; k++) { /* 64 KiB each: 1,700 pages, about 40 commits past 1,000 */
        assert_int_equal(blob_put(c, k, "randomblob(65536)"), 0);
        usleep(2000); /* the checkpointer's turn */
    }
    assert_true(db_sqlite_writes(c, &st));
    assert_int_equal(st.checkpoints, st0.checkpoints); /* none could finish */
    assert_true(st.checkpoint_locks - st0.checkpoint_locks <= 3);
    assert_true(st.wal_pages >= 1000);
    assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(reader);
    for (int i = 0; i < 500 && db_sqlite_writes(c, &st) && st.checkpoints == st0.checkpoints; i++, k++) {
        assert_int_equal(blob_put(c, k, "randomblob(100)"), 0);
        usleep(10 * 1000);
    }
    assert_true(st.checkpoints > st0.checkpoints); /* the WAL copied whole once the read ended */
    assert_int_equal(table_count("blobs", "1"), k);
    db_ctx_free(db);
    dbmap_free(map);
}

/* Step 1 syncs the database after its passes copied frames, outside
 * the writer's lock. SQLite syncs it only at a pass that copied the whole
 * WAL: with a reader holding the last frames back (or, under load, commits
 * coming in), what step 1 copied would wait for step 2's sync, under the
 * lock. A failed sync there, as one of the WAL, fails every write after it
 * (what it covered may be lost). */
static void test_checkpoint_syncs_what_it_copied(void **state)
{
    dbmap_t *map;
    db_ctx_t *db;
    db_conn_t *c = blobs_open(&map, &db);
    char path[160];
    int k = 0;
    for (; k < 8; k++) /* 64 pages each: 512 */
        assert_int_equal(blob_put(c, k, "randomblob(262144)"), 0);
    sqlite3 *reader = reader_in_read(path, sizeof(path));
    int synced0 = atomic_load(&db_syncs);
    db_sqlite_writes_t st0, st;
    assert_true(db_sqlite_writes(c, &st0));
    for (; k < 17; k++) /* past 1,000 pages: the checkpointer may copy the first 512, not the rest */
        assert_int_equal(blob_put(c, k, "randomblob(262144)"), 0);
    for (int i = 0; i < 500 && db_sqlite_writes(c, &st) && st.checkpoint_locks == st0.checkpoint_locks; i++)
        usleep(10 * 1000);
    assert_true(db_sqlite_writes(c, &st) && st.checkpoint_locks > st0.checkpoint_locks); /* step 2 done */
    assert_int_equal(st.checkpoints, st0.checkpoints); /* the reader holds the WAL's last frames */
    assert_true(atomic_load(&db_syncs) > synced0);     /* what step 1 copied is synced */

    /* a pass that copies more, once the reader moves on, fails to sync */
    atomic_store(&db_sync_fails, true);
    assert_int_equal(sqlite3_exec(reader, "COMMIT; BEGIN; SELECT count(*) FROM blobs", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(blob_put(c, k++, "randomblob(262144)"), 0); /* holds its frames back from this pass */
    for (int i = 0; i < 500 && db_sqlite_writes(c, &st) && !st.sync_failed; i++)
        usleep(10 * 1000);
    assert_true(db_sqlite_writes(c, &st) && st.sync_failed);
    atomic_store(&db_sync_fails, false);
    assert_int_not_equal(blob_put(c, k, "1"), 0); /* every write fails from then on */
    assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(reader);
    db_ctx_free(db);
    dbmap_free(map);
    /* and nothing acknowledged is lost */
    sqlite3 *check;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(path, &check), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(check, "SELECT count(*) FROM blobs", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), k);
    sqlite3_finalize(s);
    sqlite3_close(check);
}

/* SQLite's own sync of the database, at a checkpoint pass that copied the
 * whole WAL (no reader, no commit meanwhile), fails: as any failed sync,
 * every write fails from then on. */
static void test_checkpoint_own_sync_fails(void **state)
{
    dbmap_t *map;
    db_ctx_t *db;
    db_conn_t *c = blobs_open(&map, &db);
    atomic_store(&db_sync_fails, true);
    db_sqlite_writes_t st;
    int k = blobs_past_checkpoint(c, &st);
    for (int i = 0; i < 500 && db_sqlite_writes(c, &st) && !st.sync_failed; i++)
        usleep(10 * 1000);
    assert_true(db_sqlite_writes(c, &st) && st.sync_failed);
    atomic_store(&db_sync_fails, false);
    assert_int_equal(st.checkpoints, 0);
    assert_int_not_equal(blob_put(c, k, "1"), 0);
    db_ctx_free(db);
    dbmap_free(map);
}

/* kill -9 of a process writing through its writer while its checkpointer
 * copies the WAL back (64 KiB rows: the WAL crosses 1,000 pages every 60
 * or so), at five points: each time, the database is whole once reopened
 * and holds every row whose commit the process had returned from. */
static void test_kill_during_checkpoints(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = open_migrated_sync(&map, "full");
    db_conn_t *c0 = db_physical(db, 0);
    char err[256];
    blobs_create(c0);
    db_ctx_free(db);
    dbmap_free(map);
    int next = 0;
    for (int round = 0; round < 5; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) { /* no cmocka here: any failure is an exit status */
            close(fds[0]);
            dbmap_t *m = dbmap_new(url, "full", err, sizeof(err));
            db_ctx_t *d = m ? db_ctx_new(m) : NULL;
            db_conn_t *c = d ? db_physical(d, 0) : NULL;
            for (int k = next; c; k++) {
                if (blob_put(c, k, "randomblob(65536)") != 0)
                    break;
                db_sqlite_writes_t st;
                int ack[2] = {k, db_sqlite_writes(c, &st) ? (int)st.checkpoints : -1};
                if (write(fds[1], ack, sizeof(ack)) != sizeof(ack))
                    break;
            }
            _exit(3);
        }
        close(fds[1]);
        int want = 130 + round * 41, n = 0, ack[2] = {-1, 0}, last = -1, ckpts = 0;
        while (n < want && read(fds[0], ack, sizeof(ack)) == sizeof(ack)) {
            last = ack[0];
            ckpts = ack[1];
            n++;
        }
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));                       /* killed while writing, not stopped by a failure */
        while (read(fds[0], ack, sizeof(ack)) == sizeof(ack)) { /* acknowledged before the kill */
            last = ack[0];
            ckpts = ack[1];
        }
        close(fds[0]);
        assert_int_equal(n, want);
        assert_true(ckpts > 0); /* the process's checkpointer had run */
        char path[160];
        snprintf(path, sizeof(path), "%s/t.db", dir);
        sqlite3 *h;
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
        assert_int_equal(sqlite3_prepare_v2(h, "SELECT max(k) FROM blobs", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        int top = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(h);
        char where[64];
        snprintf(where, sizeof(where), "k <= %d AND length(b) = 65536", last);
        assert_int_equal(table_count("blobs", where), last + 1); /* every acknowledged row */
        assert_true(top >= last);
        next = top + 1; /* a row committed but not acknowledged may be there too */
    }
}

static void test_normal_does_not_sync(void **state)
{
    dbmap_t *map;
    db_ctx_t *db = gc_open(&map, "normal");
    db_conn_t *c = db_physical(db, 0);
    int before = atomic_load(&wal_syncs);
    assert_int_equal(db_begin(c), DB_OK);
    assert_int_equal(gc_exec(c, 1), 0);
    assert_int_equal(db_commit(c), DB_OK);
    assert_int_equal(atomic_load(&wal_syncs), before);
    assert_int_equal(gc_count("k = 1"), 1);
    db_ctx_free(db);
    dbmap_free(map);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activity_by_ref_indexed, setup, teardown),
        cmocka_unit_test(test_shard_map),
        cmocka_unit_test_setup_teardown(test_key_shards_backfilled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edge_times_in_ms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_names_folded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_and_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_then_write_across_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walbuf_one_write_a_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_syncs_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_normal_does_not_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_outside_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_quick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_waits_for_long_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_syncs_what_it_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_own_sync_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_during_checkpoints, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
