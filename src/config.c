#include "config.h"

#ifndef PICOGRAM_WEB_ROOT
#define PICOGRAM_WEB_ROOT "web"
#endif
#include "core/buf.h"
#include "core/params.h"
#include "obs/log.h"
#include "obs/sentry.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum { T_STR, T_INT, T_SIZE, T_LISTEN, T_ENUM } kind_t;

typedef struct setting {
    const char *key;
    kind_t kind;
    size_t off;
    const char *def; /* NULL: derived in config_finish */
    long long min, max;
    const char *choices; /* T_ENUM: "a|b|c" */
    const char *help;
} setting_t;

#define OFF(f) offsetof(config_t, f)
static const setting_t settings[] = {
    {"listen", T_LISTEN, OFF(listen), "127.0.0.1:8080", 0, 0, NULL, "address and port to serve on (HOST:PORT)"},
    {"data", T_STR, OFF(data_dir), "./data", 0, 0, NULL, "data directory (database, photos)"},
    {"database", T_STR, OFF(database), NULL, 0, 0, NULL, "database URL (default sqlite:DATA/picogram.db)"},
    {"public_url", T_STR, OFF(public_url), NULL, 0, 0, NULL, "public base URL for links (default http://LISTEN)"},
    {"threads", T_INT, OFF(threads), "0", 0, 256, NULL, "event-loop threads (0 = one per core)"},
    {"workers", T_INT, OFF(workers), "0", 0, 256, NULL,
     "worker-pool threads for writes and image work (0 = 16 per core)"},
    {"request_threads", T_INT, OFF(request_threads), "0", 0, 4096, NULL,
     "threads handling requests with PostgreSQL databases, off the event loops (0 = 16 per core)"},
    {"dispatch", T_ENUM, OFF(dispatch), "auto", 0, 0, "auto|loop|pool",
     "where requests run: on the event loops (loop), on the request pool (pool), or with a PostgreSQL "
     "database on the loop first and on the pool if they need the database (auto)"},
    {"hash_threads", T_INT, OFF(hash_threads), "0", 0, 256, NULL,
     "threads hashing passwords, apart from the worker pool (0 = half the cores, at least 1)"},
    {"hash_queue", T_INT, OFF(hash_queue), "64", 1, 100000, NULL, "password hashes waiting at most; more answer 503"},
    {"hash_per_client", T_INT, OFF(hash_per_client), "8", 1, 100000, NULL,
     "password hashes queued or running per client address at once; more answer 429"},
    {"password_hash", T_ENUM, OFF(password_hash), "interactive", 0, 0, "interactive|minimum",
     "cost of hashing a new password (Argon2id): interactive, libsodium's for log-ins (64 MiB, about 0.2 s "
     "of a core); minimum (8 KiB, cheap to guess: for test suites only). A password keeps the cost it was "
     "hashed with"},
    {"login_backoff_after", T_INT, OFF(login_backoff_after), "5", 1, 100000, NULL,
     "failed log-ins per account (four times as many per client address) before each attempt must wait, "
     "1 s doubling to 5 min"},
    {"rate_limit", T_INT, OFF(rate_limit), "5000", 1, 100000000, NULL, "requests per token per window"},
    {"rate_limit_window", T_INT, OFF(rate_limit_window), "3600", 1, 86400 * 7, NULL, "rate-limit window, seconds"},
    {"max_body", T_SIZE, OFF(max_body), "1m", 1024, 1LL << 30, NULL, "largest API request body (k/m/g suffixes)"},
    {"max_upload", T_SIZE, OFF(max_upload), "25m", 1024, 1LL << 32, NULL, "largest upload body (k/m/g suffixes)"},
    {"drain_seconds", T_INT, OFF(drain_seconds), "0", 0, 3600, NULL,
     "on SIGTERM, seconds to keep serving with /readyz answering 503 (so that a load balancer drains this "
     "server) before shutting down; a second signal stops at once"},
    {"metrics_listen", T_LISTEN, OFF(metrics_listen), "off", 0, 0, NULL,
     "address and port (HOST:PORT) of a listener of its own for GET /metrics, in Prometheus's text format; off "
     "by default, so that it is never public by accident"},
    {"access_log", T_STR, OFF(access_log), "-", 0, 0, NULL, "access log file, '-' for stderr, 'off' for none"},
    {"log_format", T_ENUM, OFF(log_format), "text", 0, 0, "text|json",
     "log lines as text, or as JSON objects (the access log too), each with the request's X-Request-Id"},
    {"sentry_dsn", T_STR, OFF(sentry_dsn), "off", 0, 0, NULL,
     "http(s)://KEY@HOST[:PORT][/PATH]/PROJECT_ID of a Sentry-compatible endpoint: every answer of 500 and every "
     "crash is reported there (rate-limited; no tokens, cookies or bodies); 'off': none"},
    {"slow_request_ms", T_INT, OFF(slow_request_ms), "0", 0, 3600000, NULL,
     "log a warning for each API request that takes longer than this many milliseconds (0: never)"},
    {"log_level", T_ENUM, OFF(log_level), "info", 0, 0, "error|warn|info|debug", "log level"},
    {"photo_store", T_STR, OFF(photo_store), NULL, 0, 0, NULL,
     "photo store URL: file:DIR (default file:DATA/photos) or s3:http(s)://HOST[:PORT]/BUCKET"},
    {"web_root", T_STR, OFF(web_root), NULL, 0, 0, NULL,
     "directory of the web client served at / ('off' for none; default: an installed picogram's "
     "PREFIX/share/picogram/web, found from the binary's own path, else the source tree's web/)"},
    {"s3_access_key", T_STR, OFF(s3_access_key), NULL, 0, 0, NULL,
     "access key of an s3: photo store (default: the AWS_ACCESS_KEY_ID environment variable)"},
    {"s3_secret_key", T_STR, OFF(s3_secret_key), NULL, 0, 0, NULL,
     "secret key of an s3: photo store (default: the AWS_SECRET_ACCESS_KEY environment variable)"},
    {"s3_region", T_STR, OFF(s3_region), "us-east-1", 0, 0, NULL, "region of an s3: photo store, for its signatures"},
    {"photo_url", T_STR, OFF(photo_url), NULL, 0, 0, NULL,
     "public base URL of stored photos, e.g. a CDN (default PUBLIC_URL)"},
    {"max_pixels", T_INT, OFF(max_pixels), "50000000", 1, 1000000000, NULL,
     "largest photo, in pixels, checked before decoding"},
    {"jpeg_quality", T_INT, OFF(jpeg_quality), "85", 1, 100, NULL, "JPEG quality of the renditions"},
    {"max_concurrent_uploads", T_INT, OFF(max_concurrent_uploads), "0", 0, 4096, NULL,
     "uploads admitted at once, one per core decoded at a time; more answer 503 (0 = 2 per core)"},
    {"feed_cap", T_INT, OFF(feed_cap), "1000", 20, 100000, NULL, "home timeline length"},
    {"celebrity", T_INT, OFF(celebrity), "1000000", 0, 1000000000000LL, NULL,
     "followers above which a user's posts are merged into feeds at read time, not fanned out"},
    {"fanout_batch", T_INT, OFF(fanout_batch), "1000", 1, 100000, NULL, "followers written per fan-out step"},
    {"popular_interval", T_INT, OFF(popular_interval), "60", 1, 86400, NULL,
     "seconds between refreshes of the popular ranking"},
    {"job_threads", T_INT, OFF(job_threads), "1", 0, 64, NULL,
     "threads running background jobs (fan-out ...); 0 in a server leaves them to `picogram worker` processes"},
    {"cache", T_STR, OFF(cache), "local", 0, 0, NULL,
     "the object cache: 'local' (this process's memory, cache_size bytes; with redis, servers hear each other's "
     "invalidations) or memcached://HOST:PORT[,HOST:PORT...] (one cache every server shares, spread over the "
     "instances by consistent hashing)"},
    {"cache_size", T_SIZE, OFF(cache_size), "auto", 0, 1LL << 36, NULL,
     "memory for the local object cache (auto: a sixteenth of the machine's memory, or of the container's limit, "
     "at least 64m)"},
    {"near_cache", T_ENUM, OFF(near_cache), "on", 0, 0, "on|off",
     "with cache = memcached://... and redis: keep copies of users and media in this process too (cache_size "
     "bytes), kept coherent over redis and read only once this process has heard every invalidation made before "
     "the request (on), or read memcached alone (off)"},
    {"rekey_grace", T_INT, OFF(rekey_grace), "600", 0, 86400 * 30, NULL,
     "seconds a photo stored before file keys still answers at its old name after it gets one"},
    {"far_inline", T_ENUM, OFF(far_inline), "on", 0, 0, "on|off",
     "run the effects of a write on other databases right after its commit (on), or leave them to the job "
     "runner (off: for fault drills and tests)"},
    {"trusted_proxies", T_STR, OFF(trusted_proxies), "off", 0, 0, NULL,
     "addresses (comma-separated) of proxies whose X-Forwarded-For names the client, for rate limits and "
     "throttles ('off': none)"},
    {"redis", T_STR, OFF(redis), "off", 0, 0, NULL,
     "redis://HOST:PORT of the Redis that servers sharing the databases use to hear each other's cache "
     "invalidations and share rate-limit budgets ('off': one server)"},
    {"job_server", T_STR, OFF(job_server), "off", 0, 0, NULL,
     "'off' (the runners sweep the outbox tables) or gearman://HOST:PORT[,HOST:PORT...]: gearmand carries each "
     "committed job to a runner of any server or worker at once; the outbox stays the truth, swept every second"},
    {"feed_store", T_STR, OFF(feed_store), "db", 0, 0, NULL,
     "where home timelines live: 'db' (a table on each user's database) or redis://HOST:PORT (the cluster's; "
     "a timeline Redis loses is rebuilt from the databases on its next read)"},
    {"node", T_STR, OFF(node), "auto", 0, 0, NULL,
     "the node number in this process's IDs, 0-63, or 'auto' for a free one; leased, so two live processes never share "
     "one"},
    {"secret_file", T_STR, OFF(secret_file), NULL, 0, 0, NULL,
     "file of the server secret, made on first start; the same on every server of a cluster (default DATA/secret)"},
    {"webhook_allow_private", T_ENUM, OFF(webhook_allow_private), "off", 0, 0, "on|off",
     "let apps' real-time callback URLs reach loopback, private and link-local addresses (on: for tests and "
     "private networks; off refuses them, so an app cannot make the server call inside its own network)"},
    {"webhook_max_attempts", T_INT, OFF(webhook_max_attempts), "8", 1, 9, NULL,
     "tries of a real-time update delivery (retried after 1 s, 2 s, 4 s ...) before it is given up and logged as "
     "failed for the app's owner"},
    {"webhook_batch_ms", T_INT, OFF(webhook_batch_ms), "500", 0, 60000, NULL,
     "milliseconds real-time updates to one callback wait for more, to go in one POST"},
    {"push_window_ms", T_INT, OFF(push_window_ms), "60000", 0, 3600000, NULL,
     "milliseconds news of one kind about one photo waits for more before it is pushed to phones and browsers "
     "(50 likes in a minute are one notification)"},
    {"apns_key_file", T_STR, OFF(apns_key_file), "off", 0, 0, NULL,
     "the APNs auth key (.p8, from Apple's developer account) to push to iPhones with, or 'off'"},
    {"apns_key_id", T_STR, OFF(apns_key_id), NULL, 0, 0, NULL, "the APNs key's ID (10 characters)"},
    {"apns_team_id", T_STR, OFF(apns_team_id), NULL, 0, 0, NULL, "the Apple developer team ID the key belongs to"},
    {"apns_topic", T_STR, OFF(apns_topic), NULL, 0, 0, NULL, "the iOS app's bundle ID (apns-topic)"},
    {"apns_endpoint", T_STR, OFF(apns_endpoint), "https://api.push.apple.com", 0, 0, NULL,
     "APNs' address (https://api.sandbox.push.apple.com for development builds)"},
    {"vapid_subject", T_STR, OFF(vapid_subject), "mailto:admin@localhost", 0, 0, NULL,
     "who push services may contact about this server's Web Push messages (a mailto: or https: URL)"},
    {"sqlite_sync", T_ENUM, OFF(sqlite_sync), "full", 0, 0, "full|normal",
     "SQLite synchronous mode: full survives power loss, normal only process crashes"},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static const setting_t *find(const char *key, size_t n)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *k = settings[i].key;
        if (strlen(k) != n)
            continue;
        size_t j = 0;
        for (; j < n; j++) {
            char c = key[j] == '-' ? '_' : key[j];
            if (c != k[j])
                break;
        }
        if (j == n)
            return &settings[i];
    }
    return NULL;
}

