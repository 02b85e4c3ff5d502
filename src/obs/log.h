/*
 * log: leveled logging to stderr. The macros test the level before any
 * formatting happens (as Redis serverLog does), so a debug line costs one
 * compare when debug is off. Thread safe (one write(2) per line).
 */
#ifndef PICOGRAM_LOG_H
#define PICOGRAM_LOG_H

enum { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern int log_level;
/* Lines as JSON objects ({"time","level","msg","request_id"}), for
 * log_format = json; else text. Set before any thread starts. */
extern int log_json;
/* The request this thread works for now (obs/reqid.h), or NULL: written
 * in each line it logs. */
extern __thread const char *log_request_id;

void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns -1 for an unknown name. */
int log_level_parse(const char *name);

#define LOG_AT(lvl, ...)                                                                                               \
    do {                                                                                                               \
        if ((lvl) <= log_level)                                                                                        \
            log_write((lvl), __VA_ARGS__);                                                                             \
    } while (0)
#define log_error(...) LOG_AT(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
