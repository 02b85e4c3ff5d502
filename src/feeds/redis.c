/*
 * The cluster's timeline store: one sorted set per user in Redis.
 *
 * DESIGN
 * A timeline is the key picogram:tl:v1:<ns>:<user>. Each item is a member of
 * 16 bytes, the media ID then its author's, both big-endian, and every score
 * is 0: members of equal score sort by their bytes, so the set is in ID
 * order and a page is one ZREVRANGEBYLEX between max_id and min_id. Adding
 * an item twice changes nothing (the store's operations must be
 * idempotent: a fan-out batch may run again). A timeline is capped at `cap`
 * items by ZREMRANGEBYRANK, on one put in 16 per user (as the db store) and
 * on every bulk add, so it stays within cap + a few.
 *
 * The member of 16 zero bytes, below every item, says the timeline was
 * built: it lives and dies with the key, so a timeline lost with its key (a
 * flush, an eviction, a new Redis) reads as FEEDS_NOT_BUILT and is rebuilt
 * from the database. A push to a lost timeline starts a set without it,
 * which is still rebuilt on its next read. Trims keep rank 0, where it is.
 *
 * A deleted photo stays in the timelines it was pushed to (finding them
 * would mean asking for its author's followers, maybe millions): a feed
 * shows only photos that still exist, and the cap ages it out.
 *
 * The popular ranking is one string, picogram:popular:v1:<ns>, of 8-byte
 * big-endian media IDs, best first, replaced whole by each run of the job
 * (SET, atomic); it has no TTL: an old ranking beats none, and the job
 * replaces it every popular_interval.
 *
 * Every call is on a worker or job thread (never an event loop: those
 * mark the request as needing a worker instead), through a per-thread
 * connection (cache/redis.h). Redis down answers FEEDS_DOWN at once.
 */
#include "feeds/feeds.h"
#include "cache/redis.h"
#include "core/buf.h"
#include "core/ids.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TL_PREFIX "picogram:tl:v1:" /* a new layout is a new prefix */
#define POPULAR_PREFIX "picogram:popular:v1:"
#define MEMBER_LEN 16
#define KEY_MAX 64

typedef struct rstore {
    redis_link_t *link;
    char prefix[40];      /* TL_PREFIX + namespace + ":" */
    char popular_key[48]; /* POPULAR_PREFIX + namespace */
} rstore_t;

static const char built_member[MEMBER_LEN] = {0};

int feeds_redis_open(feeds_t *f, const char *url, const char *ns, char *err, size_t errlen)
{
    rstore_t *r = xcalloc(1, sizeof(*r));
    if ((r->link = redis_link_new(url, "feed store", err, errlen)) == NULL) {
        free(r);
        return -1;
    }
    snprintf(r->prefix, sizeof(r->prefix), TL_PREFIX "%s:", ns);
    snprintf(r->popular_key, sizeof(r->popular_key), POPULAR_PREFIX "%s", ns);
    f->state = r;
    return 0;
}

void feeds_redis_close(feeds_t *f)
{
    rstore_t *r = f->state;
    if (r == NULL)
        return;
    redis_link_free(r->link);
    free(r);
    f->state = NULL;
}

static size_t key_of(const feeds_t *f, int64_t user, char out[KEY_MAX])
{
    const rstore_t *r = f->state;
    size_t n = strlen(r->prefix);
    memcpy(out, r->prefix, n);
    char digits[24];
    size_t i = sizeof(digits);
    uint64_t u = (uint64_t)user; /* user IDs are positive */
    do {
        digits[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    memcpy(out + n, digits + i, sizeof(digits) - i);
    out[n + sizeof(digits) - i] = '\0';
    return n + sizeof(digits) - i;
}

static void put_be64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        p[i] = (unsigned char)u;
}

static int64_t get_be64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i];
    return (int64_t)u;
}

static void member_of(unsigned char m[MEMBER_LEN], int64_t media, int64_t author)
{
    put_be64(m, media);
    put_be64(m + 8, author);
}

/* This thread's connection for db's work: NULL with *rc FEEDS_DOWN (Redis
 * cannot be reached) or FEEDS_ERROR (an event loop: db is marked). */