int config_has_key(const char *key)
{
    return find(key, strlen(key)) != NULL;
}

static int parse_size(const char *v, long long *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*v))
        return -1;
    long long n = strtoll(v, &end, 10);
    if (errno)
        return -1;
    long long mul = 1;
    if (*end) {
        switch (tolower((unsigned char)*end)) {
        case 'k':
            mul = 1LL << 10;
            break;
        case 'm':
            mul = 1LL << 20;
            break;
        case 'g':
            mul = 1LL << 30;
            break;
        default:
            return -1;
        }
        end++;
        if (*end == 'b' || *end == 'B')
            end++;
        if (*end)
            return -1;
    }
    if (n > (1LL << 40) / mul)
        return -1;
    *out = n * mul;
    return 0;
}

/* HOST:PORT (or [V6]:PORT) into *host and *port. */
static int parse_hostport(const char *key, const char *v, char **host, int *port, char *err, size_t errlen)
{
    const char *colon = strrchr(v, ':');
    long long p;
    if (colon == NULL || colon == v || !params_int(colon + 1, 0, 65535, &p)) {
        snprintf(err, errlen, "bad value for %s: '%s' (expected HOST:PORT)", key, v);
        return -1;
    }
    const char *h = v;
    size_t hl = (size_t)(colon - v);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
        h++, hl -= 2;
    free(*host);
    *host = xstrndup(h, hl);
    *port = (int)p;
    return 0;
}

