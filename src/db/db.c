#include "db/db.h"
#include "core/buf.h"
#include "core/ids.h"
#include "obs/log.h"

#include <sodium.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_Q_SQL(name, sql) sql,
#define DB_Q_NAME(name, sql) #name,
const char *const db_query_sql[Q__COUNT] = {DB_QUERIES(DB_Q_SQL)};
const char *const db_query_name[Q__COUNT] = {DB_QUERIES(DB_Q_NAME)};

int db_lock(db_conn_t *c, const char *what, int64_t a, int64_t b)
{
    crypto_generichash_state st;
    unsigned char h[8];
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)what, strlen(what) + 1);
    crypto_generichash_update(&st, (const unsigned char *)&a, 8);
    crypto_generichash_update(&st, (const unsigned char *)&b, 8);
    crypto_generichash_final(&st, h, sizeof(h));
    int64_t key;
    memcpy(&key, h, 8);
    return c->drv->lock(c, key);
}

void db_bind_cstr(db_stmt_t *s, int i, const char *p)
{
    s->drv->bind_text(s, i, p, strlen(p));
}

void db_col_copy(db_stmt_t *s, int col, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = db_col_text(s, col, &n);
    if (p == NULL)
        n = 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, p, n);
    out[n] = '\0';
}

int db_read_id_pairs(db_stmt_t *s, int limit, int64_t *a, int64_t *b, int *n)
{
    int rc = DB_DONE;
    *n = 0;
    while (*n < limit && (rc = db_step(s)) == DB_ROW) {
        a[*n] = db_col_i64(s, 0);
        if (b)
            b[*n] = db_col_i64(s, 1);
        (*n)++;
    }
    db_reset(s);
    return rc == DB_ERROR ? DB_ERROR : DB_DONE;
}

int db_read_ids(db_stmt_t *s, int limit, int64_t *out, int *n)
{
    return db_read_id_pairs(s, limit, out, NULL, n);
}

int db_exec_stmt(db_stmt_t *s)
{
    int rc = db_step(s);
    db_reset(s);
    return rc == DB_ROW ? DB_DONE : rc;
}

static const db_driver_t *const drivers[] = {&db_driver_sqlite, &db_driver_postgres};

const db_driver_t *db_driver_for(const char *url, const char **target)
{
    const char *colon = strchr(url, ':');
    if (colon == NULL)
        return NULL;
    size_t n = (size_t)(colon - url);
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
        if (strlen(drivers[i]->scheme) == n && memcmp(drivers[i]->scheme, url, n) == 0) {
            *target = colon + 1;
            return drivers[i];
        }
    }
    return NULL;
}

/* --- shard map --- */

typedef struct range {
    unsigned lo, hi;
    size_t db; /* index into urls */
} range_t;

/* The map changes while servers run (a logical shard moved: dbmap_apply):
 * its URLs are only ever appended (an index names one database for the
 * process's life) and each shard's database is swapped alone, so a
 * reader sees every shard either where it was or where it went. */
struct dbmap {
    char *urls[DBMAP_MAX_URLS];
    _Atomic size_t nurls;
    unsigned nshards; /* logical shards in use */
    char *sync;
    _Atomic uint16_t shard_db[IDS_NSHARDS]; /* logical shard -> physical database */
    _Atomic int64_t epoch;                  /* of the map in the database (shard_maps); 0: the settings' */
    pthread_mutex_t lock;                   /* one writer */
};

/* The index of url (n bytes) in m, appended if new; -1 past DBMAP_MAX_URLS. */
static long add_url(dbmap_t *m, const char *url, size_t n)
{
    size_t k = atomic_load(&m->nurls);
    for (size_t i = 0; i < k; i++)
        if (strlen(m->urls[i]) == n && memcmp(m->urls[i], url, n) == 0)
            return (long)i;
    if (k == DBMAP_MAX_URLS)
        return -1;
    m->urls[k] = xstrndup(url, n);
    atomic_store(&m->nurls, k + 1); /* (release: the URL is there before its index is) */
    return (long)k;
}

static int check_url(const char *url, char *err, size_t errlen)
{
    const char *target;
    if (db_driver_for(url, &target) == NULL) {
        snprintf(err, errlen,
                 "bad value for database: '%s' (no driver for this URL; supported: sqlite:PATH, "
                 "postgres://USER@HOST:PORT/DB)",
                 url);
        return -1;
    }
    if (*target == '\0') {
        snprintf(err, errlen, "bad value for database: '%s' (no path)", url);
        return -1;
    }
    return 0;
}

