/* The file photo store: durable puts, deletes, key derivation, the sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "core/buf.h"
#include "blob/s3list.h"
#include "core/ids.h"

static char dir[64];

static int setup(void **state)
{
    strcpy(dir, "/tmp/picogram-blobtest-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool keep_even(const char *key, void *arg)
{
    int64_t fk;
    int64_t id = blob_media_key_id(key, &fk);
    (*(int *)arg)++;
    return id == 0 || id % 2 == 0;
}

static void test_keys(void **state)
{
    char key[128];
    int64_t id = ids_make(PICOGRAM_EPOCH_MS + 5000, 77, 3);
    int64_t fk = -1;
    /* the old form, file key 0 */
    blob_media_key(key, sizeof(key), id, 0, "t");
    char want[128];
    snprintf(want, sizeof(want), "media/77/%lld_t.jpg", (long long)id);
    assert_string_equal(key, want);
    assert_int_equal(blob_media_key_id(key, &fk), id);
    assert_int_equal(fk, 0);
    /* with a file key: 16 hex digits between the ID and the size */
    blob_media_key(key, sizeof(key), id, 0x0123456789abcdefLL, "std");
    snprintf(want, sizeof(want), "media/77/%lld_0123456789abcdef_std.jpg", (long long)id);
    assert_string_equal(key, want);
    assert_int_equal(blob_media_key_id(key, &fk), id);
    assert_int_equal(fk, 0x0123456789abcdefLL);
    assert_int_equal(blob_media_key_id("media/78/123_t.jpg", &fk), 0); /* wrong shard for the id */
    assert_int_equal(blob_media_key_id("media/77/x_t.jpg", &fk), 0);
    assert_int_equal(blob_media_key_id("other", &fk), 0);
    char bad[160];
    snprintf(bad, sizeof(bad), "%s.tmp.1234", key);
    assert_int_equal(blob_media_key_id(bad, &fk), 0);
    const char *bad_tails[] = {"0123456789ABCDEF_t.jpg", "0123456789abcde_t.jpg", "0000000000000000_t.jpg",
                               "8000000000000000_t.jpg", "0123456789abcdef_t.png", "0123456789abcdef.jpg"};
    for (size_t i = 0; i < sizeof(bad_tails) / sizeof(bad_tails[0]); i++) {
        snprintf(bad, sizeof(bad), "media/77/%lld_%s", (long long)id, bad_tails[i]);
        assert_int_equal(blob_media_key_id(bad, &fk), 0);
    }
    /* new file keys: 63 random bits, never 0 */
    int64_t a = blob_new_file_key(), b = blob_new_file_key();
    assert_true(a > 0 && b > 0 && a != b);
}

static void test_put_del_sweep(void **state)
{
    char url[128], err[256];
    snprintf(url, sizeof(url), "file:%s/store", dir);
    blob_store_t *s = blob_open(url, NULL, err, sizeof(err));
    assert_non_null(s);
    char key[128];
    int64_t ids[4];
    for (int i = 0; i < 4; i++) {
        ids[i] = ids_make(PICOGRAM_EPOCH_MS + 1000 + i, 5, (unsigned)i);
        blob_media_key(key, sizeof(key), ids[i], 0, "h");
        assert_int_equal(blob_put(s, key, "jpegbytes", 9), 0);
    }
    char path[256];
    snprintf(path, sizeof(path), "%s/store/media/5/%lld_h.jpg", dir, (long long)ids[0]);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 9);
    /* a temporary left by a crash, and a file that is not ours */
    snprintf(path, sizeof(path), "%s/store/media/5/%lld_h.jpg.tmp.deadbeef", dir, (long long)ids[1]);
    FILE *f = fopen(path, "w");
    fclose(f);
    snprintf(path, sizeof(path), "%s/store/media/5/README", dir);
    f = fopen(path, "w");
    fclose(f);
    int seen = 0;
    /* everything is seconds old: a sweep sparing the last hour takes nothing, asks nothing */
    assert_int_equal(s->be->sweep(s, 3600, keep_even, &seen), 0);
    assert_int_equal(seen, 0);
    long deleted = s->be->sweep(s, 0, keep_even, &seen);
    int odd = 0;
    for (int i = 0; i < 4; i++)
        odd += ids[i] % 2 != 0;
    assert_int_equal(deleted, odd + 1); /* the odd ids and the temporary */
    assert_int_equal(stat(path, &st), 0); /* README kept */
    /* a copy under a file key: a second name for the same bytes */
    char keyed[128];
    blob_media_key(key, sizeof(key), ids[0], 0, "h");
    blob_media_key(keyed, sizeof(keyed), ids[0], 42, "h");
    assert_int_equal(blob_copy(s, key, keyed), 0);
    assert_int_equal(blob_copy(s, key, keyed), 0); /* again: idempotent */
    snprintf(path, sizeof(path), "%s/store/%s", dir, keyed);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 9);
    blob_media_key(keyed, sizeof(keyed), ids[0] + 1, 43, "h");
    assert_int_equal(blob_copy(s, "media/5/nothing_h.jpg", keyed), -1); /* no source */
    /* get: the bytes, absent, or over the buffer's max (nothing partial) */
    buf_t got;
    buf_init(&got, 64);
    assert_int_equal(blob_get(s, key, &got), BLOB_OK);
    assert_int_equal(got.len, 9);
    assert_memory_equal(got.data, "jpegbytes", 9);
    buf_reset(&got);
    assert_int_equal(blob_get(s, "media/5/nothing_h.jpg", &got), BLOB_ABSENT);
    assert_int_equal(got.len, 0);
    buf_free(&got);
    buf_init(&got, 4);
    assert_int_equal(blob_get(s, key, &got), BLOB_ERROR);
    buf_free(&got);
    assert_int_equal(blob_del(s, key), 0);
    assert_int_equal(blob_del(s, key), 0); /* already gone is fine */
    blob_close(s);
    assert_null(blob_open("s4:bucket", NULL, err, sizeof(err)));
    /* s3: a bucket in an http(s) URL, and credentials */
    blob_options_t creds = {"AKID", "SECRET", NULL};
    const char *bad_s3[] = {"s3:bucket", "s3:ftp://h/b", "s3:http://h", "s3:http://h/", "s3:http:///b", "s3:http://h/B_b"};
    for (size_t i = 0; i < sizeof(bad_s3) / sizeof(bad_s3[0]); i++) {
        assert_null(blob_open(bad_s3[i], &creds, err, sizeof(err)));
        assert_non_null(strstr(err, "s3:http(s)://HOST[:PORT]/BUCKET"));
    }
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_null(blob_open("s3:http://127.0.0.1:9/b", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "no credentials"));
    blob_options_t colon = {"A:B", "S", NULL};
    assert_null(blob_open("s3:http://127.0.0.1:9/b", &colon, err, sizeof(err)));
    setenv("AWS_ACCESS_KEY_ID", "envkey", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    blob_store_t *s3 = blob_open("s3:http://127.0.0.1:9/bucket-1", NULL, err, sizeof(err));
    assert_non_null(s3);
    assert_null(s3->be->local_dir);
    /* nothing listens on port 9: a put fails (no hang), a sweep says it could not list */
    assert_int_equal(blob_put(s3, "media/1/x_h.jpg", "x", 1), -1);
    assert_int_equal(s3->be->sweep(s3, 0, keep_even, &seen), -1);
    blob_close(s3);
}

