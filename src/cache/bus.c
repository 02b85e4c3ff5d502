/* The invalidation bus over Redis pub/sub (see bus.h). */
#include "cache/bus.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "obs/log.h"

/* the layout of a message: a new layout is a new channel, so a rolling
 * deploy never reads another build's */
#define BUS_CHANNEL "picogram:cache:v1:" /* + the cluster's namespace */
#define BUS_BATCH 4096                   /* invalidations per message at most */
#define BUS_QUEUE_MAX (1 << 20)          /* past this, the queue is replaced by "clear everything" */
#define BUS_RETRY_MS 200                 /* between tries to reach Redis */
#define BUS_CONNECT_MS 500
#define BUS_PING_MS 1000   /* a quiet subscription is pinged this often */
#define BUS_DEAD_MS 2000   /* and is dead if the pong takes longer */
#define BUS_BARRIER_MS 100 /* a barrier waits this long for the messages it must hear */
#define BUS_FLUSH_MS 2000  /* a write waits this long at most for its invalidations to be published */

/* One message: the next number of the cluster's sequence, and the
 * message published with it, atomically (Redis runs a script alone), so
 * the messages arrive in the order of their numbers. */
static const char PUBLISH_SCRIPT[] = "local s = redis.call('INCR', KEYS[1]) "
                                     "redis.call('PUBLISH', ARGV[1], 's' .. s .. ' ' .. ARGV[2]) return s";

typedef struct inval {
    int kind;
    int64_t id;
} inval_t;

