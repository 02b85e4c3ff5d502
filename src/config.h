/*
 * config: picogram's settings, from a file, the environment and flags.
 *
 * Precedence: flags > environment (PICOGRAM_<KEY>) > config file > defaults.
 * Every setting has the same name everywhere: `threads` is `threads = 4`
 * in the file, PICOGRAM_THREADS=4 in the environment and --threads 4 on the
 * command line ('_' and '-' are interchangeable in flags).
 *
 * Each setter validates; an error is one line naming the setting and the
 * problem. Not thread safe; built once at start-up, then read-only.
 */
#ifndef PICOGRAM_CONFIG_H
#define PICOGRAM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct config {
    char *listen; /* host:port */
    char *listen_host;
    int listen_port;
    char *metrics_listen; /* "off" or host:port: GET /metrics (http/scrape.h) */
    char *metrics_host;   /* NULL when off */
    int metrics_port;
    long long drain_seconds; /* SIGTERM: /readyz 503 this long, then stop */
    char *data_dir;
    char *database;                /* driver URL, "sqlite:PATH" */
    char *public_url;              /* base of links and photo URLs; no trailing slash */
    long long threads;             /* event-loop threads */
    long long workers;             /* worker-pool threads */
    long long request_threads;     /* threads handling requests that touch networked databases */
    char *dispatch;                /* "auto", "loop" or "pool": where requests are handled */
    long long hash_threads;        /* password-hashing threads (a pool of their own) */
    long long hash_queue;          /* hashes waiting at most; more answer 503 */
    long long hash_per_client;     /* hashes queued or running per client address; more answer 429 */
    long long login_backoff_after; /* failed log-ins per account (4x per address) before backoff */
    long long rate_limit;          /* requests per window per token */
    long long rate_limit_window;   /* seconds */
    long long max_body;            /* bytes, for API requests other than uploads */
    long long max_upload;          /* bytes, for uploads; also h2o's global entity limit */
    char *access_log;              /* path, "-" for stderr, "off" */
    char *log_level;
    char *log_format;          /* "text" or "json" */
    long long slow_request_ms; /* 0: no slow-request log */
    char *sqlite_sync; /* "full" or "normal" */
    char *password_hash; /* "interactive" or "minimum" */
    char *photo_store; /* blob store URL, "file:DIR" */
    char *web_root;    /* the web client's directory, or "off" */
    char *photo_url;   /* public base URL of the photo store's keys */
    long long max_pixels;
    long long jpeg_quality;
    long long max_concurrent_uploads;
    long long feed_cap;         /* timeline length */
    long long celebrity;        /* followers above which posts are merged at read time */
    long long fanout_batch;     /* followers per fan-out batch */
    long long popular_interval; /* seconds between popular refreshes */
    long long job_threads;
    char *cache;           /* "local" or "memcached://HOST:PORT[,...]" */
    char *job_server;      /* "off" or "gearman://HOST:PORT[,...]" */
    long long cache_size;  /* bytes of the local object cache */
    char *near_cache;      /* "on" or "off": a local tier in front of memcached (cache/tiered.c) */
    long long rekey_grace; /* seconds old photo file names stay after their photo gets a file key */
    char *secret_file;
    char *webhook_allow_private; /* "on" or "off" */
    long long webhook_max_attempts, webhook_batch_ms;
    long long push_window_ms;
    char *apns_key_file, *apns_key_id, *apns_team_id, *apns_topic, *apns_endpoint, *vapid_subject;
    char *node;            /* "auto", or this process's ID node 0..63 */
    char *trusted_proxies; /* "off", or the addresses of proxies whose X-Forwarded-For is believed */
    char *redis;           /* "redis://HOST:PORT" of the shared services, or "off" */
    char *sentry_dsn;      /* where errors and crashes are reported, or "off" */
    char *feed_store;
    char *s3_access_key, *s3_secret_key, *s3_region;
    /* an s3: photo store's (NULL: from the environment) */ /* "db" or "redis://HOST:PORT" */
    char *far_inline; /* "on": far effects run right after their commit; "off": by the job runner only */
    int node_number; /* -1 for auto */ /* the server secret (cursor keys...), DATA/secret by default */
} config_t;

void config_init(config_t *c);
void config_free(config_t *c);
/* Sets one key. Returns 0, or -1 with a one-line message in err. */
int config_set(config_t *c, const char *key, const char *val, char *err, size_t errlen);
int config_load_file(config_t *c, const char *path, char *err, size_t errlen);
int config_load_stream(config_t *c, FILE *f, const char *name, char *err, size_t errlen);
int config_load_env(config_t *c, char *const *envp, char *err, size_t errlen);
/* Derives defaults that depend on other settings. Call after loading. */
int config_finish(config_t *c, char *err, size_t errlen);
/* Whether key names a setting (after '-' to '_'). */
int config_has_key(const char *key);
void config_usage(FILE *out);
/* Every setting as roff .TP entries for the man pages: as command-line
 * flags (picogram(1)) or as file keys (picogram.conf(5)); the same table
 * as config_usage, so the pages and --help cannot drift. */
void config_man(FILE *out, bool as_flags);
/* t as roff text: backslashes and hyphens escaped, a leading '.' or '\''
 * (a request to roff) guarded. */
void config_roff(FILE *out, const char *t);

#endif
