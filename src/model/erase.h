/*
 * erase: an account deleted with everything it made (picogram admin
 * delete-user).
 *
 * DESIGN
 * The account is suspended first (users_set_suspended), so it and all it
 * made are hidden at once and its tokens stop. Then, through the same
 * model functions the API uses, so counters, timelines, tag and place
 * pages and the far side of every edge stay right:
 *   1. its photos (their files in the photo store, then media_delete);
 *   2. its likes of others' photos (social_unlike);
 *   3. its comments on others' photos (social_comment_delete);
 *   4. its follows and follow requests (graph_unfollow);
 *   5. the follows of it and the requests to it (graph_unfollow, graph_ignore);
 *   6. its blocks (graph_unblock);
 *   7. what is left on its shard (tokens, its news, its home timeline, its
 *      list of likes), its row in the celebrities lists, its row, and last
 *      its name, which is free again.
 * Each step walks its list with a cursor and is safe to repeat: an erase
 * that stopped (a crash, a database error) is finished by running it again;
 * meanwhile the account stays suspended. Photos whose likes or comments
 * changed are dropped from running servers' caches by cache_drop jobs.
 * Left as they are: others' blocks of it (their own data), news it caused
 * others (shown without it: its user is gone), and mentions of its name in
 * others' text.
 */
#ifndef PICOGRAM_ERASE_H
#define PICOGRAM_ERASE_H

#include <stdint.h>

#include "blob/blob.h"
#include "db/db.h"

typedef struct erase_counts {
    long long media, files, likes, comments, follows, followers, requests, blocks;
} erase_counts_t;

/* USERS_OK (n says what went), USERS_NOT_FOUND (no such account, or gone
 * already) or USERS_ERROR (stopped part way: run it again). */
int users_erase(db_ctx_t *db, blob_store_t *store, int64_t user, erase_counts_t *n);

/* Queues cache_drop jobs (on c, on the given shard) that drop kind's
 * entries for ids from the caches of whichever processes run jobs. */
int cache_drop_enqueue(db_conn_t *c, unsigned shard, int kind, const int64_t *ids, size_t n);
/* The job: payload "KIND ID KIND ID ..."; ctx the cache_t * (may be NULL). */
int cache_drop_job(db_ctx_t *db, char *payload, void *ctx);

#endif
