/* The timelines stores: a fan-out's put reaches the author and the users
 * who follow the author at the put, never someone who unfollowed in
 * between (the followers were read in another transaction). The database
 * store checks before it puts; the Redis store (against a real
 * redis-server, started here on a free loopback port) takes the post back
 * from those who no longer follow once the put has landed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ids.h"
#include "db/db.h"
#include "feeds/feeds.h"

static char dir[64], url[128];
static dbmap_t *map;
static db_ctx_t *db;
static feeds_t feeds;

static int setup(void **state)
{
    char err[256];
    strcpy(dir, "/tmp/picogram-feedtest-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(url, sizeof(url), "sqlite:%s/f.db", dir);
    map = dbmap_new(url, "normal", err, sizeof(err));
    if (map == NULL)
        return -1;
    db = db_ctx_new(map);
    int from, to;
    if (db_migrate(db_physical(db, 0), &from, &to, err, sizeof(err)) != 0)
        return -1;
    return feeds_init(&feeds, "db", "t", 100, 1000000, 64, err, sizeof(err));
}

static int teardown(void **state)
{
    char cmd[128];
    feeds_close(&feeds);
    db_ctx_free(db);
    dbmap_free(map);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void set_follow(int64_t user, int64_t target, int status)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    db_stmt_t *s = db_q(c, status ? Q_FOLLOWING_PUT : Q_FOLLOWING_DEL);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, target);
    if (status) {
        db_bind_i64(s, 3, status);
        db_bind_i64(s, 4, 1);
    }
    assert_int_equal(db_exec_stmt(s), DB_DONE);
}

static bool in_timeline(int64_t user, int64_t media)
{
    int64_t ids[16];
    int n = 0;
    assert_int_equal(feeds.be->read(&feeds, db, user, INT64_MAX, 0, 16, ids, &n), 0);
    for (int i = 0; i < n; i++)
        if (ids[i] == media)
            return true;
    return false;
}

static void put_only_to_followers(void)
{
    int64_t author = ids_make(ids_now_ms(), 3, 1), fan = ids_make(ids_now_ms(), 5, 2),
            asked = ids_make(ids_now_ms(), 7, 3), gone = ids_make(ids_now_ms(), 9, 4);
    set_follow(fan, author, 1);   /* follows */
    set_follow(asked, author, 2); /* a request, not yet approved */
    set_follow(gone, author, 1);
    set_follow(gone, author, 0); /* unfollowed after the fan-out read its followers */
    int64_t media = ids_make(ids_now_ms(), 3, 9);
    int64_t users[] = {author, fan, asked, gone};
    for (int i = 0; i < 4; i++) /* built (empty): a read of one never built answers FEEDS_NOT_BUILT */
        assert_int_equal(feeds.be->set_built(&feeds, db, users[i]), 0);
    assert_int_equal(feeds.be->push(&feeds, db, users, 4, media, author), 0);
    assert_true(in_timeline(author, media));
    assert_true(in_timeline(fan, media));
    assert_false(in_timeline(asked, media));
    assert_false(in_timeline(gone, media));
    /* idempotent: a repeated put (a retried job) neither fails nor doubles */
    assert_int_equal(feeds.be->push(&feeds, db, users, 4, media, author), 0);
    int64_t ids[16];
    int n = 0;
    assert_int_equal(feeds.be->read(&feeds, db, fan, INT64_MAX, 0, 16, ids, &n), 0);
    assert_int_equal(n, 1);
}

static void test_put_only_to_followers(void **state)
{
    put_only_to_followers();
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static void test_redis_put_only_to_followers(void **state)
{
    int port = free_port();
    assert_true(port > 0);
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no", "--dir", dir, "--loglevel", "warning", (char *)NULL);
        _exit(127); /* scripts/deps.sh test installs redis-server */
    }
    assert_true(pid > 0);
    char rurl[64], err[256];
    snprintf(rurl, sizeof(rurl), "redis://127.0.0.1:%d", port);
    feeds_close(&feeds);
    int rc = -1;
    for (int i = 0; i < 100 && rc != 0; i++) { /* until it listens */
        usleep(50000);
        rc = feeds_init(&feeds, rurl, "t", 100, 1000000, 64, err, sizeof(err));
        if (rc == 0) {
            bool built;
            if (feeds.be->is_built(&feeds, db, 1, &built) != 0) {
                feeds_close(&feeds);
                rc = -1;
            }
        }
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, WNOHANG), 0); /* it runs */
    assert_int_equal(rc, 0);
    put_only_to_followers();
    feeds_close(&feeds);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    assert_int_equal(feeds_init(&feeds, "db", "t", 100, 1000000, 64, err, sizeof(err)), 0); /* for teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_only_to_followers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_put_only_to_followers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