static redisContext *conn(feeds_t *f, db_ctx_t *db, int *rc)
{
    if (db != NULL && !db_ctx_may_block(db)) {
        *rc = FEEDS_ERROR;
        return NULL;
    }
    redisContext *c = redis_link_get(((rstore_t *)f->state)->link);
    if (c == NULL) {
        *rc = FEEDS_DOWN;
        db_unavailable_note(); /* a job waiting on it counts no attempt */
    }
    return c;
}

/* This thread's connection failed: it is dropped, and a job that meets
 * this waits as for a database outage. */
static int lost(feeds_t *f)
{
    redis_link_failed(((rstore_t *)f->state)->link);
    db_unavailable_note();
    return FEEDS_DOWN;
}

/* Reads n pipelined replies. FEEDS_OK, FEEDS_ERROR (an error reply: every
 * reply is still read, so the connection stays in step) or FEEDS_DOWN (the
 * connection failed: it is dropped). */
static int drain(feeds_t *f, redisContext *c, size_t n)
{
    int rc = FEEDS_OK;
    for (size_t i = 0; i < n; i++) {
        redisReply *reply = NULL;
        if (redisGetReply(c, (void **)&reply) != REDIS_OK)
            return lost(f);
        if (reply->type == REDIS_REPLY_ERROR)
            rc = FEEDS_ERROR;
        freeReplyObject(reply);
    }
    return rc;
}

/* Appends ZREMRANGEBYRANK key 1 -(cap+1): keeps rank 0 (the built mark) and the newest cap. */
static void append_trim(feeds_t *f, redisContext *c, const char *key, size_t klen)
{
    char stop[24];
    int slen = snprintf(stop, sizeof(stop), "%d", -(f->cap + 1));
    const char *argv[] = {"ZREMRANGEBYRANK", key, "1", stop};
    size_t argl[] = {15, klen, 1, (size_t)slen};
    redisAppendCommandArgv(c, 4, argv, argl);
}

/* Appends a command in RESP to b (one pipeline, sent as one write). */
static void resp(buf_t *b, int argc, const char *const *argv, const size_t *argl)
{
    buf_putc(b, '*');
    buf_u64(b, (uint64_t)argc);
    buf_append(b, "\r\n", 2);
    for (int i = 0; i < argc; i++) {
        buf_putc(b, '$');
        buf_u64(b, argl[i]);
        buf_append(b, "\r\n", 2);
        buf_append(b, argv[i], argl[i]);
        buf_append(b, "\r\n", 2);
    }
}

/* Sends the ZADDs (and one trim in 16) of a push, without waiting for the
 * replies: *pending is how many to read, by r_push_wait. */
static int r_push_send(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media, int64_t author,
                       size_t *pending)
{
    *pending = 0;
    int rc;
    redisContext *c = conn(f, db, &rc);
    if (c == NULL)
        return rc;
    unsigned char m[MEMBER_LEN];
    member_of(m, media, author);
    char key[KEY_MAX], stop[24];
    size_t slen = (size_t)snprintf(stop, sizeof(stop), "%d", -(f->cap + 1));
    buf_t out;
    buf_init(&out, SIZE_MAX);
    size_t cmds = 0;
    for (size_t i = 0; i < n; i++) {
        size_t klen = key_of(f, users[i], key);
        resp(&out, 4, (const char *[]){"ZADD", key, "0", (const char *)m}, (size_t[]){4, klen, 1, MEMBER_LEN});
        cmds++;
        if (((uint64_t)(users[i] ^ media) & 15) == 0) { /* the trim of append_trim */
            resp(&out, 4, (const char *[]){"ZREMRANGEBYRANK", key, "1", stop}, (size_t[]){15, klen, 1, slen});
            cmds++;
        }
    }
    rc = redisAppendFormattedCommand(c, out.data, out.len) == REDIS_OK ? FEEDS_OK : FEEDS_ERROR;
    buf_free(&out);
    /* written now, so Redis works on it while the caller prepares the next */
    for (int done = 0; rc == FEEDS_OK && !done;)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return lost(f);
    if (rc == FEEDS_OK)
        *pending = cmds;
    return rc;
}

