/* Errors and crashes to a Sentry-compatible endpoint: see sentry.h. */
#include "obs/sentry.h"
#include "core/buf.h"
#include "obs/log.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RELEASE "picogram@0.1.0"

typedef struct item {
    char *envelope;
    char *crash_file; /* removed once the endpoint took it, or NULL */
} item_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    atomic_bool on;
    bool stopping;
    int64_t stop_by_ms; /* once stopping: sending ends then, sent or not */
    char *url, *auth;
    item_t q[SENTRY_QUEUE];
    int head, n;
    double tokens;
    int64_t refilled_ms, pause_until_ms;
    uint64_t sent, dropped, dropped_told;
    char host[256], role[16];
} s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hex_id(char out[33])
{
    unsigned char r[16];
    randombytes_buf(r, sizeof(r));
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static void put_field(buf_t *b, const char *name, const char *val)
{
    buf_printf(b, ",\"%s\":", name);
    buf_json_cstr(b, val);
}

/* An envelope of one event. */
static char *make_envelope(const char *level, const char *message, const char *route, const char *method,
                           const char *request_id, double at, uint64_t dropped)
{
    char id[33];
    hex_id(id);
    buf_t ev;
    buf_init(&ev, 64 << 10);
    buf_printf(&ev, "{\"event_id\":\"%s\",\"timestamp\":%.3f,\"platform\":\"c\"", id, at);
    put_field(&ev, "level", level);
    put_field(&ev, "logger", "picogram");
    put_field(&ev, "release", RELEASE);
    put_field(&ev, "server_name", s.host);
    buf_puts(&ev, ",\"message\":{\"formatted\":");
    buf_json_cstr(&ev, message);
    buf_puts(&ev, "}");
    if (route) {
        char tr[512];
        snprintf(tr, sizeof(tr), "%s %s", method ? method : "", route);
        put_field(&ev, "transaction", tr);
    }
    buf_puts(&ev, ",\"tags\":{\"role\":");
    buf_json_cstr(&ev, s.role);
    if (route) {
        buf_puts(&ev, ",\"route\":");
        buf_json_cstr(&ev, route);
    }
    if (method) {
        buf_puts(&ev, ",\"method\":");
        buf_json_cstr(&ev, method);
    }
    if (request_id) {
        buf_puts(&ev, ",\"request_id\":");
        buf_json_cstr(&ev, request_id);
    }
    buf_puts(&ev, "}");
    if (dropped)
        buf_printf(&ev, ",\"extra\":{\"events_dropped_before\":%llu}", (unsigned long long)dropped);
    buf_puts(&ev, "}");
    buf_t env;
    buf_init(&env, 64 << 10);
    time_t t = (time_t)at;
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_printf(&env, "{\"event_id\":\"%s\",\"sent_at\":\"%s\",\"sdk\":{\"name\":\"picogram\",\"version\":\"0.1.0\"}}\n",
               id, when);
    buf_printf(&env, "{\"type\":\"event\",\"length\":%zu}\n", ev.len);
    buf_append(&env, ev.data, ev.len);
    buf_putc(&env, '\n');
    buf_free(&ev);
    return buf_steal(&env, NULL);
}

/* Under s.mu. */
static bool push(char *envelope, char *crash_file)
{
    if (s.n == SENTRY_QUEUE || s.stopping) {
        free(envelope);
        free(crash_file);
        s.dropped++;
        return false;
    }
    s.q[(s.head + s.n) % SENTRY_QUEUE] = (item_t){envelope, crash_file};
    s.n++;
    pthread_cond_signal(&s.cv);
    return true;
}

void sentry_report(const char *level, const char *message, const char *route, const char *method,
                   const char *request_id)
{
    if (!atomic_load(&s.on))
        return;
    int64_t now = now_ms();
    pthread_mutex_lock(&s.mu);
    s.tokens += (double)(now - s.refilled_ms) / SENTRY_REFILL_MS;
    if (s.tokens > SENTRY_BURST)
        s.tokens = SENTRY_BURST;
    s.refilled_ms = now;
    if (s.tokens < 1 || s.n == SENTRY_QUEUE) {
        s.dropped++;
        pthread_mutex_unlock(&s.mu);
        return;
    }
    s.tokens -= 1;
    uint64_t untold = s.dropped - s.dropped_told;
    s.dropped_told = s.dropped;
    pthread_mutex_unlock(&s.mu);
    char *env = make_envelope(level, message, route, method, request_id, (double)now / 1000, untold);
    pthread_mutex_lock(&s.mu);
    push(env, NULL);
    pthread_mutex_unlock(&s.mu);
}

static size_t header_line(char *p, size_t size, size_t n, void *arg)
{
    int64_t *retry_after = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0)
        *retry_after = atoll(p + 12);
    return len;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    return size * n;
}

