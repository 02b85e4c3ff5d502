/* The shared failed log-in back-off (see loginshare.h). */
#include "http/loginshare.h"
#include "cache/redis.h"
#include "core/buf.h"
#include "http/throttle.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LF_PREFIX "picogram:lf:v1:" /* a new layout is a new prefix */

struct login_share {
    redis_link_t *link;
    char prefix[40];
};

login_share_t *login_share_new(const char *url, const char *ns, char *err, size_t errlen)
{
    login_share_t *s = xcalloc(1, sizeof(*s));
    if ((s->link = redis_link_new(url, "log-in back-off", err, errlen)) == NULL) {
        free(s);
        return NULL;
    }
    snprintf(s->prefix, sizeof(s->prefix), LF_PREFIX "%s:", ns);
    return s;
}

void login_share_free(login_share_t *s)
{
    if (s == NULL)
        return;
    redis_link_free(s->link);
    free(s);
}

static int key_of(const login_share_t *s, uint64_t key, char *out, size_t cap)
{
    return snprintf(out, cap, "%s%016" PRIx64, s->prefix, key);
}

/* Reads n replies; -1 if the connection failed (it is dropped). */
static int drain(login_share_t *s, redisContext *c, int n, redisReply **keep)
{
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            redis_link_failed(s->link);
            return -1;
        }
        if (keep && i == 0)
            *keep = r;
        else
            freeReplyObject(r);
    }
    return 0;
}

int64_t login_share_wait_ms(login_share_t *s, uint64_t key, uint32_t free_failures, int64_t now_ms)
{
    redisContext *c = redis_link_get(s->link);
    if (c == NULL)
        return -1;
    char k[80];
    key_of(s, key, k, sizeof(k));
    redisReply *r = NULL;
    redisAppendCommand(c, "HMGET %s n t", k);
    if (drain(s, c, 1, &r) != 0)
        return -1;
    int64_t wait = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        long long n = strtoll(r->element[0]->str, NULL, 10), t = strtoll(r->element[1]->str, NULL, 10);
        if (n > (long long)free_failures) {
            long long extra = n - free_failures - 1;
            int64_t backoff = extra >= 20 ? THROTTLE_MAX_BACKOFF_MS : 1000LL << extra;
            if (backoff > THROTTLE_MAX_BACKOFF_MS)
                backoff = THROTTLE_MAX_BACKOFF_MS;
            wait = t + backoff > now_ms ? t + backoff - now_ms : 0;
        }
    }
    freeReplyObject(r);
    return wait;
}

void login_share_failure(login_share_t *s, uint64_t key, int64_t now_ms)
{
    redisContext *c = redis_link_get(s->link);
    if (c == NULL)
        return;
    char k[80];
    key_of(s, key, k, sizeof(k));
    redisAppendCommand(c, "HINCRBY %s n 1", k);
    redisAppendCommand(c, "HSET %s t %lld", k, (long long)now_ms);
    redisAppendCommand(c, "PEXPIRE %s %lld", k, (long long)THROTTLE_FORGET_MS);
    drain(s, c, 3, NULL);
}

void login_share_success(login_share_t *s, uint64_t key)
{
    redisContext *c = redis_link_get(s->link);
    if (c == NULL)
        return;
    char k[80];
    key_of(s, key, k, sizeof(k));
    redisAppendCommand(c, "DEL %s", k);
    drain(s, c, 1, NULL);
}
