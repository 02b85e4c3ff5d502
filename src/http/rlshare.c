/* Rate-limit windows shared through Redis (see rlshare.h). */
#include "http/rlshare.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cache/bus.h"
#include "core/buf.h"
#include "obs/log.h"

#define RL_KEY "picogram:rl:v1:%s:%" PRId64 ":%016" PRIx64 /* namespace, window start, key */
#define RL_PIPELINE 512                                    /* keys per round trip at most */
#define RL_RETRY_MS 200
#define RL_SLACK_MS 60000 /* a window's counter outlives it this long */
#define RL_GAP_MS 5       /* between syncs, unless a key new here waits: hot keys batch */

struct rl_share {
    char ns[REDIS_NS_LEN + 1];
    char host[256];
    int port;
    ratelimit_t *rl;
    int64_t window_ms;
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_bool dirty, fresh, stop;
};

static void on_dirty(void *arg, bool fresh)
{
    rl_share_t *s = arg;
    bool wake = !atomic_exchange(&s->dirty, true); /* the syncer was idle */
    if (fresh && !atomic_exchange(&s->fresh, true))
        wake = true; /* or must cut its gap short */
    if (!wake)
        return;
    pthread_mutex_lock(&s->lock);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

/* Sends d[0..n) in one pipeline and applies the totals; false (with what
 * was not applied given back) if Redis failed. */
static bool share(rl_share_t *s, redisContext *r, const rl_delta_t *d, size_t n)
{
    char key[96];
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), RL_KEY, s->ns, d[i].start_ms, d[i].key);
        redisAppendCommand(r, "INCRBY %s %u", key, d[i].n);
        redisAppendCommand(r, "PEXPIREAT %s %lld", key, (long long)(d[i].start_ms + s->window_ms + RL_SLACK_MS));
    }
    size_t i = 0;
    for (; i < n; i++) {
        redisReply *a = NULL, *b = NULL;
        if (redisGetReply(r, (void **)&a) != REDIS_OK || redisGetReply(r, (void **)&b) != REDIS_OK ||
            a->type != REDIS_REPLY_INTEGER) {
            if (a)
                freeReplyObject(a);
            if (b)
                freeReplyObject(b);
            break;
        }
        ratelimit_total(s->rl, &d[i], a->integer > 0 ? (uint64_t)a->integer : 0);
        freeReplyObject(a);
        freeReplyObject(b);
    }
    for (size_t k = i; k < n; k++) /* (if the INCRBY of one went through, it is counted twice: over, not under) */
        ratelimit_untake(s->rl, &d[k]);
    return i == n;
}

static void *syncer(void *arg)
{
    rl_share_t *s = arg;
    redisContext *r = NULL;
    rl_delta_t *d = NULL;
    size_t cap = 0;
    bool warned = false;
    while (!atomic_load(&s->stop)) {
        pthread_mutex_lock(&s->lock);
        while (!atomic_load(&s->stop) && !atomic_load(&s->dirty))
            pthread_cond_wait(&s->wake, &s->lock);
        /* a gap after each sync, so a hot key's hits go in one INCRBY */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += RL_GAP_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L)
            until.tv_sec++, until.tv_nsec -= 1000000000L;
        while (!atomic_load(&s->stop) && !atomic_load(&s->fresh) &&
               pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0)
            ;
        atomic_store(&s->dirty, false);
        atomic_store(&s->fresh, false);
        pthread_mutex_unlock(&s->lock);
        size_t n = ratelimit_take(s->rl, &d, &cap);
        if (n == 0)
            continue;
        if (r == NULL) {
            r = redisConnectWithTimeout(s->host, s->port, (struct timeval){0, 300 * 1000});
            if (r && !r->err)
                redisSetTimeout(r, (struct timeval){0, 500 * 1000});
        }
        bool ok = r && !r->err;
        for (size_t at = 0; at < n; at += RL_PIPELINE) {
            size_t k = n - at < RL_PIPELINE ? n - at : RL_PIPELINE;
            if (!ok || !share(s, r, d + at, k)) {
                for (size_t j = at + (ok ? k : 0); j < n; j++)
                    ratelimit_untake(s->rl, &d[j]);
                ok = false;
                break;
            }
        }
        if (ok) {
            if (warned)
                log_info("rate limits: shared through redis://%s:%d again", s->host, s->port);
            warned = false;
            continue;
        }
        if (r)
            redisFree(r);
        r = NULL;
        if (!warned)
            log_warn("rate limits: redis://%s:%d cannot be reached; each server counts on its own until it can",
                     s->host, s->port);
        warned = true;
        for (int slept = 0; slept < RL_RETRY_MS && !atomic_load(&s->stop); slept += 20)
            nanosleep(&(struct timespec){0, 20 * 1000000L}, NULL);
        atomic_store(&s->dirty, true); /* what was given back is still to share */
    }
    if (r)
        redisFree(r);
    free(d);
    return NULL;
}

rl_share_t *rl_share_start(const char *url, const char *ns, ratelimit_t *rl, int64_t window_ms, char *err,
                           size_t errlen)
{
    rl_share_t *s = xcalloc(1, sizeof(*s));
    snprintf(s->ns, sizeof(s->ns), "%s", ns);
    if (redis_url_parse(url, s->host, sizeof(s->host), &s->port) != 0) {
        snprintf(err, errlen, "bad value for redis: '%s' (expected redis://HOST:PORT)", url);
        free(s);
        return NULL;
    }
    s->rl = rl;
    s->window_ms = window_ms;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    ratelimit_share(rl, on_dirty, s);
    pthread_create(&s->tid, NULL, syncer, s);
    return s;
}

void rl_share_stop(rl_share_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stop, true);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->tid, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}