dbmap_t *dbmap_new(const char *spec, const char *sync, char *err, size_t errlen)
{
    dbmap_t *m = xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->sync = xstrdup(sync);
    m->nshards = IDS_NSHARDS;
    if (strchr(spec, '=') == NULL) {
        add_url(m, spec, strlen(spec));
        if (check_url(m->urls[0], err, errlen) != 0)
            goto fail;
        return m; /* shard_db is all zeros: every shard on database 0 */
    }
    unsigned char seen[IDS_NSHARDS] = {0};
    const char *p = spec;
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        unsigned lo, hi;
        int used = 0;
        if (sscanf(p, "%u-%u=%n", &lo, &hi, &used) != 2 || used == 0 || lo > hi || hi >= IDS_NSHARDS ||
            (size_t)used >= len) {
            snprintf(err, errlen, "bad value for database: '%.*s' (expected LO-HI=URL with 0 <= LO <= HI <= 8191)",
                     (int)len, p);
            goto fail;
        }
        long db = add_url(m, p + used, len - (size_t)used);
        if (db < 0) {
            snprintf(err, errlen, "bad value for database: more than %d databases", DBMAP_MAX_URLS);
            goto fail;
        }
        if (check_url(m->urls[db], err, errlen) != 0)
            goto fail;
        for (unsigned s = lo; s <= hi; s++) {
            if (seen[s]++) {
                snprintf(err, errlen, "bad value for database: logical shard %u is mapped twice", s);
                goto fail;
            }
            m->shard_db[s] = (uint16_t)db;
        }
        p += len + (semi != NULL);
    }
    for (unsigned s = 0; s < IDS_NSHARDS; s++) {
        if (!seen[s]) {
            snprintf(err, errlen, "bad value for database: logical shard %u is not mapped", s);
            goto fail;
        }
    }
    return m;
fail:
    dbmap_free(m);
    return NULL;
}

int dbmap_apply(dbmap_t *m, const char *spec, int64_t epoch, char *err, size_t errlen)
{
    dbmap_t *n = dbmap_new(spec, m->sync, err, errlen);
    if (n == NULL)
        return -1;
    pthread_mutex_lock(&m->lock);
    int rc = 0;
    long idx[DBMAP_MAX_URLS];
    for (size_t i = 0; rc == 0 && i < n->nurls; i++)
        if ((idx[i] = add_url(m, n->urls[i], strlen(n->urls[i]))) < 0) {
            snprintf(err, errlen, "more than %d databases", DBMAP_MAX_URLS);
            rc = -1;
        }
    for (unsigned s = 0; rc == 0 && s < IDS_NSHARDS; s++)
        atomic_store(&m->shard_db[s], (uint16_t)idx[n->shard_db[s]]);
    if (rc == 0)
        atomic_store(&m->epoch, epoch);
    pthread_mutex_unlock(&m->lock);
    dbmap_free(n);
    return rc;
}

int64_t dbmap_epoch(const dbmap_t *m)
{
    return atomic_load(&m->epoch);
}

size_t dbmap_db_of(const dbmap_t *m, unsigned shard)
{
    /* acquire: the URL of an index a dbmap_apply added is there before the index is */
    return atomic_load_explicit(&m->shard_db[shard & (IDS_NSHARDS - 1)], memory_order_acquire);
}

/* The URL of shard s in m, or url for the shards lo..hi. */
static const char *url_moved(const dbmap_t *m, unsigned s, unsigned lo, unsigned hi, const char *url)
{
    return s >= lo && s <= hi ? url : m->urls[dbmap_db_of(m, s)];
}

char *dbmap_spec_moved(const dbmap_t *m, unsigned lo, unsigned hi, const char *url)
{
    buf_t b;
    buf_init(&b, 1u << 20);
    for (unsigned s = 0; s < IDS_NSHARDS;) {
        const char *at = url_moved(m, s, lo, hi, url);
        unsigned e = s;
        while (e + 1 < IDS_NSHARDS && strcmp(url_moved(m, e + 1, lo, hi, url), at) == 0)
            e++;
        buf_printf(&b, "%s%u-%u=%s", s ? ";" : "", s, e, at);
        s = e + 1;
    }
    return buf_steal(&b, NULL);
}