struct cache_bus {
    char channel[64];
    char seq_key[96]; /* the cluster's message sequence */
    char host[256];
    int port;
    cache_t *cache, *near; /* what cache_del publishes from; what messages drop from */
    uint64_t origin;       /* this process, in its own messages: skipped when they come back */
    atomic_bool stop, live;
    atomic_bool pub_ok; /* the publisher's last try reached Redis */
    pthread_t pub_tid, sub_tid;
    pthread_mutex_t lock; /* guards the queue, and the counts below it */
    pthread_cond_t ready, published_cv;
    inval_t *queue;
    size_t n, cap;
    bool overflowed;         /* invalidations were lost: tell every server to clear */
    bool hello;              /* a hello to send (see subscribed) */
    uint64_t queued, posted; /* invalidations queued, and of those, published (or cleared) */
    /* the subscriber's side, for barriers (a tiered cache's) */
    redis_link_t *link; /* the barrier's GET, on the request's thread */
    pthread_mutex_t alock;
    pthread_cond_t applied_cv;
    uint64_t applied; /* the number of the last message applied */
    bool synced;      /* every message since the subscription was applied, in order */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(cache_bus_t *bus, int ms)
{
    for (int slept = 0; slept < ms && !atomic_load(&bus->stop); slept += 20)
        nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
}

static redisContext *connect_to(cache_bus_t *bus)
{
    struct timeval tv = {0, BUS_CONNECT_MS * 1000};
    redisContext *r = redisConnectWithTimeout(bus->host, bus->port, tv);
    if (r == NULL || r->err) {
        if (r)
            redisFree(r);
        return NULL;
    }
    redisEnableKeepAlive(r);
    return r;
}

/* cache_del's hook: queues the invalidation for the publisher (kind
 * CACHE_ALL: a "clear everything", which says what the queue said too). */
static void publish(void *arg, int kind, int64_t id)
{
    cache_bus_t *bus = arg;
    pthread_mutex_lock(&bus->lock);
    if (kind == CACHE_ALL || bus->n == BUS_QUEUE_MAX) { /* Redis away long: one "clear" says it all */
        bus->n = 0;
        bus->overflowed = true;
    } else {
        if (bus->n == bus->cap)
            bus->queue = xrealloc(bus->queue, (bus->cap = bus->cap ? bus->cap * 2 : 1024) * sizeof(inval_t));
        bus->queue[bus->n++] = (inval_t){kind, id};
    }
    bus->queued++;
    pthread_cond_signal(&bus->ready);
    pthread_mutex_unlock(&bus->lock);
}

/* Sends one message; false if Redis could not take it (the context is then freed). */
static bool send_message(redisContext **r, cache_bus_t *bus, const buf_t *msg)
{
    redisReply *reply =
        redisCommand(*r, "EVAL %s 1 %s %s %b", PUBLISH_SCRIPT, bus->seq_key, bus->channel, msg->data, msg->len);
    bool ok = reply != NULL && reply->type == REDIS_REPLY_INTEGER;
    if (reply)
        freeReplyObject(reply);
    if (!ok) {
        redisFree(*r);
        *r = NULL;
    }
    return ok;
}

/* Takes the queue whole, then sends it in messages of BUS_BATCH, each
 * until Redis takes it; what is queued meanwhile waits for the next turn. */
static void *publisher(void *arg)
{
    cache_bus_t *bus = arg;
    redisContext *r = NULL;
    inval_t *mine = NULL;
    size_t mine_cap = 0, mn = 0, sent = 0;
    bool clear = false, hello = false; /* a "clear everything", a hello, to send first */
    uint64_t upto = 0;                 /* bus->queued when mine was taken */
    buf_t msg;
    buf_init(&msg, BUS_BATCH * 32 + 64); /* an item is 24 bytes at most */
    for (;;) {
        pthread_mutex_lock(&bus->lock);
        while (!atomic_load(&bus->stop) && bus->n == 0 && !bus->overflowed && sent == mn && !clear && !hello &&
               !bus->hello)
            pthread_cond_wait(&bus->ready, &bus->lock);
        if (bus->overflowed) { /* what was lost includes what is held here */
            clear = true;
            bus->overflowed = false;
            sent = mn = 0;
            upto = bus->queued - bus->n;
        }
        if (bus->hello) {
            hello = true;
            bus->hello = false;
        }
        if (sent == mn && bus->n > 0) {
            upto = bus->queued;
            inval_t *t = bus->queue;
            size_t tc = bus->cap;
            bus->queue = mine, bus->cap = mine_cap;
            mine = t, mine_cap = tc, mn = bus->n, sent = 0;
            bus->n = 0;
        }
        bool stopping = atomic_load(&bus->stop);
        pthread_mutex_unlock(&bus->lock);
        if (!clear && !hello && sent == mn)
            break; /* stopping, with nothing left */
        size_t k = clear || hello ? 0 : (mn - sent < BUS_BATCH ? mn - sent : BUS_BATCH);
        msg.len = 0;
        buf_printf(&msg, "%016" PRIx64, bus->origin);
        if (clear)
            buf_puts(&msg, " *");
        else if (hello)
            buf_puts(&msg, " hello");
        for (size_t i = sent; i < sent + k; i++)
            buf_printf(&msg, " %d:%" PRId64, mine[i].kind, mine[i].id);
        if (r == NULL && (r = connect_to(bus)) != NULL)
            redisSetTimeout(r, (struct timeval){1, 0});
        if (r == NULL || !send_message(&r, bus, &msg)) {
            pthread_mutex_lock(&bus->lock);
            atomic_store(&bus->pub_ok, false);
            pthread_cond_broadcast(&bus->published_cv); /* the writes waiting on it answer now */
            pthread_mutex_unlock(&bus->lock);
            if (stopping)
                break; /* the others miss these no more than a crash's: see bus.h */
            nap(bus, BUS_RETRY_MS);
            continue;
        }
        atomic_store(&bus->pub_ok, true);
        if (clear)
            clear = false;
        else if (hello)
            hello = false;
        else
            sent += k;
        if (sent == mn) { /* all of mine is out: the writes waiting on it may answer */
            pthread_mutex_lock(&bus->lock);
            if (upto > bus->posted)
                bus->posted = upto;
            pthread_cond_broadcast(&bus->published_cv);
            pthread_mutex_unlock(&bus->lock);
        }
    }
    if (r)
        redisFree(r);
    buf_free(&msg);
    free(mine);
    return NULL;
}

/* Applies one message from the channel: "s<number> <origin> <items>"
 * (an item is "<kind>:<id>", "*" for everything, or "hello"). Untrusted
 * only as far as Redis is: a malformed item is skipped. */
static void apply(cache_bus_t *bus, const char *p, size_t len)
{
    char *text = xstrndup(p, len), *save = NULL;
    char *tok = strtok_r(text, " ", &save);
    uint64_t seq = 0;
    if (tok && tok[0] == 's') { /* numbered; the build before numbered none */
        seq = strtoull(tok + 1, NULL, 10);
        tok = strtok_r(NULL, " ", &save);
    }
    bool mine = tok && strtoull(tok, NULL, 16) == bus->origin, hello = false;
    while (tok && (tok = strtok_r(NULL, " ", &save)) != NULL) {
        int kind;
        long long id;
        if (strcmp(tok, "hello") == 0)
            hello = true;
        else if (mine)
            continue; /* dropped here before it was sent */
        else if (strcmp(tok, "*") == 0)
            cache_clear(bus->near);
        else if (sscanf(tok, "%d:%lld", &kind, &id) == 2)
            cache_del_local(bus->near, kind, id);
    }
    free(text);
    if (seq == 0)
        return;
    pthread_mutex_lock(&bus->alock);
    if (bus->synced && seq != bus->applied + 1) {
        /* a message missed (or Redis lost its count): what is held may be
         * stale, and the count starts again from this one */
        cache_clear(bus->near);
        log_warn("cache bus: message %" PRIu64 " after %" PRIu64 "; the local cache is cleared", seq, bus->applied);
    }
    if (mine && hello)
        bus->synced = true; /* every message numbered before it came before it */
    bus->applied = seq;
    pthread_cond_broadcast(&bus->applied_cv);
    pthread_mutex_unlock(&bus->alock);
}

static void unsync(cache_bus_t *bus)
{
    pthread_mutex_lock(&bus->alock);
    bus->synced = false;
    pthread_cond_broadcast(&bus->applied_cv);
    pthread_mutex_unlock(&bus->alock);
}

/* ms from now, for pthread_cond_timedwait (CLOCK_REALTIME). */
static struct timespec deadline(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += ms * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    return t;
}

/* The barrier (cache_set_sync): the cluster's count now, then a wait until
 * this process has applied the messages it numbers. */
static bool barrier(void *arg)
{
    cache_bus_t *bus = arg;
    if (!atomic_load(&bus->live))
        return false;
    redisContext *r = redis_link_get(bus->link);
    if (r == NULL)
        return false;
    redisReply *reply = redisCommand(r, "GET %s", bus->seq_key);
    if (reply == NULL || (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_NIL)) {
        if (reply)
            freeReplyObject(reply);
        redis_link_failed(bus->link);
        return false;
    }
    uint64_t want = reply->type == REDIS_REPLY_STRING ? strtoull(reply->str, NULL, 10) : 0;
    freeReplyObject(reply);
    struct timespec until = deadline(BUS_BARRIER_MS);
    pthread_mutex_lock(&bus->alock);
    while (bus->synced && bus->applied < want)
        if (pthread_cond_timedwait(&bus->applied_cv, &bus->alock, &until) != 0)
            break;
    bool ok = bus->synced && bus->applied >= want;
    pthread_mutex_unlock(&bus->alock);
    return ok;
}

/* The flush (cache_set_sync): waits until what is queued now is published,
 * unless the publisher cannot reach Redis (then a write would wait for
 * nothing: see bus.h). */
static void flush(void *arg)
{
    cache_bus_t *bus = arg;
    struct timespec until = deadline(BUS_FLUSH_MS);
    pthread_mutex_lock(&bus->lock);
    uint64_t want = bus->queued;
    while (bus->posted < want && atomic_load(&bus->pub_ok) && !atomic_load(&bus->stop))
        if (pthread_cond_timedwait(&bus->published_cv, &bus->lock, &until) != 0)
            break;
    pthread_mutex_unlock(&bus->lock);
}

static bool is(const redisReply *e, const char *s)
{
    return e->type == REDIS_REPLY_STRING && e->len == strlen(s) && memcmp(e->str, s, e->len) == 0;
}

/* One subscription, until it breaks or the bus stops. */
static void subscribed(cache_bus_t *bus, redisContext *r)
{
    int done = 0;
    if (redisAppendCommand(r, "SUBSCRIBE %s", bus->channel) != REDIS_OK)
        return;
    while (!done)
        if (redisBufferWrite(r, &done) != REDIS_OK)
            return;
    int64_t heard = mono_ms(), pinged = 0;
    while (!atomic_load(&bus->stop)) {
        struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 100);
        if (pr < 0 && errno != EINTR)
            return;
        if (pr > 0) {
            if (redisBufferRead(r) != REDIS_OK)
                return;
            void *v;
            while (redisGetReplyFromReader(r, &v) == REDIS_OK && v != NULL) {
                redisReply *m = v;
                heard = mono_ms(), pinged = 0;
                if (m->type == REDIS_REPLY_ARRAY && m->elements >= 3 && is(m->element[0], "message"))
                    apply(bus, m->element[2]->str, m->element[2]->len);
                else if (m->type == REDIS_REPLY_ARRAY && m->elements >= 1 && is(m->element[0], "subscribe") &&
                         !atomic_load(&bus->live)) {
                    /* from now on every invalidation is heard: what is
                     * cached may have missed some, so it goes. A hello
                     * of ours follows; once it is back, every message
                     * numbered before it has been applied (barrier). */
                    cache_clear(bus->near);
                    cache_enable(bus->near, true);
                    atomic_store(&bus->live, true);
                    pthread_mutex_lock(&bus->lock);
                    bus->hello = true;
                    pthread_cond_signal(&bus->ready);
                    pthread_mutex_unlock(&bus->lock);
                    log_info("cache bus: subscribed on redis://%s:%d; the object cache is on", bus->host, bus->port);
                }
                freeReplyObject(m);
            }
            if (r->err)
                return;
        }
        int64_t now = mono_ms();
        if (pinged && now - pinged > BUS_DEAD_MS)
            return;
        if (!pinged && now - heard > BUS_PING_MS) {
            if (redisAppendCommand(r, "PING") != REDIS_OK)
                return;
            done = 0;
            while (!done)
                if (redisBufferWrite(r, &done) != REDIS_OK)
                    return;
            pinged = now;
        }
    }
}

