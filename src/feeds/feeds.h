/*
 * feeds: home timelines, the interface and its embedded backend.
 *
 * DESIGN
 * A timeline is a capped list of media IDs per user, newest first. Writes
 * come from jobs (feeds_job_handlers): a new photo is fanned out to its
 * author and each follower, in batches whose progress is saved in the job,
 * so a crash resumes where it stopped and a repeated batch changes nothing.
 * Authors with more followers than `celebrity` are not fanned out: the
 * post is marked unfanned, and unfanned posts of the authors a user follows
 * are merged in when the feed is read (hybrid), even if the author later
 * drops below the threshold. A follow brings
 * the followee's recent photos in; an unfollow or block takes them out; a
 * deleted photo is taken out of every timeline. A timeline that was never
 * built (a new account, a lost timeline) is rebuilt from the database on
 * first read.
 *
 * The backend is a const vtable: `sqlite` (the feed_items table, on the
 * user's shard) now, Redis lists in the cluster later.
 */
#ifndef PICOGRAM_FEEDS_H
#define PICOGRAM_FEEDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "jobs/jobs.h"

typedef struct feeds feeds_t;

typedef struct feeds_backend {
    const char *name;
    /* Puts media at the front of each user's timeline (idempotent), keeping it capped. */
    int (*push)(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media);
    /* Timeline IDs with min_id < id < max_id, newest first. */
    int (*read)(feeds_t *f, db_ctx_t *db, int64_t user, int64_t max_id, int64_t min_id, int limit, int64_t *out,
                int *n);
    int (*is_built)(feeds_t *f, db_ctx_t *db, int64_t user, bool *built);
    int (*rebuild)(feeds_t *f, db_ctx_t *db, int64_t user);
    int (*add_author)(feeds_t *f, db_ctx_t *db, int64_t user, int64_t author);
    int (*remove_author)(feeds_t *f, db_ctx_t *db, int64_t user, int64_t author);
    int (*remove_media)(feeds_t *f, db_ctx_t *db, int64_t media);
} feeds_backend_t;

struct feeds {
    const feeds_backend_t *be;
    int cap;              /* timeline length */
    long long celebrity;  /* more followers than this: merged at read time */
    int batch;            /* followers per fan-out batch */
};

extern const feeds_backend_t feeds_backend_sqlite;

/* 0 or -1. */
int feeds_init(feeds_t *f, const char *backend, int cap, long long celebrity, int batch);

/* The whole home feed read: the timeline merged with followed celebrities'
 * recent media, newest first, deduplicated, at most limit IDs. */
int feeds_home(feeds_t *f, db_ctx_t *db, int64_t user, int64_t max_id, int64_t min_id, int limit, int64_t *out,
               int *n);

/* Job handlers: "fanout", "backfill", "unfeed", "unfeed_media". ctx is the feeds_t. */
extern const job_handler_t feeds_job_handlers[4];

/* Enqueue helpers, for use inside the transaction of the causing write. */
int feeds_enqueue_fanout(db_conn_t *c, int64_t media, int64_t author);
int feeds_enqueue_follow(db_conn_t *c, int64_t user, int64_t author, bool now_following);
int feeds_enqueue_media_gone(db_conn_t *c, int64_t media);

#endif