static void test_s3_list(void **state)
{
    static const char page[] =
        "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<KeyCount>3</KeyCount><IsTruncated>true</IsTruncated>"
        "<Contents><Key>media/5/1_h.jpg</Key><LastModified>2026-12-02T04:05:06.000Z</LastModified></Contents>"
        "<Contents><Key>media/5/a&amp;b&#43;.jpg</Key><LastModified>1970-01-01T00:00:10Z</LastModified></Contents>"
        "<Contents><LastModified>2026-12-02T04:05:06Z</LastModified></Contents>"
        "<Contents><Key>media/5/2_h.jpg</Key><LastModified>yesterday</LastModified></Contents>"
        "<NextContinuationToken>t&lt;1&gt;</NextContinuationToken></ListBucketResult>";
    s3_list_t l;
    assert_int_equal(s3_list_parse(page, sizeof(page) - 1, &l), 0);
    assert_true(l.truncated);
    assert_string_equal(l.next, "t<1>");
    assert_int_equal(l.n, 3); /* the entry without a key is skipped */
    assert_string_equal(l.entries[0].key, "media/5/1_h.jpg");
    assert_int_equal(l.entries[0].modified, 1796184306);
    assert_string_equal(l.entries[1].key, "media/5/a&b+.jpg");
    assert_int_equal(l.entries[1].modified, 10);
    assert_int_equal(l.entries[2].modified, -1); /* unreadable: of unknown age, so spared */
    s3_list_free(&l);
    static const char last[] = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
    assert_int_equal(s3_list_parse(last, sizeof(last) - 1, &l), 0);
    assert_false(l.truncated);
    assert_int_equal(l.n, 0);
    assert_string_equal(l.next, "");
    s3_list_free(&l);
    static const char error[] = "<Error><Code>AccessDenied</Code></Error>";
    assert_int_equal(s3_list_parse(error, sizeof(error) - 1, &l), -1);
    s3_list_free(&l);
    static const char bad_entity[] = "<ListBucketResult><NextContinuationToken>a&bogus;</NextContinuationToken></ListBucketResult>";
    assert_int_equal(s3_list_parse(bad_entity, sizeof(bad_entity) - 1, &l), -1);
    s3_list_free(&l);
    assert_int_equal(s3_time_parse("2026-12-02T04:05:06Z", 20), 1796184306);
    assert_int_equal(s3_time_parse("2026-13-02T04:05:06Z", 20), -1);
    assert_int_equal(s3_time_parse("2026-12-02 04:05:06Z", 20), -1);
    assert_int_equal(s3_time_parse("2026-12-02T04:05:06.1x3Z", 24), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test_setup_teardown(test_put_del_sweep, setup, teardown),
        cmocka_unit_test(test_s3_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
