/*
 * One rate-limit budget for every server: each server counts its hits in
 * its own table (http/ratelimit.h, shared windows) and a syncer thread adds
 * them to per-window counters in Redis (INCRBY, pipelined), taking back
 * each key's total across servers. A key's first hit on a server wakes the
 * syncer at once, so the server learns what the others counted within a
 * round trip of it; after that the syncer waits RL_GAP_MS between syncs,
 * so a busy key's hits go in one INCRBY. A client spread over N servers
 * gets at most a few requests more than its budget, those each server
 * allowed between two syncs.
 *
 * With Redis down, each server keeps counting on its own (a budget per
 * server, never an error) and shares what it counted once Redis is back.
 */
#ifndef PICOGRAM_RLSHARE_H
#define PICOGRAM_RLSHARE_H

#include <stddef.h>

#include "http/ratelimit.h"

typedef struct rl_share rl_share_t;

/* Shares rl's windows (window_ms long) through the Redis at url
 * ("redis://HOST:PORT"), under the cluster's namespace ns (cache/bus.h). Call before rl's first hit. NULL with a
 * message in err if the URL is bad. */
rl_share_t *rl_share_start(const char *url, const char *ns, ratelimit_t *rl, int64_t window_ms, char *err,
                           size_t errlen);
void rl_share_stop(rl_share_t *s);

#endif
