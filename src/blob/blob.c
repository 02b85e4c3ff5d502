#include "blob/blob.h"
#include "core/ids.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const blob_backend_t *const backends[] = {&blob_backend_file, &blob_backend_s3};

blob_store_t *blob_open(const char *url, const blob_options_t *opt, char *err, size_t errlen)
{
    const char *colon = strchr(url, ':');
    for (size_t i = 0; colon && i < sizeof(backends) / sizeof(backends[0]); i++) {
        size_t n = strlen(backends[i]->scheme);
        if ((size_t)(colon - url) == n && memcmp(url, backends[i]->scheme, n) == 0)
            return backends[i]->open(colon + 1, opt, err, errlen);
    }
    snprintf(err, errlen, "bad value for photo_store: '%s' (supported: file:DIR, s3:http(s)://HOST[:PORT]/BUCKET)", url);
    return NULL;
}

void blob_media_key(char *out, size_t cap, int64_t media_id, int64_t file_key, const char *suffix)
{
    if (file_key == 0)
        snprintf(out, cap, "media/%u/%lld_%s.jpg", ids_shard(media_id), (long long)media_id, suffix);
    else
        snprintf(out, cap, "media/%u/%lld_%016llx_%s.jpg", ids_shard(media_id), (long long)media_id,
                 (unsigned long long)file_key, suffix);
}

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int64_t blob_media_key_id(const char *key, int64_t *file_key)
{
    unsigned shard;
    long long id;
    char a[20], b[8];
    int used = 0;
    *file_key = 0;
    if (sscanf(key, "media/%u/%lld_%19[a-z0-9]%n", &shard, &id, a, &used) != 3 || id <= 0 || ids_shard(id) != shard)
        return 0;
    const char *rest = key + used;
    if (strcmp(rest, ".jpg") == 0 && strspn(a, "abcdefghijklmnopqrstuvwxyz") == strlen(a) && strlen(a) <= 7)
        return id; /* the old form: <id>_<suffix>.jpg */
    int used2 = 0;
    if (strlen(a) != 16 || !lower_hex(a, 16) || sscanf(rest, "_%7[a-z].jpg%n", b, &used2) != 1 || rest[used2] != '\0')
        return 0;
    unsigned long long fk = strtoull(a, NULL, 16);
    if (fk == 0 || fk > INT64_MAX)
        return 0;
    *file_key = (int64_t)fk;
    return id;
}

int64_t blob_new_file_key(void)
{
    uint64_t v = 0;
    while (v == 0) {
        randombytes_buf(&v, sizeof(v));
        v &= INT64_MAX;
    }
    return (int64_t)v;
}
