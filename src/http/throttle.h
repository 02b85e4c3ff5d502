/*
 * throttle: per-key counters that keep one client from starving the
 * others of password hashing, and slow down password guessing.
 *
 *  - In-flight slots: throttle_acquire lets at most `max` pieces of work
 *    per key (a client address) be queued or running at once.
 *  - Failure backoff (OWASP ASVS 2.2.1): after `free_failures` failed
 *    log-ins for a key (an account, or a client address), each further
 *    attempt must wait, 1 s after the first extra failure, doubling with
 *    each failure up to THROTTLE_MAX_BACKOFF_MS. Failures are forgotten
 *    THROTTLE_FORGET_MS after the last one, and a success clears an
 *    account's. A wait is a soft lock: it never needs an operator.
 *
 * Memory is bounded: a fixed table split into stripes with a mutex each;
 * a key probes a few slots and, when all are taken, recycles the least
 * recently touched one that holds no in-flight work (if every probed slot
 * holds some, throttle_acquire refuses). Thread safe. The counts are per
 * server; with Redis, http/loginshare.h shares the failure back-off.
 */
#ifndef PICOGRAM_THROTTLE_H
#define PICOGRAM_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#define THROTTLE_MAX_BACKOFF_MS (5 * 60 * 1000LL)
#define THROTTLE_FORGET_MS (15 * 60 * 1000LL)

typedef struct throttle throttle_t;

/* slots is rounded up to a power of two, at least 1024. */
throttle_t *throttle_new(uint32_t slots);
void throttle_free(throttle_t *t);

/* Takes one in-flight slot for key if fewer than max are taken. */
bool throttle_acquire(throttle_t *t, uint64_t key, uint32_t max, int64_t now_ms);
/* Gives back a slot taken by throttle_acquire. */
void throttle_release(throttle_t *t, uint64_t key);

/* Milliseconds key must still wait before its next attempt (0: go). */
int64_t throttle_wait_ms(throttle_t *t, uint64_t key, int64_t now_ms);
/* Counts a failed attempt: past free_failures, the next must wait. */
void throttle_failure(throttle_t *t, uint64_t key, uint32_t free_failures, int64_t now_ms);
/* Forgets key's failures. */
void throttle_success(throttle_t *t, uint64_t key);

#endif
