#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static void test_defaults(void **state)
{
    config_t c;
    char err[256];
    config_init(&c);
    assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_string_equal(c.database, "sqlite:./data/picogram.db");
    assert_string_equal(c.public_url, "http://127.0.0.1:8080");
    assert_int_equal(c.rate_limit, 5000);
    assert_int_equal(c.max_upload, 25 << 20);
    assert_true(c.threads >= 1);
    /* the object cache: a sixteenth of memory, at least 64 MiB */
    long long m = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE) / 16;
    assert_true(c.cache_size >= 64LL << 20);
    assert_true(c.cache_size <= (m > 64LL << 20 ? m : 64LL << 20));
    config_free(&c);
}

/* cache_size: auto, or a size of a megabyte or more */
static void test_cache_size(void **state)
{
    (void)state;
    config_t c;
    char err[256];
    config_init(&c);
    assert_int_equal(config_set(&c, "cache_size", "100k", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "expected auto, or a size"));
    assert_int_equal(config_set(&c, "cache_size", "0", err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "cache_size", "lots", err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "cache_size", "128g", err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "cache_size", "128m", err, sizeof(err)), 0);
    assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
    assert_int_equal(c.cache_size, 128LL << 20);
    config_free(&c);
    config_init(&c);
    assert_int_equal(config_set(&c, "cache_size", "AUTO", err, sizeof(err)), 0);
    assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
    assert_true(c.cache_size >= 64LL << 20);
    config_free(&c);
}

static void test_precedence(void **state)
{
    char path[] = "/tmp/picogram-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# comment\nlisten = 127.0.0.1:1111\ndata = \"/tmp/from-file\"\nthreads=3\n\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    config_t c;
    char err[256];
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
    char *env[] = {"PICOGRAM_LISTEN=127.0.0.1:2222", "PICOGRAM_MAX_BODY=64k", "OTHER=x", "PICOGRAM_UNKNOWN=1", NULL};
    assert_int_equal(config_load_env(&c, env, err, sizeof(err)), 0);
    assert_int_equal(config_set(&c, "threads", "4", err, sizeof(err)), 0); /* a flag */
    assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
    assert_int_equal(c.listen_port, 2222);    /* env over file */
    assert_string_equal(c.data_dir, "/tmp/from-file");
    assert_int_equal(c.threads, 4);           /* flag over file */
    assert_int_equal(c.max_body, 64 << 10);
    config_free(&c);
    unlink(path);
}

static void test_errors(void **state)
{
    config_t c;
    char err[256];
    config_init(&c);
    assert_int_equal(config_set(&c, "threads", "many", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "threads"));
    assert_int_equal(config_set(&c, "threads", "-1", err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "listen", "nocolon", err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "metrics_listen", "nocolon", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "metrics_listen"));
    assert_null(c.metrics_host);
    assert_int_equal(config_set(&c, "metrics_listen", "[::1]:9108", err, sizeof(err)), 0);
    assert_string_equal(c.metrics_host, "::1");
    assert_int_equal(c.metrics_port, 9108);
    assert_int_equal(config_set(&c, "metrics_listen", "off", err, sizeof(err)), 0);
    assert_null(c.metrics_host);
    assert_int_equal(config_set(&c, "listen", "h:99999", err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "max_body", "12q", err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "log_level", "loud", err, sizeof(err)), -1);
    assert_int_equal(config_set(&c, "nonsense", "1", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "nonsense"));
    assert_int_equal(config_set(&c, "max-upload", "1k", err, sizeof(err)), 0); /* dashes work */
    assert_int_equal(config_finish(&c, err, sizeof(err)), -1); /* max_body > max_upload */
    config_free(&c);
    char *env[] = {"PICOGRAM_THREADS=lots", NULL};
    config_init(&c);
    assert_int_equal(config_load_env(&c, env, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "PICOGRAM_THREADS"));
    assert_int_equal(config_load_file(&c, "/nonexistent/picogram.conf", err, sizeof(err)), -1);
    config_free(&c);
}

static void test_bad_file_line(void **state)
{
    char path[] = "/tmp/picogram-config-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "listen = 127.0.0.1:1\nthis line is wrong\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    config_t c;
    char err[256];
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2:"));
    config_free(&c);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_cache_size),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bad_file_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
