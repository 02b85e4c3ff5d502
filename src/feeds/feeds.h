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
 * The backend is a const vtable, chosen by the `feed_store` setting:
 *   db      the feed_items table on the user's shard (SQLite or PostgreSQL);
 *   redis://HOST:PORT  one sorted set per user in Redis (feeds/redis.c),
 *           the cluster's: timelines are cheap to lose there, since a
 *           missing one is rebuilt from the database on its next read.
 * Every operation answers FEEDS_OK, or FEEDS_ERROR; a read may also answer
 * FEEDS_NOT_BUILT (the store lost the timeline: rebuild it), and any
 * operation FEEDS_DOWN (the store cannot be reached: readers pull from the
 * database instead, writers wait and retry).
 */
#ifndef PICOGRAM_FEEDS_H
#define PICOGRAM_FEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "db/db.h"

typedef struct feeds feeds_t;

enum { FEEDS_OK = 0, FEEDS_ERROR = -1, FEEDS_NOT_BUILT = 1, FEEDS_DOWN = 2 };

typedef struct feeds_backend {
    const char *name;
    /* Puts media (by author) into each user's timeline, keeping each capped.
     * The users may be on any shards. A user other than the author gets it
     * only if they follow the author at the put, checked by the db store in
     * the put's own transaction, so an unfollow committed after the fan-out
     * read its followers still wins. The Redis store puts, then (in
     * push_wait, once Redis applied the put) takes the post back from those
     * who no longer follow. */
    int (*push)(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media, int64_t author);
    /* push in two halves, so that a fan-out reads its next batch of
     * followers while the store works on this one (NULL: the store has
     * only push). push_send sends, and sets *pending for its push_wait
     * (the same users, media and author),
     * which waits for the store's answer. On one thread, a push_send is
     * followed by its push_wait (same users) before any other call. */
    int (*push_send)(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media, int64_t author,
                     size_t *pending);
    int (*push_wait)(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media, int64_t author,
                     size_t pending);
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
    /* The popular ranking, best first, replaced whole; NULL: the store
     * keeps none (the database's table is read). */
    int (*popular_put)(feeds_t *f, db_ctx_t *db, const int64_t *ids, size_t n);
    int (*popular_get)(feeds_t *f, db_ctx_t *db, int64_t *ids, int cap, int *n);
} feeds_backend_t;

struct feeds {
    const feeds_backend_t *be;
    cache_t *cache;      /* each change to a timeline drops its cached head (CACHE_TIMELINE); may be NULL */
    int cap;             /* timeline length */
    long long celebrity; /* more followers than this: merged at read time */
    int batch;           /* followers per fan-out batch */
    void *state;         /* the backend's */
};

extern const feeds_backend_t feeds_backend_sqlite;
extern const feeds_backend_t feeds_backend_redis;

/* store: "db" or "redis://HOST:PORT"; ns: the cluster's namespace in Redis
 * keys (cache/redis.h). 0, or -1 with a message in err. */
int feeds_init(feeds_t *f, const char *store, const char *ns, int cap, long long celebrity, int batch, char *err,
               size_t errlen);
/* The Redis backend's state (its links): after every thread that used it has ended. */
void feeds_close(feeds_t *f);
/* For the Redis backend: set up f->state. 0, or -1 with err. */
int feeds_redis_open(feeds_t *f, const char *url, const char *ns, char *err, size_t errlen);
void feeds_redis_close(feeds_t *f);
/* The database backend's add and remove_author inside a transaction the
 * caller has open on c, user's shard (the cached head is the caller's to
 * drop, after its commit). 0 or -1. */
int feeds_add_on(feeds_t *f, db_conn_t *c, int64_t user, const int64_t *media, const int64_t *authors, size_t n);
int feeds_remove_author_on(db_conn_t *c, int64_t user, int64_t author);
/* After a change to user's timeline: its cached head goes, on every server. */
void feeds_changed(feeds_t *f, int64_t user);
/* The popular ranking in the store (Redis keeps it, where every server
 * reads it in one round trip; the database keeps the durable copy): the
 * popular job puts each new ranking; a read answers FEEDS_OK, or
 * FEEDS_NOT_BUILT (the store keeps none, or lost it) or FEEDS_DOWN, when
 * the database's copy is to be read. */
int feeds_popular_put(feeds_t *f, db_ctx_t *db, const int64_t *ids, size_t n);
int feeds_popular_get(feeds_t *f, db_ctx_t *db, int64_t *ids, int cap, int *n);

/* Of the m users on c, those who follow author now, into still (sorted,
 * for bsearch with feeds_cmp_id): one statement, FOR KEY SHARE on
 * PostgreSQL (held to the end of c's transaction, if one is open). 0 or -1. */
int feeds_following_still(db_conn_t *c, const int64_t *users, int m, int64_t author, int64_t *still, int *k);
int feeds_cmp_id(const void *a, const void *b);

#endif