static int parse_listen(config_t *c, const setting_t *s, const char *v, char *err, size_t errlen)
{
    if (s->off == OFF(listen))
        return parse_hostport(s->key, v, &c->listen_host, &c->listen_port, err, errlen);
    /* metrics_listen: off, or an address of its own */
    if (strcmp(v, "off") == 0) {
        free(c->metrics_host);
        c->metrics_host = NULL;
        return 0;
    }
    return parse_hostport(s->key, v, &c->metrics_host, &c->metrics_port, err, errlen);
}

int config_set(config_t *c, const char *key, const char *val, char *err, size_t errlen)
{
    const setting_t *s = find(key, strlen(key));
    if (s == NULL) {
        snprintf(err, errlen, "unknown setting '%s'", key);
        return -1;
    }
    char *base = (char *)c;
    switch (s->kind) {
    case T_INT:
    case T_SIZE: {
        long long v;
        int bad = s->kind == T_INT ? !params_int(val, s->min, s->max, &v) : parse_size(val, &v) != 0;
        if (s->kind == T_SIZE && s->min == 0 && strcasecmp(val, "auto") == 0)
            bad = 0, v = 0; /* sized by config_finish */
        else if (!bad && s->kind == T_SIZE && s->min == 0 && v < 1 << 20)
            bad = 1; /* a size of its own: a megabyte at least */
        if ((bad || v > s->max) && s->kind == T_SIZE && s->min == 0) {
            snprintf(err, errlen, "bad value for %s: '%s' (expected auto, or a size from 1m to %lld)", s->key, val,
                     s->max);
            return -1;
        }
        if (bad || v < s->min || v > s->max) {
            snprintf(err, errlen, "bad value for %s: '%s' (expected %s %lld..%lld)", s->key, val,
                     s->kind == T_INT ? "an integer" : "a size", s->min, s->max);
            return -1;
        }
        *(long long *)(base + s->off) = v;
        return 0;
    }
    case T_ENUM: {
        size_t vl = strlen(val);
        const char *p = s->choices;
        int ok = 0;
        while (*p && !ok) {
            const char *bar = strchr(p, '|');
            size_t l = bar ? (size_t)(bar - p) : strlen(p);
            ok = l == vl && strncasecmp(p, val, l) == 0;
            p += l + (bar != NULL);
        }
        if (!ok) {
            snprintf(err, errlen, "bad value for %s: '%s' (expected one of %s)", s->key, val, s->choices);
            return -1;
        }
        break;
    }
    case T_LISTEN:
        if (parse_listen(c, s, val, err, errlen) != 0)
            return -1;
        break;
    case T_STR:
        if (*val == '\0' && s->def != NULL) {
            snprintf(err, errlen, "bad value for %s: empty", s->key);
            return -1;
        }
        break;
    }
    char **slot = (char **)(base + s->off);
    free(*slot);
    *slot = xstrdup(val);
    return 0;
}