/* One POST: its HTTP status, or 0 if it did not get one. */
static long post(CURL *c, const char *body, int64_t *retry_after)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-sentry-envelope");
    h = curl_slist_append(h, s.auth);
    curl_easy_setopt(c, CURLOPT_URL, s.url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_line);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, retry_after);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return status;
}

static void *sender(void *arg)
{
    CURL *c = curl_easy_init();
    pthread_mutex_lock(&s.mu);
    for (;;) {
        while (s.n == 0 && !s.stopping)
            pthread_cond_wait(&s.cv, &s.mu);
        if (s.n == 0 || (s.stopping && now_ms() > s.stop_by_ms))
            break; /* stopping, and nothing left (or no more time) */
        int64_t wait = s.pause_until_ms - now_ms();
        if (wait > 0 && !s.stopping) { /* the endpoint asked for a pause */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += wait / 1000 + 1;
            pthread_cond_timedwait(&s.cv, &s.mu, &until);
            continue;
        }
        item_t it = s.q[s.head];
        s.head = (s.head + 1) % SENTRY_QUEUE;
        s.n--;
        pthread_mutex_unlock(&s.mu);
        int64_t retry_after = 0;
        long status = c ? post(c, it.envelope, &retry_after) : 0;
        pthread_mutex_lock(&s.mu);
        if (status >= 200 && status < 300) {
            s.sent++;
            if (it.crash_file)
                unlink(it.crash_file);
        } else {
            s.dropped++;
            if (status == 429)
                s.pause_until_ms = now_ms() + (retry_after > 0 ? retry_after : 60) * 1000;
            log_warn("sentry: the endpoint did not take an event (HTTP %ld)%s", status,
                     it.crash_file ? "; the crash report stays for the next start" : "");
        }
        free(it.envelope);
        free(it.crash_file);
        if (s.stopping && (s.pause_until_ms > now_ms() || now_ms() > s.stop_by_ms))
            break;
    }
    pthread_mutex_unlock(&s.mu);
    curl_easy_cleanup(c);
    return NULL;
}

/* ---- crashes ---- */

#define CRASH_SIGNALS 5
static const int crash_sigs[CRASH_SIGNALS] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
static const char *const crash_names[CRASH_SIGNALS] = {"SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT"};
static struct sigaction crash_old[CRASH_SIGNALS];
static char crash_dir[1024];
static char crash_tail[512]; /* the report's constant end: ,"release":...} */

static size_t put_u64(char *p, uint64_t v)
{
    char t[24];
    size_t n = 0;
    do
        t[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    for (size_t i = 0; i < n; i++)
        p[i] = t[n - 1 - i];
    return n;
}

static size_t put_str(char *p, const char *s_)
{
    size_t n = strlen(s_);
    memcpy(p, s_, n);
    return n;
}

/* Async-signal-safe only: open, write, close, clock_gettime, getpid, sigaction, raise. */
static void on_crash(int sig)
{
    int k = 0;
    while (k < CRASH_SIGNALS && crash_sigs[k] != sig)
        k++;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char path[1200], body[1024];
    size_t n = put_str(path, crash_dir);
    n += put_str(path + n, "/crash-");
    n += put_u64(path + n, (uint64_t)ts.tv_sec);
    path[n++] = '-';
    n += put_u64(path + n, (uint64_t)getpid());
    n += put_str(path + n, ".json");
    path[n] = '\0';
    size_t b = put_str(body, "{\"signal\":\"");
    b += put_str(body + b, k < CRASH_SIGNALS ? crash_names[k] : "?");
    b += put_str(body + b, "\",\"time\":");
    b += put_u64(body + b, (uint64_t)ts.tv_sec);
    b += put_str(body + b, crash_tail);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        ssize_t w = write(fd, body, b);
        (void)w;
        close(fd);
    }
    if (k < CRASH_SIGNALS)
        sigaction(sig, &crash_old[k], NULL); /* the handler before ours: a sanitizer's, or the default */
    raise(sig);
}

