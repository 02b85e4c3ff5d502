#include "http/ready.h"
#include "cache/redis.h"
#include "http/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READY_MAX_REDIS 2

struct ready {
    blob_store_t *photos;
    redis_link_t *redis[READY_MAX_REDIS];
    const char *redis_name[READY_MAX_REDIS];
    int nredis;
};

ready_t *ready_new(const config_t *cfg, blob_store_t *photos, char *err, size_t errlen)
{
    ready_t *r = xcalloc(1, sizeof(*r));
    r->photos = photos;
    bool redis = strcmp(cfg->redis, "off") != 0;
    bool feeds = strncmp(cfg->feed_store, "redis://", 8) == 0 && (!redis || strcmp(cfg->feed_store, cfg->redis) != 0);
    const char *urls[] = {redis ? cfg->redis : NULL, feeds ? cfg->feed_store : NULL};
    const char *names[] = {"redis", "feed_store"};
    for (int i = 0; i < READY_MAX_REDIS; i++) {
        if (urls[i] == NULL)
            continue;
        if ((r->redis[r->nredis] = redis_link_new(urls[i], "readiness", err, errlen)) == NULL) {
            ready_free(r);
            return NULL;
        }
        r->redis_name[r->nredis++] = names[i];
    }
    return r;
}

void ready_free(ready_t *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->nredis; i++)
        redis_link_free(r->redis[i]);
    free(r);
}

/* 0 if the Redis behind l answers PING, else -1 with why. */
static int ping_redis(redis_link_t *l, char *why, size_t whylen)
{
    redisContext *c = redis_link_get(l);
    if (c == NULL) {
        snprintf(why, whylen, "unreachable (resting after a failure)");
        return -1;
    }
    redisReply *rep = redisCommand(c, "PING");
    bool ok = rep != NULL && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
    if (!ok)
        snprintf(why, whylen, "%s",
                 rep == NULL                      ? (c->err ? c->errstr : "no answer")
                 : rep->type == REDIS_REPLY_ERROR ? rep->str
                                                  : "unexpected answer to PING");
    if (rep != NULL)
        freeReplyObject(rep);
    if (!ok)
        redis_link_failed(l);
    return ok ? 0 : -1;
}

/* "name":"ok" or "name":"down: why" into b; the name into failing if down. */
static void report(buf_t *b, buf_t *failing, const char *name, int rc, const char *why)
{
    if (b->len > 1)
        buf_putc(b, ',');
    buf_json_cstr(b, name);
    buf_putc(b, ':');
    if (rc == 0) {
        buf_puts(b, "\"ok\"");
        return;
    }
    char text[320];
    snprintf(text, sizeof(text), "down: %s", why);
    buf_json_cstr(b, text);
    buf_printf(failing, "%s%s (%s)", failing->len ? ", " : "", name, why);
}

int ready_check(ready_t *r, db_ctx_t *db, buf_t *out)
{
    buf_t backends, failing;
    buf_init(&backends, 1 << 16);
    buf_init(&failing, 1 << 16);
    buf_putc(&backends, '{');
    char name[32], why[256];
    for (size_t i = 0; i < db_count(db); i++) {
        snprintf(name, sizeof(name), "database_%zu", i);
        db_conn_t *c = db_physical(db, i);
        int rc = -1;
        if (c == NULL) {
            snprintf(why, sizeof(why), "cannot connect");
        } else {
            db_stmt_t *s = db_q(c, Q_PING);
            rc = db_step(s) == DB_ROW ? 0 : -1;
            db_reset(s);
            snprintf(why, sizeof(why), "SELECT 1 failed");
        }
        report(&backends, &failing, name, rc, why);
    }
    db_ctx_release(db);
    int rc = r->photos->be->probe ? r->photos->be->probe(r->photos, why, sizeof(why)) : 0;
    report(&backends, &failing, "photo_store", rc, why);
    for (int i = 0; i < r->nredis; i++) {
        rc = ping_redis(r->redis[i], why, sizeof(why));
        report(&backends, &failing, r->redis_name[i], rc, why);
    }
    buf_putc(&backends, '}');
    int status = failing.len ? 503 : 200;
    if (status == 200) {
        buf_puts(out, "{\"meta\":{\"code\":200},\"data\":{\"status\":\"ready\",\"backends\":");
    } else {
        buf_printf(out, "{\"meta\":{\"code\":503,\"error_type\":\"%s\",\"error_message\":", E_UNAVAILABLE);
        buf_putc(&failing, '\0');
        char msg[1200];
        snprintf(msg, sizeof(msg), "not ready: %s", failing.data);
        buf_json_cstr(out, msg);
        buf_puts(out, "},\"data\":{\"status\":\"unready\",\"backends\":");
    }
    buf_append(out, backends.data, backends.len);
    buf_puts(out, "}}");
    buf_free(&backends);
    buf_free(&failing);
    return status;
}