void config_init(config_t *c)
{
    memset(c, 0, sizeof(*c));
    char err[256];
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].def && config_set(c, settings[i].key, settings[i].def, err, sizeof(err)) != 0)
            abort(); /* a bad default is a programming error */
}

void config_free(config_t *c)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        if (settings[i].kind == T_INT || settings[i].kind == T_SIZE)
            continue;
        char **slot = (char **)((char *)c + settings[i].off);
        free(*slot);
    }
    free(c->listen_host);
    free(c->metrics_host);
    memset(c, 0, sizeof(*c));
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int config_load_stream(config_t *c, FILE *f, const char *name, char *err, size_t errlen)
{
    char line[4096], msg[256];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", name, lineno);
            return -1;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        size_t vl = strlen(v);
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0])
            v[vl - 1] = '\0', v++;
        if (config_set(c, k, v, msg, sizeof(msg)) != 0) {
            snprintf(err, errlen, "%s:%d: %s", name, lineno, msg);
            return -1;
        }
    }
    return 0;
}

int config_load_file(config_t *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = config_load_stream(c, f, path, err, errlen);
    fclose(f);
    return rc;
}

int config_load_env(config_t *c, char *const *envp, char *err, size_t errlen)
{
    for (; envp && *envp; envp++) {
        const char *e = *envp;
        if (strncmp(e, "PICOGRAM_", 9) != 0)
            continue;
        const char *eq = strchr(e, '=');
        if (eq == NULL)
            continue;
        char key[64];
        size_t kl = (size_t)(eq - e) - 9;
        if (kl == 0 || kl >= sizeof(key))
            continue;
        for (size_t i = 0; i < kl; i++)
            key[i] = (char)tolower((unsigned char)e[9 + i]);
        key[kl] = '\0';
        if (strcmp(key, "config") == 0 || !config_has_key(key))
            continue; /* PICOGRAM_CONFIG is read by main; other names are not ours */
        char msg[256];
        if (config_set(c, key, eq + 1, msg, sizeof(msg)) != 0) {
            snprintf(err, errlen, "PICOGRAM_%.*s: %s", (int)kl, e + 9, msg);
            return -1;
        }
    }
    return 0;
}

