/*
 * graph: follows, follow requests and blocks, above the db interface.
 *
 * Placement (design.md): a user's "following" rows live on their shard, a
 * user's "followers" rows on the followee's shard; a block lives on the
 * blocker's shard. An edge's truth is the follower's "following" row; the
 * followee's row, counter and news mirror it (model/far.h): in the same
 * transaction when both shards are on one database (always, embedded),
 * else right after it, with an outbox job behind. Every action is
 * idempotent: repeating it changes nothing and succeeds.
 *
 * Return GRAPH_OK, GRAPH_NOT_ALLOWED (a block forbids it) or GRAPH_ERROR.
 */
#ifndef PICOGRAM_GRAPH_H
#define PICOGRAM_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "db/db.h"
#include "model/far.h"

enum { GRAPH_OK = 0, GRAPH_NOT_ALLOWED = 1, GRAPH_ERROR = -1 };
enum { REL_NONE = 0, REL_FOLLOWS = 1, REL_REQUESTED = 2 };

typedef struct graph_rel {
    int outgoing; /* a -> b: REL_* */
    int incoming; /* b -> a: REL_* */
    bool a_blocks_b, b_blocks_a;
} graph_rel_t;

int graph_get(db_ctx_t *db, int64_t a, int64_t b, graph_rel_t *out);
/* Whether a blocks b (one query, on a's database). */
int graph_blocks(db_ctx_t *db, int64_t a, int64_t b, bool *yes);
/* The same, on a's database c (inside a transaction there). */
int graph_blocks_conn(db_conn_t *c, int64_t a, int64_t b, bool *yes);

/* a follows b; a request (REL_REQUESTED) if b is private. */
int graph_follow(db_ctx_t *db, int64_t a, int64_t b, bool b_private);
int graph_unfollow(db_ctx_t *db, int64_t a, int64_t b);
/* a blocks b: follows in both directions end, and a job takes b's likes
 * and comments off a's photos (social_block_purge_job). */
int graph_block(db_ctx_t *db, int64_t a, int64_t b);
int graph_unblock(db_ctx_t *db, int64_t a, int64_t b);
/* a approves (or ignores) b's request to follow a. */
int graph_approve(db_ctx_t *db, int64_t a, int64_t b);
int graph_ignore(db_ctx_t *db, int64_t a, int64_t b);

/* Lists, newest user ID first, IDs below `before`. */
enum { GRAPH_FOLLOWS, GRAPH_FOLLOWED_BY, GRAPH_REQUESTED_BY, GRAPH_REQUESTS /* user's own, pending */ };
int graph_list(db_ctx_t *db, int which, int64_t user, int64_t before, int limit, int64_t *out, int *n);
/* The same lists as people see them: the newest edge first (a follow, a
 * request, an approval: at, in milliseconds), below (before_at, before_id). */
int graph_list_recent(db_ctx_t *db, int which, int64_t user, int64_t before_at, int64_t before_id, int limit,
                      int64_t *ids, int64_t *at, int *n);

/* Whether viewer may see owner's media and lists: the owner; or neither
 * blocks the other and (owner is public or viewer is an approved follower). */
int graph_can_view(db_ctx_t *db, int64_t viewer, int64_t owner, bool owner_private, bool *ok);
/* Far effects (model/far.h): "edge A B" (B's mirror of A -> B) and "sever A
 * B" (A stops following or asking to follow B). */
int far_edge(far_t *f, char *payload);
int far_sever(far_t *f, char *payload);

/* Job "go_public" (payload "USER [BEFORE]"): USER turned public, so the
 * requests still pending to follow them are approved, GRAPH_GO_PUBLIC_BATCH
 * a run, newest requester first, for as long as they stay public.
 * Enqueued by the profile edit that makes them public. */
#define GRAPH_GO_PUBLIC_BATCH 100
int graph_go_public_job(db_ctx_t *db, char *payload, void *ctx);

/* The users a block stands between user and: dir GRAPH_BLOCKS (user
 * blocks them), GRAPH_BLOCKED_BY (they block user), or both. At most cap
 * of them (one query per database); *complete false if there were more. */
enum { GRAPH_BLOCKS = 1, GRAPH_BLOCKED_BY = 2 };
typedef struct graph_block {
    int64_t user;
    int dir;
} graph_block_t;
int graph_block_list(db_ctx_t *db, int64_t user, graph_block_t *out, int cap, int *n, bool *complete);

#endif
