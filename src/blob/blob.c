#include "blob/blob.h"
#include "core/ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const blob_backend_t *const backends[] = {&blob_backend_file};

blob_store_t *blob_open(const char *url, char *err, size_t errlen)
{
    const char *colon = strchr(url, ':');
    for (size_t i = 0; colon && i < sizeof(backends) / sizeof(backends[0]); i++) {
        size_t n = strlen(backends[i]->scheme);
        if ((size_t)(colon - url) == n && memcmp(url, backends[i]->scheme, n) == 0)
            return backends[i]->open(colon + 1, err, errlen);
    }
    snprintf(err, errlen, "bad value for photo_store: '%s' (supported: file:DIR)", url);
    return NULL;
}

void blob_media_key(char *out, size_t cap, int64_t media_id, const char *suffix)
{
    snprintf(out, cap, "media/%u/%lld_%s.jpg", ids_shard(media_id), (long long)media_id, suffix);
}

int64_t blob_media_key_id(const char *key)
{
    unsigned shard;
    long long id;
    char suffix[8];
    int used = 0;
    if (sscanf(key, "media/%u/%lld_%7[a-z].jpg%n", &shard, &id, suffix, &used) != 3 || key[used] != '\0' || id <= 0 ||
        ids_shard(id) != shard)
        return 0;
    return id;
}