void dbmap_free(dbmap_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nurls; i++)
        free(m->urls[i]);
    free(m->sync);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

size_t dbmap_count(const dbmap_t *m)
{
    return m->nurls;
}

bool dbmap_range(const dbmap_t *m, size_t i, unsigned *lo, unsigned *hi, size_t *db)
{
    size_t k = 0;
    for (unsigned s = 0; s < IDS_NSHARDS;) {
        unsigned e = s;
        while (e + 1 < IDS_NSHARDS && dbmap_db_of(m, e + 1) == dbmap_db_of(m, s))
            e++;
        if (k++ == i) {
            *lo = s, *hi = e, *db = dbmap_db_of(m, s);
            return true;
        }
        s = e + 1;
    }
    return false;
}

bool dbmap_blocking(const dbmap_t *m)
{
    for (size_t i = 0; i < m->nurls; i++) {
        const char *target;
        if (db_driver_for(m->urls[i], &target)->remote)
            return true;
    }
    return false;
}

const char *dbmap_url(const dbmap_t *m, size_t i)
{
    return m->urls[i];
}

/* --- per-thread connections --- */

struct db_ctx {
    const dbmap_t *map;
    db_conn_t **conns; /* one per physical database, opened lazily */
    bool reading;      /* in a request's read scope: read transactions begin on first use */
    bool forbidden;    /* an event loop's, with networked databases: no connection at all */
    bool would_block;  /* a connection was asked of a forbidden context */
    bool *began;       /* per database: a read transaction is open */
};

db_ctx_t *db_ctx_new(const dbmap_t *m)
{
    db_ctx_t *x = xcalloc(1, sizeof(*x));
    x->map = m;
    x->conns = xcalloc(DBMAP_MAX_URLS, sizeof(db_conn_t *)); /* room for databases added while it lives */
    x->began = xcalloc(DBMAP_MAX_URLS, sizeof(bool));
    return x;
}

void db_ctx_free(db_ctx_t *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->map->nurls; i++)
        if (x->conns[i])
            x->conns[i]->drv->close(x->conns[i]);
    free(x->conns);
    free(x->began);
    free(x);
}

void db_ctx_read_begin(db_ctx_t *x)
{
    x->reading = true;
}

void db_ctx_read_end(db_ctx_t *x)
{
    db_ctx_release(x);
    x->reading = false;
    for (size_t i = 0; i < x->map->nurls; i++) {
        if (x->began[i] && x->conns[i])
            x->conns[i]->drv->rollback(x->conns[i]); /* nothing was written: ending the snapshot is all */
        x->began[i] = false;
    }
}

void db_ctx_release(db_ctx_t *x)
{
    for (size_t i = 0; i < x->map->nurls; i++)
        if (x->conns[i])
            x->conns[i]->drv->release(x->conns[i]);
}

size_t db_count(const db_ctx_t *x)
{
    return x->map->nurls;
}

void db_ctx_forbid(db_ctx_t *x)
{
    x->forbidden = true;
}

bool db_ctx_would_block(db_ctx_t *x)
{
    return x->would_block;
}

bool db_ctx_may_block(db_ctx_t *x)
{
    if (x->forbidden)
        x->would_block = true;
    return !x->forbidden;
}

void db_ctx_clear_would_block(db_ctx_t *x)
{
    x->would_block = false;
}

db_conn_t *db_physical(db_ctx_t *x, size_t i)
{
    if (!db_ctx_may_block(x))
        return NULL;
    if (x->conns[i] == NULL) {
        const char *target;
        const db_driver_t *drv = db_driver_for(x->map->urls[i], &target);
        char err[256];
        if (drv->open(target, x->map->sync, &x->conns[i], err, sizeof(err)) != 0) {
            log_error("database %s: %s", x->map->urls[i], err);
            return NULL;
        }
        x->conns[i]->phys = (uint32_t)i;
    }
    db_conn_t *c = x->conns[i];
    if (x->reading && !x->began[i] && c->drv->snapshot) {
        x->began[i] = true;
        db_exec_stmt(db_q(c, Q_BEGIN_READ));
    }
    return c;
}

