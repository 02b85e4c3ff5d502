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
    blob_store_t *s = blob_open(url, err, sizeof(err));
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
    long deleted = s->be->sweep(s, keep_even, &seen);
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
    assert_int_equal(blob_del(s, key), 0);
    assert_int_equal(blob_del(s, key), 0); /* already gone is fine */
    blob_close(s);
    assert_null(blob_open("s4:bucket", err, sizeof(err)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test_setup_teardown(test_put_del_sweep, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