void sentry_crash_handlers(const char *data_dir)
{
    snprintf(crash_dir, sizeof(crash_dir), "%s/crash", data_dir);
    mkdir(crash_dir, 0700);
    if (s.host[0] == '\0')
        gethostname(s.host, sizeof(s.host) - 1);
    buf_t t;
    buf_init(&t, sizeof(crash_tail));
    buf_printf(&t, ",\"pid\":%ld,\"release\":\"%s\",\"role\":", (long)getpid(), RELEASE);
    buf_json_cstr(&t, s.role[0] ? s.role : "serve");
    buf_puts(&t, "}\n");
    snprintf(crash_tail, sizeof(crash_tail), "%.*s", (int)t.len, t.data);
    buf_free(&t);
    for (int k = 0; k < CRASH_SIGNALS; k++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_crash;
        sigemptyset(&sa.sa_mask);
        sigaction(crash_sigs[k], &sa, &crash_old[k]);
    }
}

/* The reports a crash left, queued as fatal events. */
static void queue_crashes(const char *data_dir)
{
    char dir[1100];
    snprintf(dir, sizeof(dir), "%s/crash", data_dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "crash-", 6) != 0 || l < 5 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        char path[1400], text[1024] = "";
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t got = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[got] = '\0';
        char sig[16] = "?", role[16] = "";
        long long at = 0, pid = 0;
        const char *p = strstr(text, "\"signal\":\"");
        if (p)
            sscanf(p + 10, "%15[A-Z?]", sig);
        if ((p = strstr(text, "\"time\":")) != NULL)
            at = atoll(p + 7);
        if ((p = strstr(text, "\"pid\":")) != NULL)
            pid = atoll(p + 6);
        if ((p = strstr(text, "\"role\":\"")) != NULL)
            sscanf(p + 8, "%15[a-z]", role);
        char msg[256];
        snprintf(msg, sizeof(msg), "picogram %s (pid %lld) crashed: %s", role[0] ? role : "process", pid, sig);
        char *env = make_envelope("fatal", msg, NULL, NULL, NULL, at > 0 ? (double)at : (double)now_ms() / 1000, 0);
        pthread_mutex_lock(&s.mu);
        push(env, xstrdup(path));
        pthread_mutex_unlock(&s.mu);
    }
    closedir(d);
}

int sentry_start(const char *dsn, const char *data_dir, const char *role, char *err, size_t errlen)
{
    snprintf(s.role, sizeof(s.role), "%s", role);
    gethostname(s.host, sizeof(s.host) - 1);
    if (dsn == NULL || *dsn == '\0' || strcmp(dsn, "off") == 0)
        return 0;
    char *key = NULL;
    if (sentry_dsn_parse(dsn, &s.url, &key) != 0) {
        snprintf(err, errlen, "bad value for sentry_dsn: expected http(s)://KEY@HOST[:PORT][/PATH]/PROJECT_ID");
        return -1;
    }
    buf_t a;
    buf_init(&a, 1024);
    buf_printf(&a, "X-Sentry-Auth: Sentry sentry_version=7, sentry_client=picogram/0.1.0, sentry_key=%s", key);
    s.auth = buf_steal(&a, NULL);
    free(key);
    s.tokens = SENTRY_BURST;
    s.refilled_ms = now_ms();
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before the sender thread (counted: the S3 store's is another) */
    atomic_store(&s.on, true);
    queue_crashes(data_dir);
    if (pthread_create(&s.thread, NULL, sender, NULL) != 0) {
        atomic_store(&s.on, false);
        snprintf(err, errlen, "cannot start the sentry thread");
        return -1;
    }
    log_info("errors and crashes are reported to %s", s.url);
    return 0;
}

void sentry_stop(void)
{
    if (!atomic_load(&s.on))
        return;
    pthread_mutex_lock(&s.mu);
    s.stopping = true;
    s.stop_by_ms = now_ms() + 2000;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    pthread_join(s.thread, NULL);
    pthread_mutex_lock(&s.mu);
    while (s.n > 0) { /* not sent: crash reports stay on disk */
        item_t it = s.q[s.head];
        s.head = (s.head + 1) % SENTRY_QUEUE;
        s.n--;
        free(it.envelope);
        free(it.crash_file);
    }
    atomic_store(&s.on, false);
    pthread_mutex_unlock(&s.mu);
    free(s.url);
    free(s.auth);
    s.url = s.auth = NULL;
    curl_global_cleanup();
}

void sentry_counts(uint64_t *sent, uint64_t *dropped)
{
    pthread_mutex_lock(&s.mu);
    *sent = s.sent;
    *dropped = s.dropped;
    pthread_mutex_unlock(&s.mu);
}