/* After a push landed: the users who no longer follow the author lose the
 * post again. The fan-out read its followers before; an unfollow that
 * committed since, and whose removal (the unfeed job) ran before this
 * push reached Redis, would otherwise leave the post behind. Checked only
 * now, after Redis applied the push: an unfollow committed after this
 * read has its removal run after it too. One query per database; the
 * heads of the timelines it took the post from are dropped again. */
static int unpush_unfollowed(feeds_t *f, db_ctx_t *db, redisContext *c, const int64_t *users, size_t n, int64_t media,
                             int64_t author)
{
    int64_t *mine = xmalloc((n ? n : 1) * sizeof(int64_t)), *still = xmalloc((n ? n : 1) * sizeof(int64_t));
    int64_t *gone = xmalloc((n ? n : 1) * sizeof(int64_t)); /* the users it takes the post from */
    bool *done = xcalloc(n ? n : 1, sizeof(bool));
    unsigned char m[MEMBER_LEN];
    member_of(m, media, author);
    size_t zrems = 0;
    int rc = FEEDS_OK;
    for (size_t i = 0; i < n && rc == FEEDS_OK; i++) {
        if (done[i] || users[i] == author)
            continue;
        db_conn_t *dc = db_shard(db, ids_shard(users[i]));
        if (dc == NULL) {
            rc = FEEDS_ERROR;
            break;
        }
        int k = 0, mcount = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && users[j] != author && db_shard(db, ids_shard(users[j])) == dc)
                mine[mcount++] = users[j], done[j] = true;
        if (feeds_following_still(dc, mine, mcount, author, still, &k) != 0) {
            rc = FEEDS_ERROR;
            break;
        }
        for (int j = 0; j < mcount; j++) {
            if (bsearch(&mine[j], still, (size_t)k, sizeof(*still), feeds_cmp_id) != NULL)
                continue;
            char key[KEY_MAX];
            size_t klen = key_of(f, mine[j], key);
            const char *argv[] = {"ZREM", key, (const char *)m};
            size_t argl[] = {4, klen, MEMBER_LEN};
            redisAppendCommandArgv(c, 3, argv, argl);
            gone[zrems++] = mine[j];
        }
    }
    db_ctx_release(db);
    int drc = zrems ? drain(f, c, zrems) : FEEDS_OK;
    for (size_t j = 0; drc == FEEDS_OK && j < zrems; j++)
        feeds_changed(f, gone[j]);
    free(mine);
    free(gone);
    free(still);
    free(done);
    return rc != FEEDS_OK ? rc : drc;
}

static int r_push_wait(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media, int64_t author,
                       size_t pending)
{
    int rc;
    redisContext *c = conn(f, db, &rc);
    if (c == NULL)
        return rc;
    rc = drain(f, c, pending);
    /* the cached heads go as soon as Redis holds the post, before the
     * check below reads the databases: until they go, a reader may be
     * served the head from before the post */
    if (rc == FEEDS_OK)
        for (size_t i = 0; i < n; i++)
            feeds_changed(f, users[i]);
    if (rc == FEEDS_OK)
        rc = unpush_unfollowed(f, db, c, users, n, media, author);
    return rc;
}

static int r_push(feeds_t *f, db_ctx_t *db, const int64_t *users, size_t n, int64_t media, int64_t author)
{
    size_t pending;
    int rc = r_push_send(f, db, users, n, media, author, &pending);
    return rc == FEEDS_OK ? r_push_wait(f, db, users, n, media, author, pending) : rc;
}

