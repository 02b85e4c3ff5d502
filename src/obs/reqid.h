/*
 * reqid: request IDs (X-Request-Id). Each request gets one: the one a
 * trusted proxy sent, if it is well formed (1 to REQID_MAX characters of
 * [A-Za-z0-9._:-], as nginx's $request_id or a UUID), or a new one, 32 hex
 * digits unique across processes (a random prefix per thread, a counter).
 * It is echoed in the response and written in every log line the request
 * causes (log.h: log_request_id).
 */
#ifndef PICOGRAM_REQID_H
#define PICOGRAM_REQID_H

#include <stdbool.h>
#include <stddef.h>

#define REQID_MAX 64

/* Whether p[0..n) may be used as a request ID as it is. */
bool reqid_valid(const char *p, size_t n);
/* A new ID, NUL-terminated. Thread safe. */
void reqid_new(char out[REQID_MAX + 1]);

#endif
