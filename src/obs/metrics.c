#include "obs/metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* The methods counted apart; any other is "other". */
static const char *const methods[] = {"GET", "HEAD", "POST", "DELETE", "other"};
#define NMETH (sizeof(methods) / sizeof(methods[0]))

/* The status codes counted apart; any other is "other". */
static const int codes[] = {200, 201, 202, 204, 206, 301, 302, 304, 307, 400, 401, 403, 404,
                            405, 409, 410, 413, 415, 416, 422, 429, 500, 502, 503, 504};
#define NCODES (sizeof(codes) / sizeof(codes[0]) + 1)

/* Latency buckets' upper bounds, in microseconds and as their labels. */
static const uint64_t bounds_us[] = {500,    1000,   2500,   5000,    10000,   25000,   50000,
                                     100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
static const char *const bounds_label[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                           "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10"};
#define NB (sizeof(bounds_us) / sizeof(bounds_us[0]))

typedef _Atomic uint64_t counter_t;

/* One route and method's numbers in one slot. */
typedef struct cell {
    counter_t codes[NCODES];
    counter_t buckets[NB + 1]; /* not cumulative; the last is over the last bound */
    counter_t sum_us;
} cell_t;

typedef struct slot {
    counter_t begun, ended;
    cell_t cells[]; /* [route][method] */
} slot_t;

struct metrics {
    int nslots;
    size_t nroutes;
    const char **routes; /* the strings are the caller's */
    slot_t **slots;
    counter_t refused;
    time_t started;
};

static unsigned char code_index[600]; /* status -> index into codes + 1; 0: other */

static void index_codes(void)
{
    for (size_t i = 0; i < NCODES - 1; i++)
        code_index[codes[i]] = (unsigned char)(i + 1);
}

static inline void add(counter_t *c, uint64_t v)
{
    /* one writer per slot: a plain load and store, never a locked add;
     * atomic so that a scrape's read is not a data race */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static inline uint64_t get(counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

metrics_t *metrics_new(int nslots, const char *const *routes, size_t nroutes)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, index_codes);
    metrics_t *m = xcalloc(1, sizeof(*m));
    m->nslots = nslots;
    m->nroutes = nroutes;
    m->routes = xcalloc(nroutes ? nroutes : 1, sizeof(*routes));
    memcpy(m->routes, routes, nroutes * sizeof(*routes));
    m->slots = xcalloc((size_t)nslots, sizeof(*m->slots));
    size_t bytes = sizeof(slot_t) + nroutes * NMETH * sizeof(cell_t);
    bytes = (bytes + 63) & ~(size_t)63;
    for (int i = 0; i < nslots; i++) {
        /* cache-line aligned: no two slots share a line */
        m->slots[i] = aligned_alloc(64, bytes);
        if (m->slots[i] == NULL)
            abort();
        memset(m->slots[i], 0, bytes);
    }
    m->started = time(NULL);
    return m;
}

void metrics_free(metrics_t *m)
{
    if (m == NULL)
        return;
    for (int i = 0; i < m->nslots; i++)
        free(m->slots[i]);
    free(m->slots);
    free(m->routes);
    free(m);
}

void metrics_begin(metrics_t *m, int slot)
{
    add(&m->slots[slot]->begun, 1);
}

void metrics_end(metrics_t *m, int slot)
{
    add(&m->slots[slot]->ended, 1);
}

static size_t method_index(const char *method, size_t mlen)
{
    for (size_t i = 0; i < NMETH - 1; i++)
        if (strlen(methods[i]) == mlen && memcmp(methods[i], method, mlen) == 0)
            return i;
    return NMETH - 1;
}

void metrics_request(metrics_t *m, int slot, size_t route, const char *method, size_t mlen, int status, uint64_t micros)
{
    if (route >= m->nroutes || slot < 0 || slot >= m->nslots)
        return;
    cell_t *c = &m->slots[slot]->cells[route * NMETH + method_index(method, mlen)];
    add(&c->codes[status >= 100 && status < 600 ? code_index[status] : 0], 1);
    size_t b = 0;
    while (b < NB && micros > bounds_us[b])
        b++;
    add(&c->buckets[b], 1);
    add(&c->sum_us, micros);
}

void metrics_refused(metrics_t *m)
{
    atomic_fetch_add_explicit(&m->refused, 1, memory_order_relaxed);
}

/* ---- rendering ---- */

void metrics_label_value(buf_t *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_putc(out, '\\'), buf_putc(out, *s);
        else if (*s == '\n')
            buf_puts(out, "\\n");
        else
            buf_putc(out, *s);
    }
}