db_conn_t *db_shard(db_ctx_t *x, unsigned shard)
{
    return db_physical(x, dbmap_db_of(x->map, shard));
}

unsigned db_shards(const db_ctx_t *x)
{
    return x->map->nshards;
}

unsigned db_key_shard_of(const char *key, size_t n, unsigned nshards)
{
    static const unsigned char k[crypto_shorthash_KEYBYTES] = "picogram-shardky";
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, n, k);
    unsigned v = ((unsigned)h[0] << 8 | h[1]) & (IDS_NSHARDS - 1);
    return nshards == IDS_NSHARDS ? v : v % nshards;
}

unsigned db_key_shard(const db_ctx_t *x, const char *key, size_t n)
{
    return db_key_shard_of(key, n, x->map->nshards);
}

db_conn_t *db_for_key(db_ctx_t *x, const char *key, size_t n)
{
    return db_shard(x, db_key_shard(x, key, n));
}

/* --- the map in the database --- */

/* dbmap_load on a context's connection to the first database (kept by the watcher) */
static int load_with(dbmap_t *m, db_ctx_t *x, char *err, size_t errlen)
{
    db_conn_t *c = db_physical(x, 0);
    int rc = -1;
    if (c == NULL) {
        snprintf(err, errlen, "cannot reach the first database for the shard map");
    } else {
        db_stmt_t *s = db_q(c, Q_SHARD_MAP_LATEST);
        int st = db_step(s);
        if (st == DB_ROW && db_col_i64(s, 0) > dbmap_epoch(m)) {
            int64_t epoch = db_col_i64(s, 0);
            size_t n = 0;
            const char *p = db_col_text(s, 1, &n);
            char *spec = xstrndup(p ? p : "", n);
            db_reset(s);
            rc = dbmap_apply(m, spec, epoch, err, errlen) == 0 ? 1 : -1;
            free(spec);
        } else {
            db_reset(s);
            rc = st == DB_ERROR ? -1 : 0;
            if (rc < 0)
                snprintf(err, errlen, "cannot read the shard map: %s", c->drv->errmsg(c));
        }
    }
    db_ctx_release(x);
    return rc;
}

int dbmap_load(dbmap_t *m, char *err, size_t errlen)
{
    db_ctx_t *x = db_ctx_new(m);
    int rc = load_with(m, x, err, errlen);
    db_ctx_free(x);
    return rc;
}

static atomic_bool map_stale;
static atomic_bool watch_stop;
static pthread_t watch_thread;
static bool watching;

void db_map_stale_note(void)
{
    atomic_store(&map_stale, true);
}

static void *watch_main(void *arg)
{
    dbmap_t *m = arg;
    db_ctx_t *x = db_ctx_new(m); /* one connection, kept */
    int64_t last = 0;
    while (!atomic_load(&watch_stop)) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int64_t now = db_timing_now_ns() / 1000000;
        if (!atomic_exchange(&map_stale, false) && now - last < 1000)
            continue;
        last = now;
        char err[256];
        int rc = load_with(m, x, err, sizeof(err));
        if (rc < 0)
            log_warn("shard map: %s", err);
        else if (rc > 0)
            log_info("shard map: now epoch %lld (logical shards moved)", (long long)dbmap_epoch(m));
    }
    db_ctx_free(x);
    return NULL;
}

void dbmap_watch_start(dbmap_t *m)
{
    if (watching || !dbmap_blocking(m))
        return;
    atomic_store(&watch_stop, false);
    watching = pthread_create(&watch_thread, NULL, watch_main, m) == 0;
}

void dbmap_watch_stop(void)
{
    if (!watching)
        return;
    atomic_store(&watch_stop, true);
    pthread_join(watch_thread, NULL);
    watching = false;
}

/* A database URL as it may be shown: without a password. */
void db_url_redacted(const char *url, char *out, size_t cap)
{
    const char *scheme = strstr(url, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon)
        snprintf(out, cap, "%.*s%s", (int)(colon - url), url, at);
    else
        snprintf(out, cap, "%s", url);
    char *pw = strstr(out, "password=");
    if (pw) { /* a password in the query too */
        char *end = strchr(pw, '&');
        memmove(pw, end ? end + 1 : pw + strlen(pw), strlen(end ? end + 1 : pw + strlen(pw)) + 1);
    }
}

/* ---- call timings ---- */