static void *subscriber(void *arg)
{
    cache_bus_t *bus = arg;
    bool first = true;
    while (!atomic_load(&bus->stop)) {
        redisContext *r = connect_to(bus);
        if (r) {
            subscribed(bus, r);
            redisFree(r);
        }
        bool was = atomic_exchange(&bus->live, false);
        unsync(bus);
        if (was)
            cache_enable(bus->near, false);
        if ((was || first) && !atomic_load(&bus->stop))
            log_warn("cache bus: redis://%s:%d cannot be reached; the object cache is off until it can", bus->host,
                     bus->port);
        first = false;
        nap(bus, BUS_RETRY_MS);
    }
    return NULL;
}

cache_bus_t *cache_bus_start(const char *url, const char *ns, cache_t *cache, char *err, size_t errlen)
{
    cache_bus_t *bus = xcalloc(1, sizeof(*bus));
    snprintf(bus->channel, sizeof(bus->channel), BUS_CHANNEL "%s", ns);
    if (redis_url_parse(url, bus->host, sizeof(bus->host), &bus->port) != 0) {
        snprintf(err, errlen, "bad value for redis: '%s' (expected redis://HOST:PORT)", url);
        free(bus);
        return NULL;
    }
    if ((bus->link = redis_link_new(url, "cache bus", err, errlen)) == NULL) {
        free(bus);
        return NULL;
    }
    snprintf(bus->seq_key, sizeof(bus->seq_key), "%s:seq", bus->channel);
    bus->cache = cache;
    bus->near = cache_near(cache);
    randombytes_buf(&bus->origin, sizeof(bus->origin));
    pthread_mutex_init(&bus->lock, NULL);
    pthread_cond_init(&bus->ready, NULL);
    pthread_cond_init(&bus->published_cv, NULL);
    pthread_mutex_init(&bus->alock, NULL);
    pthread_cond_init(&bus->applied_cv, NULL);
    atomic_store(&bus->pub_ok, true);
    cache_enable(bus->near, false); /* until subscribed */
    cache_set_publisher(cache, publish, bus);
    if (bus->near != cache) /* a local tier: read after a barrier, written before an answer */
        cache_set_sync(cache, barrier, flush, bus);
    pthread_create(&bus->sub_tid, NULL, subscriber, bus);
    pthread_create(&bus->pub_tid, NULL, publisher, bus);
    return bus;
}

bool cache_bus_live(cache_bus_t *bus)
{
    return bus != NULL && atomic_load(&bus->live);
}

void cache_bus_stop(cache_bus_t *bus)
{
    if (bus == NULL)
        return;
    cache_set_publisher(bus->cache, NULL, NULL);
    cache_set_sync(bus->cache, NULL, NULL, NULL);
    pthread_mutex_lock(&bus->lock);
    atomic_store(&bus->stop, true);
    pthread_cond_signal(&bus->ready);
    pthread_mutex_unlock(&bus->lock);
    pthread_join(bus->pub_tid, NULL);
    pthread_join(bus->sub_tid, NULL);
    pthread_mutex_destroy(&bus->lock);
    pthread_cond_destroy(&bus->ready);
    pthread_cond_destroy(&bus->published_cv);
    pthread_mutex_destroy(&bus->alock);
    pthread_cond_destroy(&bus->applied_cv);
    redis_link_free(bus->link);
    free(bus->queue);
    free(bus);
}