static int r_add(feeds_t *f, db_ctx_t *db, int64_t user, const int64_t *media, const int64_t *authors, size_t n)
{
    if (n == 0)
        return FEEDS_OK;
    int rc;
    redisContext *c = conn(f, db, &rc);
    if (c == NULL)
        return rc;
    char key[KEY_MAX];
    size_t klen = key_of(f, user, key);
    size_t argc = 2 + 2 * n;
    const char **argv = xcalloc(argc, sizeof(*argv));
    size_t *argl = xcalloc(argc, sizeof(*argl));
    unsigned char *members = xcalloc(n, MEMBER_LEN);
    argv[0] = "ZADD", argl[0] = 4;
    argv[1] = key, argl[1] = klen;
    for (size_t i = 0; i < n; i++) {
        member_of(members + i * MEMBER_LEN, media[i], authors[i]);
        argv[2 + 2 * i] = "0", argl[2 + 2 * i] = 1;
        argv[3 + 2 * i] = (const char *)members + i * MEMBER_LEN, argl[3 + 2 * i] = MEMBER_LEN;
    }
    redisAppendCommandArgv(c, (int)argc, argv, argl);
    append_trim(f, c, key, klen);
    rc = drain(f, c, 2);
    free(argv);
    free(argl);
    free(members);
    if (rc == FEEDS_OK)
        feeds_changed(f, user);
    return rc;
}

static int r_read(feeds_t *f, db_ctx_t *db, int64_t user, int64_t max_id, int64_t min_id, int limit, int64_t *out,
                  int *n)
{
    *n = 0;
    int rc;
    redisContext *c = conn(f, db, &rc);
    if (c == NULL)
        return rc;
    char key[KEY_MAX];
    size_t klen = key_of(f, user, key);
    /* items with min_id < media < max_id: below "(" max_id's 8 bytes (an
     * item of that ID is longer, so above), from "[" min_id+1's */
    unsigned char hi[9] = {'('}, lo[9] = {'['};
    put_be64(hi + 1, max_id);
    put_be64(lo + 1, min_id < INT64_MAX ? min_id + 1 : min_id);
    char lim[16];
    int llen = snprintf(lim, sizeof(lim), "%d", limit);
    const char *argv[] = {"ZREVRANGEBYLEX", key, (const char *)hi, (const char *)lo, "LIMIT", "0", lim};
    size_t argl[] = {14, klen, 9, 9, 5, 1, (size_t)llen};
    redisAppendCommandArgv(c, 7, argv, argl);
    const char *zs[] = {"ZSCORE", key, built_member};
    size_t zl[] = {6, klen, MEMBER_LEN};
    redisAppendCommandArgv(c, 3, zs, zl);
    redisReply *items = NULL, *built = NULL;
    if (redisGetReply(c, (void **)&items) != REDIS_OK || redisGetReply(c, (void **)&built) != REDIS_OK) {
        if (items)
            freeReplyObject(items);
        return lost(f);
    }
    rc = FEEDS_OK;
    if (items->type != REDIS_REPLY_ARRAY || built->type == REDIS_REPLY_ERROR)
        rc = FEEDS_ERROR;
    else if (built->type == REDIS_REPLY_NIL)
        rc = FEEDS_NOT_BUILT;
    else
        for (size_t i = 0; i < items->elements && *n < limit; i++) {
            const redisReply *e = items->element[i];
            if (e->type == REDIS_REPLY_STRING && e->len == MEMBER_LEN)
                out[(*n)++] = get_be64((const unsigned char *)e->str);
        }
    freeReplyObject(items);
    freeReplyObject(built);
    return rc;
}

static int r_is_built(feeds_t *f, db_ctx_t *db, int64_t user, bool *built)
{
    *built = false;
    int rc;
    redisContext *c = conn(f, db, &rc);
    if (c == NULL)
        return rc;
    char key[KEY_MAX];
    size_t klen = key_of(f, user, key);
    const char *argv[] = {"ZSCORE", key, built_member};
    size_t argl[] = {6, klen, MEMBER_LEN};
    redisReply *reply = redisCommandArgv(c, 3, argv, argl);
    if (reply == NULL)
        return lost(f);
    rc = reply->type == REDIS_REPLY_ERROR ? FEEDS_ERROR : FEEDS_OK;
    *built = reply->type != REDIS_REPLY_NIL && rc == FEEDS_OK;
    freeReplyObject(reply);
    return rc;
}

static int r_set_built(feeds_t *f, db_ctx_t *db, int64_t user)
{
    int rc;
    redisContext *c = conn(f, db, &rc);
    if (c == NULL)
        return rc;
    char key[KEY_MAX];
    size_t klen = key_of(f, user, key);
    const char *argv[] = {"ZADD", key, "0", built_member};
    size_t argl[] = {4, klen, 1, MEMBER_LEN};
    redisAppendCommandArgv(c, 4, argv, argl);
    return drain(f, c, 1);
}