#define DB_TIMING_STRIPES 8

const double db_timing_bounds[DB_TIMING_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                    0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};
atomic_bool db_timing_on;

typedef struct timing_stripe {
    _Atomic uint64_t bucket[DB_TIMING_BUCKETS + 1]; /* not cumulative: the first bound above the call */
    _Atomic uint64_t ns;
} __attribute__((aligned(64))) timing_stripe_t;

static timing_stripe_t timings[DB_TIMING_MAX_DBS][DB_TIMING_STRIPES];
static _Atomic unsigned next_stripe;
static _Thread_local unsigned my_stripe; /* 1 + the stripe, once chosen */

void db_timing_enable(void)
{
    atomic_store(&db_timing_on, true);
}

int64_t db_timing_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void db_timing_record(uint32_t phys, int64_t ns)
{
    if (phys >= DB_TIMING_MAX_DBS)
        return;
    if (my_stripe == 0)
        my_stripe = 1 + atomic_fetch_add_explicit(&next_stripe, 1, memory_order_relaxed) % DB_TIMING_STRIPES;
    timing_stripe_t *t = &timings[phys][my_stripe - 1];
    double s = (double)ns / 1e9;
    int b = 0;
    while (b < DB_TIMING_BUCKETS && s > db_timing_bounds[b])
        b++;
    atomic_fetch_add_explicit(&t->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->ns, (uint64_t)(ns > 0 ? ns : 0), memory_order_relaxed);
}

void db_timing_read(uint32_t phys, db_timing_t *out)
{
    memset(out, 0, sizeof(*out));
    if (phys >= DB_TIMING_MAX_DBS)
        return;
    uint64_t ns = 0;
    for (int k = 0; k < DB_TIMING_STRIPES; k++) {
        timing_stripe_t *t = &timings[phys][k];
        for (int b = 0; b <= DB_TIMING_BUCKETS; b++)
            out->le[b] += atomic_load_explicit(&t->bucket[b], memory_order_relaxed);
        ns += atomic_load_explicit(&t->ns, memory_order_relaxed);
    }
    for (int b = 1; b <= DB_TIMING_BUCKETS; b++)
        out->le[b] += out->le[b - 1];
    out->count = out->le[DB_TIMING_BUCKETS];
    out->sum_seconds = (double)ns / 1e9;
}

/* --- write groups --- */

/* This thread's group: its connection (NULL: none), and what waits for its
 * end (db_after_commit). */
typedef struct after {
    void (*fn)(int64_t);
    int64_t arg;
} after_t;
static _Thread_local struct {
    db_conn_t *c;
    after_t *after;
    size_t n, cap;
} group;

bool db_group_supported(db_ctx_t *x)
{
    const char *target;
    return db_count(x) == 1 && db_driver_for(x->map->urls[0], &target)->group_begin != NULL;
}

bool db_group_begin(db_ctx_t *x)
{
    if (group.c != NULL || !db_group_supported(x))
        return false;
    db_conn_t *c = db_physical(x, 0);
    if (c == NULL || c->drv->group_begin(c) != DB_OK)
        return false;
    group.c = c;
    return true;
}

bool db_group_more(db_ctx_t *x)
{
    (void)x;
    return group.c != NULL && group.c->drv->group_more(group.c);
}

void db_group_commit(db_ctx_t *x)
{
    (void)x;
    if (group.c != NULL)
        group.c->drv->group_commit(group.c);
}

int db_group_end(db_ctx_t *x)
{
    (void)x;
    if (group.c == NULL)
        return DB_ERROR;
    int rc = group.c->drv->group_end(group.c);
    group.c = NULL;
    /* whatever the outcome: a drop or a wake-up too many costs little */
    for (size_t i = 0; i < group.n; i++)
        group.after[i].fn(group.after[i].arg);
    free(group.after); /* not kept: a thread's exit would leak it */
    group.after = NULL;
    group.n = group.cap = 0;
    return rc;
}

void db_after_commit(void (*fn)(int64_t arg), int64_t arg)
{
    if (group.c == NULL) {
        fn(arg);
        return;
    }
    if (group.n == group.cap) {
        group.cap = group.cap ? 2 * group.cap : 64;
        group.after = xrealloc(group.after, group.cap * sizeof(*group.after));
    }
    group.after[group.n++] = (after_t){fn, arg};
}
