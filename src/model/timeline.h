/*
 * timeline: what goes into home timelines (the store is feeds/feeds.h).
 *
 * DESIGN
 * Fan-out on write, as in the seeds: a new photo becomes a job ("fanout")
 * that pushes its ID into its author's timeline and then each follower's,
 * in batches whose progress is saved in the job, so a crash resumes where
 * it stopped and a repeated batch changes nothing. Authors with more
 * followers than `celebrity` are not fanned out: the post is marked
 * unfanned, every database lists the author as a celebrity, and a feed
 * read merges in the unfanned posts of the celebrities the reader follows
 * (hybrid), even if the author later drops below the threshold. A follow
 * brings the followee's recent photos in ("backfill"); an unfollow or a
 * block takes them out ("unfeed"); a deleted photo leaves every timeline
 * ("unfeed_media"). A timeline never built is rebuilt from the database:
 * the user's own photos and the recent fanned photos of everyone they
 * follow, gathered from each database in one query.
 */
#ifndef PICOGRAM_TIMELINE_H
#define PICOGRAM_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"
#include "feeds/feeds.h"
#include "jobs/jobs.h"

/* The whole home feed read: the timeline merged with followed celebrities'
 * unfanned media, newest first, deduplicated, at most limit IDs.
 * *merged (may be NULL) tells whether any followed celebrity was merged. */
int timeline_home(feeds_t *f, db_ctx_t *db, int64_t user, int64_t max_id, int64_t min_id, int limit, int64_t *out,
                  int *n, bool *merged);
/* A post was just made as a celebrity's (this process): the next feed
 * reads look for celebrities again at once. */
void timeline_celebrity_posted(void);
/* How many such posts this process has made: a cached feed head built
 * under an older number may lack one. */
int64_t timeline_celebrity_gen(void);
/* Fills user's timeline from the database and marks it built. */
int timeline_rebuild(feeds_t *f, db_ctx_t *db, int64_t user);

/* Job handlers: "fanout", "backfill", "unfeed", "unfeed_media". ctx is the feeds_t. */
extern const job_handler_t timeline_job_handlers[4];

/* Enqueue helpers, for use inside the transaction of the causing write. */
int timeline_enqueue_fanout(db_conn_t *c, int64_t media, int64_t author);
/* Timelines written by fan-out (a post into a follower's) since the start,
 * by this process's job runners. Thread safe. */
uint64_t timeline_fanned_total(void);

/* The feeds of this process when its timelines are in the database (the
 * embedded topology), set at start-up; NULL (the default) otherwise. */
void timeline_set_inline(feeds_t *f);
/* Inside the transaction of a follow (now_following) or an unfollow, on c,
 * user's shard: user's timeline gains author's recent photos, or loses
 * them. With timelines in the database this happens at once, in that
 * transaction (one write, with no job to lease, run and record); else it
 * is a "backfill" or "unfeed" job. DB_DONE or DB_ERROR. */
int timeline_follow(db_ctx_t *db, db_conn_t *c, int64_t user, int64_t author, bool now_following);
/* After such a transaction commits: user's cached timeline head goes (when
 * it changed at once; the job drops it otherwise). */
void timeline_follow_done(int64_t user);
int timeline_enqueue_media_gone(db_conn_t *c, int64_t media);

#endif