static int r_remove_author(feeds_t *f, db_ctx_t *db, int64_t user, int64_t author)
{
    int rc;
    redisContext *c = conn(f, db, &rc);
    if (c == NULL)
        return rc;
    char key[KEY_MAX];
    size_t klen = key_of(f, user, key);
    const char *argv[] = {"ZRANGE", key, "0", "-1"};
    size_t argl[] = {6, klen, 1, 2};
    redisReply *all = redisCommandArgv(c, 4, argv, argl);
    if (all == NULL)
        return lost(f);
    if (all->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(all);
        return FEEDS_ERROR;
    }
    /* ZREM key the author's items: at most the whole set */
    const char **zargv = xcalloc(all->elements + 2, sizeof(*zargv));
    size_t *zargl = xcalloc(all->elements + 2, sizeof(*zargl));
    size_t k = 2;
    zargv[0] = "ZREM", zargl[0] = 4;
    zargv[1] = key, zargl[1] = klen;
    for (size_t i = 0; i < all->elements; i++) {
        const redisReply *e = all->element[i];
        if (e->type == REDIS_REPLY_STRING && e->len == MEMBER_LEN &&
            get_be64((const unsigned char *)e->str + 8) == author && get_be64((const unsigned char *)e->str) != 0)
            zargv[k] = e->str, zargl[k++] = MEMBER_LEN;
    }
    rc = FEEDS_OK;
    if (k > 2) {
        redisAppendCommandArgv(c, (int)k, zargv, zargl);
        rc = drain(f, c, 1);
    }
    free(zargv);
    free(zargl);
    freeReplyObject(all);
    if (rc == FEEDS_OK)
        feeds_changed(f, user);
    return rc;
}

static int r_remove_media(feeds_t *f, db_ctx_t *db, int64_t media)
{
    (void)f, (void)db, (void)media; /* see DESIGN: feeds skip deleted photos, the cap ages them out */
    return FEEDS_OK;
}

static int r_popular_put(feeds_t *f, db_ctx_t *db, const int64_t *ids, size_t n)
{
    int rc;
    redisContext *c = conn(f, db, &rc);
    if (c == NULL)
        return rc;
    unsigned char *v = xmalloc(n ? n * 8 : 1);
    for (size_t i = 0; i < n; i++)
        put_be64(v + i * 8, ids[i]);
    const rstore_t *r = f->state;
    redisReply *reply = redisCommand(c, "SET %s %b", r->popular_key, v, n * 8);
    free(v);
    if (reply == NULL)
        return lost(f);
    rc = reply->type == REDIS_REPLY_STATUS ? FEEDS_OK : FEEDS_ERROR;
    freeReplyObject(reply);
    return rc;
}

static int r_popular_get(feeds_t *f, db_ctx_t *db, int64_t *ids, int cap, int *n)
{
    int rc;
    redisContext *c = conn(f, db, &rc);
    if (c == NULL)
        return rc;
    const rstore_t *r = f->state;
    redisReply *reply = redisCommand(c, "GET %s", r->popular_key);
    if (reply == NULL)
        return lost(f);
    rc = reply->type == REDIS_REPLY_NIL                             ? FEEDS_NOT_BUILT
         : reply->type == REDIS_REPLY_STRING && reply->len % 8 == 0 ? FEEDS_OK
                                                                    : FEEDS_ERROR;
    for (size_t i = 0; rc == FEEDS_OK && i < reply->len / 8 && *n < cap; i++)
        ids[(*n)++] = get_be64((const unsigned char *)reply->str + i * 8);
    freeReplyObject(reply);
    return rc;
}

const feeds_backend_t feeds_backend_redis = {
    .name = "redis",
    .push = r_push,
    .push_send = r_push_send,
    .push_wait = r_push_wait,
    .add = r_add,
    .read = r_read,
    .is_built = r_is_built,
    .set_built = r_set_built,
    .remove_author = r_remove_author,
    .remove_media = r_remove_media,
    .popular_put = r_popular_put,
    .popular_get = r_popular_get,
};
