/*
 * sentry: errors and crashes reported to a Sentry-compatible endpoint
 * (`sentry_dsn`), as the seeds' operators had them.
 *
 * DESIGN
 * The DSN (SCHEME://PUBLIC_KEY@HOST[:PORT][/PATH]/PROJECT) names the
 * envelope endpoint, SCHEME://HOST[:PORT][/PATH]/api/PROJECT/envelope/, and
 * the key sent in X-Sentry-Auth. A report (every answer of 500, say) is an
 * event built at once, on the caller's thread, into a bounded queue, and
 * sent by a thread of its own over libcurl: the caller never waits for the
 * network. A token bucket (a burst of SENTRY_BURST, then one every
 * SENTRY_REFILL_MS) bounds what an error storm sends; what it drops is
 * counted and said in the next event sent. A 429 from the endpoint pauses
 * sending for its Retry-After. An event carries the level, a message, the
 * route's pattern (never a path: no IDs, no query, so no token), the
 * method, the request ID, the release and the host name; never a header,
 * a body, a cookie or a parameter.
 *
 * Crashes: handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT write a
 * small JSON report into DATA/crash/ with async-signal-safe calls only
 * (the text made in advance but for the signal and the time), then hand
 * the signal on to the handler before them (a sanitizer's, or the
 * default, so the process still dies of it). No minidump. The next start
 * with a DSN sends each report as a fatal event and removes it once the
 * endpoint has taken it.
 */
#ifndef PICOGRAM_SENTRY_H
#define PICOGRAM_SENTRY_H

#include <stddef.h>
#include <stdint.h>

#define SENTRY_BURST 10
#define SENTRY_REFILL_MS 6000 /* one more every 6 s after the burst: 10 a minute */
#define SENTRY_QUEUE 64

/* SCHEME://KEY[:SECRET]@HOST[:PORT][/PATH]/PROJECT (SCHEME http or https,
 * PROJECT digits) into the envelope URL and the key, both malloc'd: 0, or
 * -1 if dsn is not one. */
int sentry_dsn_parse(const char *dsn, char **url, char **key);
/* Starts reporting to dsn ("off" or empty: nothing is reported, and 0).
 * data_dir holds crash reports, which are queued now. 0, or -1 with err
 * for a DSN that is not one. */
int sentry_start(const char *dsn, const char *data_dir, const char *role, char *err, size_t errlen);
/* Sends what is queued (waiting at most 2 s), then stops the thread. */
void sentry_stop(void);
/* Queues an event (level "error" or "warning"); never blocks. route and
 * method may be NULL. No-op without a DSN. */
void sentry_report(const char *level, const char *message, const char *route, const char *method,
                   const char *request_id);
/* Installs the crash handlers (with or without a DSN: a report waits on
 * disk for a start that has one). After sentry_start, or alone. */
void sentry_crash_handlers(const char *data_dir);
/* Events sent, and dropped by the rate limit or a full queue, since start. */
void sentry_counts(uint64_t *sent, uint64_t *dropped);

#endif