/* An http(s) URL of printable ASCII without quotes or backslashes (it is
 * written into JSON as it is); a trailing slash is dropped. */
static int check_url(const char *key, char *url, char *err, size_t errlen)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        url[--n] = '\0';
    bool ok = strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = url[i] > 0x20 && url[i] < 0x7f && url[i] != '"' && url[i] != '\\';
    if (!ok) {
        snprintf(err, errlen, "bad value for %s: '%s' (expected an http:// or https:// URL)", key, url);
        return -1;
    }
    return 0;
}

/* The memory this process may use: the machine's, or its container's
 * limit (cgroup v2, then v1) when that is lower. */
static long long memory_bytes(void)
{
    long long phys = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    const char *limits[] = {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        FILE *f = fopen(limits[i], "r");
        long long lim = 0;
        if (f == NULL)
            continue;
        if (fscanf(f, "%lld", &lim) == 1 && lim > 0 && (phys <= 0 || lim < phys)) /* "max": no limit */
            phys = lim;
        fclose(f);
        break;
    }
    return phys;
}

/* The web client of an installed binary (PREFIX/bin/picogram) is in
 * PREFIX/share/picogram/web, found from the binary's own path, so that an
 * installed picogram needs no source tree, wherever --prefix and DESTDIR put
 * it; a binary that is not installed (build/picogram) serves the source
 * tree's web/ (PICOGRAM_WEB_ROOT). */
static char *default_web_root(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            buf_t b;
            buf_init(&b, 4096);
            buf_printf(&b, "%s/../share/picogram/web", exe);
            char index[4200];
            snprintf(index, sizeof(index), "%.*s/index.html", (int)b.len, b.data);
            if (access(index, R_OK) == 0)
                return buf_steal(&b, NULL);
            buf_free(&b);
        }
    }
    return xstrdup(PICOGRAM_WEB_ROOT);
}

