/*
 * The failed log-in back-off shared by every server (http/throttle.h keeps
 * each server's own): without it, N servers behind a load balancer would
 * give a password guesser N times the tries.
 *
 * DESIGN
 * Each throttle key (an account name's, a client address's) has a Redis
 * hash picogram:lf:v1:<ns>:<key> of its failures (n) and the time of the
 * last (t), which expires THROTTLE_FORGET_MS after the last failure, as a
 * server forgets them. A failure is one pipelined HINCRBY, HSET and
 * PEXPIRE; a check one HMGET, whose wait is the local throttle's formula
 * over the count of every server; while Redis answers, it decides, not the
 * server's own count (a success through another server cleared it
 * there). A success deletes the account's. Calls
 * are made on worker and hashing threads only (a per-thread connection,
 * cache/redis.h). With Redis down or slow, each server's own back-off
 * decides, and the failures go uncounted in Redis: an outage widens the
 * budget to what it is without Redis, never more.
 */
#ifndef PICOGRAM_LOGINSHARE_H
#define PICOGRAM_LOGINSHARE_H

#include <stddef.h>
#include <stdint.h>

typedef struct login_share login_share_t;

/* NULL with err if the URL is bad. ns: the cluster's namespace (cache/redis.h). */
login_share_t *login_share_new(const char *url, const char *ns, char *err, size_t errlen);
void login_share_free(login_share_t *s);
/* Milliseconds key must still wait by the failures every server counted
 * (0: go), or -1 if Redis cannot be asked (then the server's own count decides). */
int64_t login_share_wait_ms(login_share_t *s, uint64_t key, uint32_t free_failures, int64_t now_ms);
void login_share_failure(login_share_t *s, uint64_t key, int64_t now_ms);
void login_share_success(login_share_t *s, uint64_t key);

#endif
