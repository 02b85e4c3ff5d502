#include "obs/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int log_level = LOG_LVL_INFO;
int log_json;
__thread const char *log_request_id;

static const char *const names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

/* s into line at n as JSON string content (quotes, backslashes and
 * control characters escaped); the new n, at most cap. */
static size_t json_escape(char *line, size_t n, size_t cap, const char *s)
{
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            line[n++] = '\\';
            line[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(line + n, cap - n, "\\u%04x", c);
        } else {
            line[n++] = (char)c;
        }
    }
    return n;
}

void log_write(int level, const char *fmt, ...)
{
    char msg[1024], line[2400];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (k < 0)
        msg[0] = '\0';
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t w = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof(when) - w, ".%03ldZ", ts.tv_nsec / 1000000);
    const char *rid = log_request_id;
    size_t n;
    if (log_json) {
        n = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", when, names[level]);
        n = json_escape(line, n, sizeof(line) - 120, msg);
        if (rid != NULL)
            n += (size_t)snprintf(line + n, sizeof(line) - n, "\",\"request_id\":\"%s\"}", rid);
        else
            n += (size_t)snprintf(line + n, sizeof(line) - n, "\"}");
    } else {
        n = (size_t)snprintf(line, sizeof(line), "%s %s %s", when, names[level], msg);
        if (rid != NULL && n < sizeof(line))
            n += (size_t)snprintf(line + n, sizeof(line) - n, " request_id=%s", rid);
    }
    if (n > sizeof(line) - 1)
        n = sizeof(line) - 1;
    line[n++] = '\n';
    ssize_t wr = write(STDERR_FILENO, line, n);
    (void)wr;
}