int config_finish(config_t *c, char *err, size_t errlen)
{
    if (c->cache_size == 0) { /* auto */
        long long m = memory_bytes() / 16;
        c->cache_size = m > 64LL << 20 ? (m < 1LL << 36 ? m : 1LL << 36) : 64LL << 20;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if (c->threads == 0)
        c->threads = cores;
    /* Writes wait on the database's one writer (db/sqlite.c) and for their
     * batch's fsync, which runs beside the next batch: more of them at
     * once make bigger batches, and keep the writer busy during a sync
     * (BENCHMARKS.md, "The WAL's fsync outside the writer's lock"). */
    if (c->workers == 0)
        c->workers = 16 * cores;
    if (c->request_threads == 0)
        c->request_threads = 16 * cores;
    if (c->hash_threads == 0)
        c->hash_threads = cores / 2 > 0 ? cores / 2 : 1;
    if (c->database == NULL || *c->database == '\0') {
        free(c->database);
        buf_t b;
        buf_init(&b, 8192);
        buf_printf(&b, "sqlite:%s/picogram.db", c->data_dir);
        c->database = buf_steal(&b, NULL);
    }
    if (c->public_url == NULL || *c->public_url == '\0') {
        free(c->public_url);
        buf_t b;
        buf_init(&b, 8192);
        buf_printf(&b, "http://%s", c->listen);
        c->public_url = buf_steal(&b, NULL);
    }
    if (c->photo_store == NULL || *c->photo_store == '\0') {
        free(c->photo_store);
        buf_t b;
        buf_init(&b, 8192);
        buf_printf(&b, "file:%s/photos", c->data_dir);
        c->photo_store = buf_steal(&b, NULL);
    }
    if (c->secret_file == NULL || *c->secret_file == '\0') {
        free(c->secret_file);
        buf_t b;
        buf_init(&b, 8192);
        buf_printf(&b, "%s/secret", c->data_dir);
        c->secret_file = buf_steal(&b, NULL);
    }
    if (c->web_root == NULL || *c->web_root == '\0') {
        free(c->web_root);
        c->web_root = default_web_root();
    }
    if (c->photo_url == NULL || *c->photo_url == '\0') {
        free(c->photo_url);
        c->photo_url = xstrdup(c->public_url);
    }
    c->node_number = -1;
    if (strcmp(c->node, "auto") != 0) {
        long long v;
        if (!params_int(c->node, 0, 63, &v)) {
            snprintf(err, errlen, "bad value for node: '%s' (expected auto or 0..63)", c->node);
            return -1;
        }
        c->node_number = (int)v;
    }
    if (c->max_concurrent_uploads == 0)
        c->max_concurrent_uploads = 2 * (int)cores;
    if (check_url("public_url", c->public_url, err, errlen) != 0 ||
        check_url("photo_url", c->photo_url, err, errlen) != 0)
        return -1;
    if (strcmp(c->sentry_dsn, "off") != 0 && *c->sentry_dsn != '\0') {
        char *u = NULL, *k = NULL;
        int bad = sentry_dsn_parse(c->sentry_dsn, &u, &k);
        free(u);
        free(k);
        if (bad) {
            snprintf(err, errlen,
                     "bad value for sentry_dsn: expected http(s)://KEY@HOST[:PORT][/PATH]/PROJECT_ID or off");
            return -1;
        }
    }
    if (c->max_body > c->max_upload) {
        snprintf(err, errlen, "max_body (%lld) may not exceed max_upload (%lld)", c->max_body, c->max_upload);
        return -1;
    }
    log_level = log_level_parse(c->log_level);
    log_json = strcasecmp(c->log_format, "json") == 0;
    return 0;
}

void config_usage(FILE *out)
{
    fprintf(out, "Settings (file key, PICOGRAM_KEY in the environment, or --key on the command line):\n");
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *s = &settings[i];
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", s->key);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  %-22s %s", flag, s->help);
        if (s->def)
            fprintf(out, " [%s]", s->def);
        fputc('\n', out);
    }
}

void config_roff(FILE *out, const char *t)
{
    if (*t == '.' || *t == '\'')
        fputs("\\&", out);
    for (; *t; t++) {
        if (*t == '\\')
            fputs("\\e", out);
        else if (*t == '-')
            fputs("\\-", out);
        else
            fputc(*t, out);
    }
}

void config_man(FILE *out, bool as_flags)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting_t *s = &settings[i];
        fputs(".TP\n", out);
        if (as_flags) {
            fputs("\\fB\\-\\-", out);
            for (const char *k = s->key; *k; k++) {
                if (*k == '_')
                    fputs("\\-", out);
                else
                    fputc(*k, out);
            }
            fputs("\\fR \\fIVALUE\\fR\n", out);
        } else {
            fputs("\\fB", out);
            config_roff(out, s->key);
            fputs("\\fR = \\fIVALUE\\fR\n", out);
        }
        config_roff(out, s->help);
        fputc('\n', out);
        if (s->choices) {
            fputs(".br\nOne of: ", out);
            config_roff(out, s->choices);
            fputc('\n', out);
        }
        if (s->def) {
            fputs(".br\nDefault: \\fB", out);
            config_roff(out, s->def);
            fputs("\\fR\n", out);
        }
    }
}
