/*
 * feeds: the store of home timelines, the interface and its embedded
 * backend. IDs only: which media go into whose timeline is decided above
 * (model/timeline.h); this module keeps the lists.
 *
 * DESIGN
 * A timeline is a capped list of media IDs per user, newest first, each
 * with its author (so an unfollow takes an author's items out without
 * asking the author's shard). Every operation is idempotent. A user's
 * timeline is "built" once it has been filled from the database; one that
 * was never built (a new account, a lost timeline) is rebuilt on first read.
 *
 * The backend is a const vtable: `sqlite` (the feed_items table, on the
 * user's shard) now, Redis lists in the cluster later.
 */
#ifndef PICOGRAM_FEEDS_H
#define PICOGRAM_FEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "db/db.h"

typedef struct feeds feeds_t;

typedef struct feeds_backend {
    const char *name;
    /* Puts media (by author) into each user's timeline, keeping each capped.
     * The users may be on any shards. */
    int (*push)(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media, int64_t author);
    /* Puts media[i] (by authors[i]) into user's timeline, keeping it capped. */
    int (*add)(feeds_t *f, db_ctx_t *db, int64_t user, const int64_t *media, const int64_t *authors, size_t n);
    /* Timeline IDs with min_id < id < max_id, newest first. */
    int (*read)(feeds_t *f, db_ctx_t *db, int64_t user, int64_t max_id, int64_t min_id, int limit, int64_t *out,
                int *n);
    int (*is_built)(feeds_t *f, db_ctx_t *db, int64_t user, bool *built);
    int (*set_built)(feeds_t *f, db_ctx_t *db, int64_t user);
    int (*remove_author)(feeds_t *f, db_ctx_t *db, int64_t user, int64_t author);
    /* Takes media out of every timeline. */
    int (*remove_media)(feeds_t *f, db_ctx_t *db, int64_t media);
} feeds_backend_t;

struct feeds {
    const feeds_backend_t *be;
    cache_t *cache;      /* each change to a timeline drops its cached head (CACHE_TIMELINE); may be NULL */
    int cap;             /* timeline length */
    long long celebrity; /* more followers than this: merged at read time */
    int batch;           /* followers per fan-out batch */
};

extern const feeds_backend_t feeds_backend_sqlite;

/* 0 or -1. */
int feeds_init(feeds_t *f, const char *backend, int cap, long long celebrity, int batch);

#endif
