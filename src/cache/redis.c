/* Redis URLs, namespaces and per-thread links (see redis.h). */
#include "cache/redis.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "obs/log.h"

void redis_namespace(const unsigned char *secret, size_t len, char out[REDIS_NS_LEN + 1])
{
    static const unsigned char ctx[crypto_generichash_KEYBYTES] = "picogram redis namespace, v1...";
    unsigned char h[REDIS_NS_LEN / 2];
    crypto_generichash(h, sizeof(h), secret, len, ctx, sizeof(ctx));
    sodium_bin2hex(out, REDIS_NS_LEN + 1, h, sizeof(h));
}

struct redis_link {
    char host[256];
    int port;
    char what[32];
    pthread_key_t key;       /* this thread's redisContext */
    atomic_llong down_until; /* monotonic ms; 0 when up */
    atomic_bool warned;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void free_conn(void *c)
{
    redisFree(c);
}

redis_link_t *redis_link_new(const char *url, const char *what, char *err, size_t errlen)
{
    redis_link_t *l = xcalloc(1, sizeof(*l));
    if (redis_url_parse(url, l->host, sizeof(l->host), &l->port) != 0) {
        snprintf(err, errlen, "bad redis URL for %s: '%s' (expected redis://HOST:PORT)", what, url);
        free(l);
        return NULL;
    }
    snprintf(l->what, sizeof(l->what), "%s", what);
    pthread_key_create(&l->key, free_conn);
    return l;
}

void redis_link_free(redis_link_t *l)
{
    if (l == NULL)
        return;
    redisContext *c = pthread_getspecific(l->key);
    if (c)
        redisFree(c);
    pthread_key_delete(l->key);
    free(l);
}

bool redis_link_down(redis_link_t *l)
{
    int64_t until = atomic_load(&l->down_until);
    return until != 0 && mono_ms() < until;
}

redisContext *redis_link_get(redis_link_t *l)
{
    redisContext *c = pthread_getspecific(l->key);
    if (c != NULL)
        return c;
    if (redis_link_down(l))
        return NULL;
    struct timeval tv = {0, REDIS_LINK_TIMEOUT_MS * 1000};
    c = redisConnectWithTimeout(l->host, l->port, tv);
    if (c == NULL || c->err) {
        if (c)
            redisFree(c);
        redis_link_failed(l);
        return NULL;
    }
    redisSetTimeout(c, tv);
    redisEnableKeepAlive(c);
    pthread_setspecific(l->key, c);
    if (atomic_exchange(&l->warned, false))
        log_info("%s: redis://%s:%d reached again", l->what, l->host, l->port);
    atomic_store(&l->down_until, 0);
    return c;
}

void redis_link_failed(redis_link_t *l)
{
    redisContext *c = pthread_getspecific(l->key);
    if (c) {
        redisFree(c);
        pthread_setspecific(l->key, NULL);
    }
    atomic_store(&l->down_until, mono_ms() + REDIS_LINK_RETRY_MS);
    if (!atomic_exchange(&l->warned, true))
        log_warn("%s: redis://%s:%d cannot be reached; retried every %d ms", l->what, l->host, l->port,
                 REDIS_LINK_RETRY_MS);
}