void metrics_family(buf_t *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void line_start(buf_t *out, const char *name, const char *labels)
{
    buf_puts(out, name);
    if (labels && *labels)
        buf_printf(out, "{%s}", labels);
    buf_putc(out, ' ');
}

void metrics_line(buf_t *out, const char *name, const char *labels, double value)
{
    line_start(out, name, labels);
    buf_printf(out, "%.9g\n", value);
}

void metrics_line_u64(buf_t *out, const char *name, const char *labels, uint64_t value)
{
    line_start(out, name, labels);
    buf_u64(out, value);
    buf_putc(out, '\n');
}

/* route="...",method="..." into out */
static void route_labels(buf_t *out, const metrics_t *m, size_t r, size_t meth)
{
    buf_puts(out, "route=\"");
    metrics_label_value(out, m->routes[r]);
    buf_printf(out, "\",method=\"%s\"", methods[meth]);
}

static uint64_t sum_slots(metrics_t *m, size_t cell, size_t which, int what)
{
    uint64_t n = 0;
    for (int s = 0; s < m->nslots; s++) {
        cell_t *c = &m->slots[s]->cells[cell];
        n += get(what == 0 ? &c->codes[which] : what == 1 ? &c->buckets[which] : &c->sum_us);
    }
    return n;
}

static void render_requests(metrics_t *m, buf_t *out, buf_t *labels)
{
    metrics_family(out, "picogram_http_requests_total", "counter",
                   "Requests answered, by route, method and status code.");
    for (size_t r = 0; r < m->nroutes; r++)
        for (size_t meth = 0; meth < NMETH; meth++)
            for (size_t k = 0; k < NCODES; k++) {
                uint64_t n = sum_slots(m, r * NMETH + meth, k, 0);
                if (n == 0)
                    continue;
                buf_reset(labels);
                route_labels(labels, m, r, meth);
                if (k == 0)
                    buf_puts(labels, ",code=\"other\"");
                else
                    buf_printf(labels, ",code=\"%d\"", codes[k - 1]);
                buf_putc(labels, '\0');
                metrics_line_u64(out, "picogram_http_requests_total", labels->data, n);
            }
}

static void render_latency(metrics_t *m, buf_t *out, buf_t *labels)
{
    static const char name[] = "picogram_http_request_duration_seconds";
    metrics_family(out, name, "histogram", "Time from a request's start to its answer, by route and method.");
    for (size_t r = 0; r < m->nroutes; r++)
        for (size_t meth = 0; meth < NMETH; meth++) {
            size_t cell = r * NMETH + meth;
            uint64_t b[NB + 1], total = 0;
            for (size_t k = 0; k <= NB; k++)
                total += b[k] = sum_slots(m, cell, k, 1);
            if (total == 0)
                continue;
            uint64_t sum_us = sum_slots(m, cell, 0, 2);
            uint64_t cum = 0;
            for (size_t k = 0; k <= NB; k++) {
                cum += b[k];
                buf_reset(labels);
                route_labels(labels, m, r, meth);
                buf_printf(labels, ",le=\"%s\"", k < NB ? bounds_label[k] : "+Inf");
                buf_putc(labels, '\0');
                metrics_line_u64(out, "picogram_http_request_duration_seconds_bucket", labels->data, cum);
            }
            buf_reset(labels);
            route_labels(labels, m, r, meth);
            buf_putc(labels, '\0');
            line_start(out, "picogram_http_request_duration_seconds_sum", labels->data);
            buf_printf(out, "%" PRIu64 ".%06" PRIu64 "\n", sum_us / 1000000, sum_us % 1000000);
            metrics_line_u64(out, "picogram_http_request_duration_seconds_count", labels->data, total);
        }
}

void metrics_render(metrics_t *m, buf_t *out)
{
    buf_t labels;
    buf_init(&labels, 4096);
    render_requests(m, out, &labels);
    render_latency(m, out, &labels);
    buf_free(&labels);
    uint64_t ended = 0, begun = 0; /* ended first: never more than begun */
    for (int s = 0; s < m->nslots; s++)
        ended += get(&m->slots[s]->ended);
    for (int s = 0; s < m->nslots; s++)
        begun += get(&m->slots[s]->begun);
    metrics_family(out, "picogram_http_requests_in_flight", "gauge", "API requests begun and not yet done.");
    metrics_line_u64(out, "picogram_http_requests_in_flight", "", begun - ended);
    metrics_family(out, "picogram_ratelimit_refusals_total", "counter",
                   "Requests refused (429) because their token or address was over the rate limit.");
    metrics_line_u64(out, "picogram_ratelimit_refusals_total", "", get(&m->refused));
    metrics_family(out, "process_start_time_seconds", "gauge", "When the process started, in unix seconds.");
    metrics_line_u64(out, "process_start_time_seconds", "", (uint64_t)m->started);
}

void metrics_process(buf_t *out)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long vsz = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%llu %llu", &vsz, &rss) != 2)
            vsz = rss = 0;
        fclose(f);
    }
    metrics_family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    metrics_line_u64(out, "process_resident_memory_bytes", "", rss * (unsigned long long)page);
    metrics_family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    metrics_line_u64(out, "process_virtual_memory_bytes", "", vsz * (unsigned long long)page);
    uint64_t fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            fds += e->d_name[0] != '.';
        closedir(d);
        fds -= fds > 0; /* the directory's own descriptor */
    }
    metrics_family(out, "process_open_fds", "gauge", "Open file descriptors.");
    metrics_line_u64(out, "process_open_fds", "", fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        metrics_family(out, "process_max_fds", "gauge", "Most open file descriptors allowed.");
        metrics_line_u64(out, "process_max_fds", "", (uint64_t)rl.rlim_cur);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                     ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
        metrics_family(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
        metrics_line(out, "process_cpu_seconds_total", "", cpu);
    }
}
