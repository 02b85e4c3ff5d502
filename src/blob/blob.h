/*
 * blob: the photo store interface. Photos are immutable blobs under keys
 * that picogram derives from media IDs and each media's random file key
 * ("media/<shard>/<id>_<file key, 16 hex>_<size>.jpg"), so no path ever
 * comes from user input, and no file can be found from a media ID alone:
 * the file key is 63 random bits kept with the row and shown only in the
 * URLs of those who may see the photo. Photos stored before file keys
 * existed (file key 0) have "media/<shard>/<id>_<size>.jpg" until the
 * photo_rekey job (model/photo_keys.h) gives them one.
 *
 * A backend is a const vtable picked by the URL scheme of the store:
 * "file:DIR" (a directory; picogram serves it) or
 * "s3:http(s)://HOST[:PORT]/BUCKET" (blob/s3.c; a CDN or nginx serves it).
 * blob_put is durable when it returns 0: the bytes are on stable storage
 * under their final key (the file backend writes a temporary name, fsyncs
 * it, renames it and fsyncs the directory; S3 answers only then).
 * Thread safe.
 */
#ifndef PICOGRAM_BLOB_H
#define PICOGRAM_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct blob_store blob_store_t;
struct buf;

enum { BLOB_OK = 0, BLOB_ABSENT = 1, BLOB_ERROR = -1 };

/* What a backend may need besides its URL (NULL fields: its defaults). */
typedef struct blob_options {
    const char *access_key, *secret_key; /* s3: else AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY */
    const char *region;                  /* s3: default us-east-1 */
} blob_options_t;

typedef struct blob_backend {
    const char *scheme;
    blob_store_t *(*open)(const char *target, const blob_options_t *opt, char *err, size_t errlen);
    void (*close)(blob_store_t *s);
    int (*put)(blob_store_t *s, const char *key, const void *data, size_t len);
    int (*del)(blob_store_t *s, const char *key); /* 0 also if already absent */
    /* Appends the bytes of key to out (a buf_t: its max bounds them):
     * BLOB_OK, BLOB_ABSENT, or BLOB_ERROR (unreachable, or over out's max). */
    int (*get)(blob_store_t *s, const char *key, struct buf *out);
    /* Copies from to to, durably (0), or -1 (also when from is absent). */
    int (*copy)(blob_store_t *s, const char *from, const char *to);
    /* Calls keep(key) for every stored key at least older_than_s seconds
     * old (and removes temporaries that old, left by a crash); takes the
     * keys for which it returns false out of the store (the file backend
     * moves them to DIR/orphans/). Younger keys may be uploads in flight:
     * left alone. Returns the count taken out, or -1 if the store could
     * not be listed. */
    long (*sweep)(blob_store_t *s, int64_t older_than_s, bool (*keep)(const char *key, void *arg), void *arg);
    /* The local directory holding the keys, if the backend has one (file:). */
    const char *(*local_dir)(blob_store_t *s);
    /* Whether the store takes writes now (file: a file can be made in its
     * directory; s3: the bucket answers HEAD): 0, or -1 with why. */
    int (*probe)(blob_store_t *s, char *why, size_t whylen);
} blob_backend_t;

struct blob_store {
    const blob_backend_t *be;
};

blob_store_t *blob_open(const char *url, const blob_options_t *opt, char *err, size_t errlen);
static inline void blob_close(blob_store_t *s)
{
    if (s)
        s->be->close(s);
}
static inline int blob_put(blob_store_t *s, const char *key, const void *data, size_t len)
{
    return s->be->put(s, key, data, len);
}
static inline int blob_del(blob_store_t *s, const char *key)
{
    return s->be->del(s, key);
}

static inline int blob_get(blob_store_t *s, const char *key, struct buf *out)
{
    return s->be->get(s, key, out);
}

static inline int blob_copy(blob_store_t *s, const char *from, const char *to)
{
    return s->be->copy(s, from, to);
}

#define BLOB_KEY_MAX 128
/* The key of a media rendition: "media/<shard>/<id>_<file key>_<suffix>.jpg",
 * or "media/<shard>/<id>_<suffix>.jpg" for file key 0 (a photo stored
 * before file keys). */
void blob_media_key(char *out, size_t cap, int64_t media_id, int64_t file_key, const char *suffix);
/* Parses a media key back to its media ID and file key (0 for the old
 * form); returns the media ID, or 0 if it is not a media key. */
int64_t blob_media_key_id(const char *key, int64_t *file_key);
/* A new random file key: 63 bits, never 0. */
int64_t blob_new_file_key(void);

extern const blob_backend_t blob_backend_file;
extern const blob_backend_t blob_backend_s3;

#endif
