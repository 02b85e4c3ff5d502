/*
 * The parser of an S3 ListObjectsV2 reply (the photo store's sweep): the
 * keys with their LastModified times, whether the list is truncated, and
 * the token of the next page. A small, strict reader of the elements it
 * needs, not an XML parser: anything else is skipped. Pure, for the fuzzer.
 */
#ifndef PICOGRAM_S3LIST_H
#define PICOGRAM_S3LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3_KEY_MAX 1024

typedef struct s3_entry {
    char key[S3_KEY_MAX + 1];
    int64_t modified; /* unix seconds; -1 if absent or unreadable */
} s3_entry_t;

typedef struct s3_list {
    s3_entry_t *entries;
    size_t n;
    bool truncated;
    char next[S3_KEY_MAX + 1]; /* NextContinuationToken, "" if none */
} s3_list_t;

/* 0, or -1 if xml is not a ListBucketResult. A key or token too long is
 * skipped (an entry) or makes it fail (the token). */
int s3_list_parse(const char *xml, size_t len, s3_list_t *out);
void s3_list_free(s3_list_t *l);
/* "2026-12-02T04:05:06.000Z" to unix seconds, or -1. */
int64_t s3_time_parse(const char *s, size_t n);

#endif
