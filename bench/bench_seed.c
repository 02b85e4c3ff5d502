/*
 * bench_seed: a deterministic dataset written straight into a picogram data
 * directory through the db layer, for load benchmarks. The default is the
 * shape of the Django reference's gen.py ("small"): 10,000 users each
 * following 100 others, 200,000 photos (80% captioned, 30% with a place),
 * about 1,000,000 likes and 300,000 comments. Places are 200 spots in each
 * of five real cities (San Francisco, New York, London, Paris, Tokyo), each
 * spot within about 5 km of its city's centre; captions' hashtags are in
 * the tag index and placed photos in the geo index. Photo files are not written
 * (the API serves their URLs, not their bytes). Prints one access token per
 * line for the first TOKENS users, for the load scripts.
 *
 * The `large` preset has 1,000,000 users whose followings (50 on average,
 * from 1 to 500 each) pick accounts on a power law (Zipf, exponent 1), so
 * a few accounts have 100,000+ followers; 10,000,000 photos, 30,000,000
 * likes and 10,000,000 comments.
 *
 *   build/bench_seed DATA_DIR small|large|large:F [seed=20111006] [tokens=8]   (F scales large's counts)
 *   build/bench_seed DATA_DIR [users=10000] [follows=100] [media=200000]
 *                    [likes=1000000] [comments=300000] [seed=20111006] [tokens=8]
 *
 * The data goes into DATA_DIR/picogram.db, or into the databases of the
 * shard map in BENCH_DATABASE (as the `database` setting: say two
 * PostgreSQL servers), each row on its shard's database as the server
 * places it (model/far.h), the databases migrated first.
 *
 * A bar on stderr shows each stage's progress; the end reports the time
 * taken and the databases' size.
 */
#include <math.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "core/ids.h"
#include "db/db.h"
#include "core/text.h"
#include "geo/geo.h"
#include "model/discovery.h"
#include "model/tokens.h"

static uint64_t rng;
static uint64_t next_rand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
    return rng;
}
static long pick(long n)
{
    return (long)(next_rand() % (uint64_t)n);
}

static const char *const words[] = {"sunset", "coffee", "beach", "morning", "city", "friends", "dinner", "cat",
                                    "summer", "night", "street", "sky", "#nofilter", "#sf", "#instagood", "#latte",
                                    "golden", "hour", "bridge", "river", "#iphoneography", "park", "brunch", "art"};
typedef struct city {
    const char *name;
    double lat, lng;
} city_t;
static const city_t cities[5] = {{"San Francisco", 37.7749, -122.4194}, {"New York", 40.7128, -74.0060},
                                 {"London", 51.5074, -0.1278},          {"Paris", 48.8566, 2.3522},
                                 {"Tokyo", 35.6762, 139.6503}};
#define NPLACES 1000
typedef struct place {
    int64_t id;
    double lat, lng;
    char name[64];
} place_t;
static place_t places[NPLACES];

static const char *const filters[] = {"Normal", "X-Pro II", "Lomo-fi", "Earlybird", "Sutro", "Toaster", "Valencia"};

static int step(db_stmt_t *s)
{
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

/* The data is loaded in big transactions, one open on each database. */
static db_ctx_t *dbx;
static db_conn_t *on(int64_t id)
{
    return db_shard(dbx, ids_shard(id));
}
static db_conn_t *on_key(const char *key)
{
    return db_for_key(dbx, key, strlen(key));
}
static int each_db(int (*fn)(db_conn_t *c))
{
    for (size_t i = 0; i < db_count(dbx); i++)
        if (fn(db_physical(dbx, i)) != DB_OK)
            return -1;
    return 0;
}
static int begin_all(void)
{
    return each_db(db_begin);
}
static int commit_all(void)
{
    return each_db(db_commit);
}
static int exec_all(const char *sql)
{
    char err[256];
    for (size_t i = 0; i < db_count(dbx); i++) {
        db_conn_t *c = db_physical(dbx, i);
        if (c->drv->exec(c, sql, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
    }
    return 0;
}

/* ---- rows in batches: one multi-row INSERT per BATCH_ROWS rows and table,
 * on the row's database (a round trip per row would take minutes on a
 * network database). Values are numbers and text this program made. */

#define BATCH_ROWS 400
typedef struct batch {
    db_conn_t *c;
    const char *head, *tail;
    buf_t rows;
    int n;
} batch_t;
static batch_t batches[64];
static int nbatches;

static int batch_flush(batch_t *b)
{
    if (b->n == 0)
        return 0;
    buf_t sql;
    buf_init(&sql, 64u << 20);
    buf_puts(&sql, b->head);
    buf_append(&sql, b->rows.data, b->rows.len);
    buf_puts(&sql, b->tail);
    buf_putc(&sql, '\0');
    char err[512];
    int rc = b->c->drv->exec(b->c, sql.data, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "\nbench_seed: %s\n", err);
    buf_free(&sql);
    buf_reset(&b->rows);
    b->n = 0;
    return rc;
}

static int batch_flush_all(void)
{
    for (int i = 0; i < nbatches; i++)
        if (batch_flush(&batches[i]) != 0)
            return -1;
    return 0;
}

/* Adds the row (its values, without parentheses) for table `head` on c. */
static int batch_row(db_conn_t *c, const char *head, const char *tail, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int batch_row(db_conn_t *c, const char *head, const char *tail, const char *fmt, ...)
{
    batch_t *b = NULL;
    for (int i = 0; i < nbatches && b == NULL; i++)
        if (batches[i].c == c && batches[i].head == head)
            b = &batches[i];
    if (b == NULL) {
        b = &batches[nbatches++];
        *b = (batch_t){.c = c, .head = head, .tail = tail};
        buf_init(&b->rows, 64u << 20);
    }
    if (b->n)
        buf_putc(&b->rows, ',');
    buf_putc(&b->rows, '(');
    va_list ap;
    va_start(ap, fmt);
    char row[4096];
    vsnprintf(row, sizeof(row), fmt, ap);
    va_end(ap);
    buf_puts(&b->rows, row);
    buf_putc(&b->rows, ')');
    return ++b->n >= BATCH_ROWS ? batch_flush(b) : 0;
}

#define NOTHING " ON CONFLICT DO NOTHING"
static const char H_USERS[] = "INSERT INTO users (id, username, username_lower, full_name, full_name_lower, email, "
                              "password_hash, created_at) VALUES ";
static const char H_NAMES[] = "INSERT INTO usernames (username_lower, user_id, shard) VALUES ";
static const char H_FOLLOWING[] = "INSERT INTO following (user_id, target_id, status, created_at) VALUES ";
static const char H_FOLLOWERS[] = "INSERT INTO followers (user_id, follower_id, status, created_at) VALUES ";
static const char H_MEDIA[] = "INSERT INTO media (id, user_id, caption, filter, location_id, tags, dims, created_at, "
                              "fanned, file_key, location_name, lat, lng) VALUES ";
static const char H_MEDIA_TAGS[] = "INSERT INTO media_tags (tag, id, media_id) VALUES ";
static const char H_TAG_MEDIA[] = "INSERT INTO tag_media (tag, id, media_id, shard) VALUES ";
static const char H_LIKES[] = "INSERT INTO likes (media_id, user_id, id) VALUES ";
static const char H_LIKED[] = "INSERT INTO liked (user_id, id, media_id) VALUES ";
static const char H_COMMENTS[] = "INSERT INTO comments (id, media_id, user_id, text, created_at) VALUES ";
static const char H_GEO[] = "INSERT INTO geo_media (id, lat0, lat1, lng0, lng1, t0, t1) VALUES ";
static const char H_PLACE_MEDIA[] = "INSERT INTO location_media (location_id, media_id) VALUES ";

/* Tag counts, kept here and written at the end (a few distinct tags). */
typedef struct tag_count {
    text_tag_t name;
    long n;
} tag_count_t;
static tag_count_t tag_counts[64];
static int ntag_counts;

/* A caption's tags: applied on the media's database, indexed and counted
 * on each tag's. The caption's words are this program's (no quotes). */
static int put_tags(int64_t media, const char *caption, char *json, size_t cap)
{
    text_tag_t tags[TEXT_MAX_TAGS];
    size_t n = text_hashtags(caption, strlen(caption), tags, TEXT_MAX_TAGS);
    buf_t j;
    buf_init(&j, cap - 1);
    tags_json(&j, tags, n);
    snprintf(json, cap, "%.*s", (int)j.len, j.data);
    buf_free(&j);
    for (size_t i = 0; i < n; i++) {
        unsigned ts = tag_shard(dbx, tags[i]);
        if (batch_row(on(media), H_MEDIA_TAGS, NOTHING, "'%s',%lld,%lld", tags[i], (long long)media, (long long)media) ||
            batch_row(db_shard(dbx, ts), H_TAG_MEDIA, NOTHING, "'%s',%lld,%lld,%u", tags[i], (long long)media,
                      (long long)media, ts))
            return -1;
        int k = 0;
        while (k < ntag_counts && strcmp(tag_counts[k].name, tags[i]) != 0)
            k++;
        if (k == ntag_counts && ntag_counts < 64)
            memcpy(tag_counts[ntag_counts++].name, tags[i], sizeof(text_tag_t));
        if (k < 64)
            tag_counts[k].n++;
    }
    return 0;
}

static int put_tag_counts(void)
{
    for (int k = 0; k < ntag_counts; k++) {
        db_stmt_t *s = db_q(db_shard(dbx, tag_shard(dbx, tag_counts[k].name)), Q_TAG_COUNT_ADD);
        db_bind_cstr(s, 1, tag_counts[k].name);
        db_bind_i64(s, 2, tag_counts[k].n);
        db_bind_i64(s, 3, tag_shard(dbx, tag_counts[k].name));
        if (step(s) != 0)
            return -1;
    }
    return 0;
}

static void progress(const char *what, long i, long n)
{
    if (i % 20000 != 0 && i != n)
        return;
    char bar[41];
    int full = (int)(40.0 * (double)i / (double)(n > 0 ? n : 1));
    for (int k = 0; k < 40; k++)
        bar[k] = k < full ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\r%-9s [%s] %3d%% %ld/%ld", what, bar, (int)(100.0 * (double)i / (double)(n > 0 ? n : 1)), i, n);
    if (i == n)
        fputc('\n', stderr);
}

/* Zipf(1) over ranks 0..n-1 by inverse CDF: cdf[r] = H(r+1) / H(n). */
static double *zipf_cdf(long n)
{
    double *cdf = malloc((size_t)n * sizeof(double)), h = 0;
    for (long r = 0; r < n; r++)
        cdf[r] = (h += 1.0 / (double)(r + 1));
    for (long r = 0; r < n; r++)
        cdf[r] /= h;
    return cdf;
}

static long zipf_pick(const double *cdf, long n)
{
    double u = (double)(next_rand() >> 11) / 9007199254740992.0; /* [0, 1) */
    long lo = 0, hi = n - 1;
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int main(int argc, char **argv)
{
    if (argc < 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: bench_seed DATA_DIR [users follows media likes comments seed tokens]\n");
        return 2;
    }
    long nu = 10000, nf = 100, nm = 200000, nl = 1000000, nc = 300000;
    bool power = false; /* followings on a power law (large), or evenly spread (small) */
    int a = 2;          /* the first argument after the sizes */
    if (argc > 2 && strncmp(argv[2], "large", 5) == 0) {
        /* "large:F" scales the counts by F (0 < F <= 1), for a trial run */
        double f = argv[2][5] == ':' ? atof(argv[2] + 6) : 1.0;
        if (!(f > 0 && f <= 1)) {
            fprintf(stderr, "bench_seed: large:F needs 0 < F <= 1\n");
            return 2;
        }
        nu = (long)(1000000 * f), nf = 50, nm = (long)(10000000 * f), nl = (long)(30000000 * f);
        nc = (long)(10000000 * f), power = true, a = 3;
    } else if (argc > 2 && strcmp(argv[2], "small") == 0) {
        a = 3;
    } else {
        nu = argc > 2 ? atol(argv[2]) : nu, nf = argc > 3 ? atol(argv[3]) : nf;
        nm = argc > 4 ? atol(argv[4]) : nm, nl = argc > 5 ? atol(argv[5]) : nl;
        nc = argc > 6 ? atol(argv[6]) : nc;
        a = 7;
    }
    rng = argc > a ? strtoull(argv[a], NULL, 10) : 20111006;
    long ntok = argc > a + 1 ? atol(argv[a + 1]) : 8;
    if (nf >= nu)
        nf = nu - 1;
    char url[4200], err[256];
    mkdir(argv[1], 0750);
    snprintf(url, sizeof(url), "sqlite:%s/picogram.db", argv[1]);
    const char *spec = getenv("BENCH_DATABASE") ? getenv("BENCH_DATABASE") : url;
    dbmap_t *map = dbmap_new(spec, "normal", err, sizeof(err));
    db_ctx_t *db = map ? db_ctx_new(map) : NULL;
    dbx = db;
    for (size_t i = 0; db && i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        int from, to;
        if (c == NULL || db_migrate(c, &from, &to, err, sizeof(err)) != 0) {
            fprintf(stderr, "cannot set up %s: %s\n", dbmap_url(map, i), c ? err : "cannot open");
            return 1;
        }
        /* A bulk load, not a server: a page cache that holds the indexes
         * being filled in random order (up to 4 GiB), and no fsync: a
         * dataset can be made again. */
        const char *bulk = strcmp(c->drv->scheme, "sqlite") == 0 ? "PRAGMA cache_size=-4194304; PRAGMA synchronous=OFF"
                                                                 : "SET synchronous_commit = off";
        if (c->drv->exec(c, bulk, err, sizeof(err)) != 0) {
            fprintf(stderr, "cannot set up %s: %s\n", dbmap_url(map, i), err);
            return 1;
        }
    }
    if (db == NULL) {
        fprintf(stderr, "bench_seed: %s\n", err);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ids_gen_t *g = ids_gen_new();
    int64_t *users = calloc((size_t)nu, sizeof(int64_t)), *media = calloc((size_t)nm, sizeof(int64_t));
    int64_t *owner = calloc((size_t)nm, sizeof(int64_t));
    /* time runs from 2012-01-01 forward, one photo every ~2 minutes */
    int64_t base_ms = 1325376000000LL;
    if (begin_all() != 0)
        return 1;
    for (long i = 0; i < nu; i++) {
        char name[32];
        snprintf(name, sizeof(name), "user%ld", i);
        users[i] = ids_next_at(g, (unsigned)pick(IDS_NSHARDS), base_ms - 86400000LL + i);
        if (batch_row(on(users[i]), H_USERS, "",
                      "%lld,'%s','%s','Bench User','bench user','','$argon2id$v=19$m=65536,t=2,p=1$unusable$unusable',%lld",
                      (long long)users[i], name, name, (long long)time(NULL)) ||
            batch_row(on_key(name), H_NAMES, "", "'%s',%lld,%u", name, (long long)users[i],
                      db_key_shard(dbx, name, strlen(name))))
            return 1;
        progress("users", i + 1, nu);
    }
    /* power law: a user's followings are Zipf picks over a shuffled ranking of
     * users (rank 0 the most followed); their number 1 to 10*nf, nf on average */
    double *cdf = power ? zipf_cdf(nu) : NULL;
    long *ranked = power ? malloc((size_t)nu * sizeof(long)) : NULL;
    for (long r = 0; power && r < nu; r++)
        ranked[r] = r;
    for (long r = nu - 1; power && r > 0; r--) {
        long k = pick(r + 1), t = ranked[r];
        ranked[r] = ranked[k], ranked[k] = t;
    }
    for (long i = 0; i < nu; i++) {
        long want = power ? 1 + (long)(-log(1.0 - (double)(next_rand() >> 11) / 9007199254740992.0) * (double)(nf - 1))
                          : nf;
        if (want > 10 * nf)
            want = 10 * nf;
        long chosen[1000];
        int nchosen = 0;
        for (long k = 1; k <= want; k++) {
            /* small: user i follows i+k*stride (distinct, spread); large: a power-law
             * pick, drawn again (a few times) if already taken */
            long j = power ? ranked[zipf_pick(cdf, nu)]
                           : (i + k * (nu / (nf + 1) > 0 ? nu / (nf + 1) : 1) + pick(3)) % nu;
            for (int tries = 0; power && tries < 20; tries++) {
                bool dup = j == i;
                for (int q = 0; q < nchosen && !dup; q++)
                    dup = chosen[q] == j;
                if (!dup)
                    break;
                j = ranked[zipf_pick(cdf, nu)];
            }
            if (power && nchosen < 1000)
                chosen[nchosen++] = j;
            if (j == i)
                continue;
            /* a repeat pick is a conflict: nothing */
            if (batch_row(on(users[i]), H_FOLLOWING, NOTHING, "%lld,%lld,1,0", (long long)users[i], (long long)users[j]) ||
                batch_row(on(users[j]), H_FOLLOWERS, NOTHING, "%lld,%lld,1,0", (long long)users[j], (long long)users[i]))
                return 1;
        }
        progress("follows", i + 1, nu);
    }
    free(cdf);
    free(ranked);
    if (batch_flush_all() != 0 || commit_all() != 0)
        return 1;
    /* exact counters from the rows (a user's following and followers rows are on the user's database) */
    if (exec_all("UPDATE users SET follows_count = (SELECT COUNT(*) FROM following WHERE user_id = users.id AND "
                 "status = 1), followed_by_count = (SELECT COUNT(*) FROM followers WHERE user_id = users.id AND "
                 "status = 1)") != 0)
        return 1;
    if (begin_all() != 0)
        return 1;
    for (long i = 0; i < NPLACES; i++) {
        const city_t *city = &cities[i % 5];
        place_t *pl = &places[i];
        snprintf(pl->name, sizeof(pl->name), "%s Spot %ld", city->name, i / 5);
        pl->id = ids_next_at(g, place_shard(db, pl->name), base_ms - 3600000LL + i);
        pl->lat = city->lat + ((double)pick(20001) - 10000) / 10000.0 * 0.045; /* about +-5 km */
        pl->lng = city->lng + ((double)pick(20001) - 10000) / 10000.0 * 0.06;
        char *name = pl->name, lower[64];
        text_lower(name, strlen(name), lower, sizeof(lower));
        db_conn_t *c = on(pl->id);
        db_stmt_t *s = db_q(c, Q_LOCATION_INSERT);
        db_bind_i64(s, 1, pl->id);
        db_bind_cstr(s, 2, name);
        db_bind_double(s, 3, pl->lat);
        db_bind_double(s, 4, pl->lng);
        db_bind_cstr(s, 5, lower);
        if (step(s) != 0 || geo_place_put(c, pl->id, pl->lat, pl->lng) != DB_DONE)
            return 1;
    }
    for (long i = 0; i < nm; i++) {
        owner[i] = users[pick(nu)];
        media[i] = ids_next_at(g, ids_shard(owner[i]), base_ms + i * 120000LL + pick(60000));
        char caption[256] = "";
        bool has_caption = pick(10) < 8;
        if (has_caption) {
            for (int w = 0, nw = 3 + (int)pick(8); w < nw; w++) {
                const char *word = words[pick(sizeof(words) / sizeof(words[0]))];
                strcat(caption, w ? " " : "");
                strcat(caption, word);
            }
        }
        long place = pick(10) < 3 ? pick(NPLACES) : -1;
        int64_t loc = place >= 0 ? places[place].id : 0;
        char tags[TEXT_MAX_TAGS * (TAG_MAX_BYTES + 3) + 3] = "[]";
        if (has_caption && put_tags(media[i], caption, tags, sizeof(tags)) != 0)
            return 1;
        int64_t file_key = (int64_t)(pick(1L << 30) << 20 | pick(1L << 20)) + 1; /* no files are written */
        const place_t *pl = loc ? &places[place] : NULL;
        char where[200] = "NULL,NULL,NULL";
        if (pl)
            snprintf(where, sizeof(where), "'%s',%.7f,%.7f", pl->name, pl->lat, pl->lng);
        char caption_sql[300] = "NULL", loc_sql[24] = "NULL";
        if (has_caption)
            snprintf(caption_sql, sizeof(caption_sql), "'%s'", caption);
        if (loc)
            snprintf(loc_sql, sizeof(loc_sql), "%lld", (long long)loc);
        int64_t t = ids_unix_ms(media[i]) / 1000;
        if (batch_row(on(media[i]), H_MEDIA, "",
                      "%lld,%lld,%s,'%s',%s,'%s','150x150,320x400,640x800,1080x1350',%lld,1,%lld,%s", (long long)media[i],
                      (long long)owner[i], caption_sql, filters[pick(7)], loc_sql, tags, (long long)t,
                      (long long)file_key, where))
            return 1;
        if (pl && (batch_row(on(media[i]), H_GEO, "", "%lld,%lld,%lld,%lld,%lld,%lld,%lld", (long long)media[i],
                             llround(pl->lat * 1e7), llround(pl->lat * 1e7), llround(pl->lng * 1e7),
                             llround(pl->lng * 1e7), (long long)(t - 1293840000LL), (long long)(t - 1293840000LL)) ||
                   batch_row(on(loc), H_PLACE_MEDIA, NOTHING, "%lld,%lld", (long long)loc, (long long)media[i])))
            return 1;
        progress("media", i + 1, nm);
    }
    if (batch_flush_all() != 0)
        return 1;
    for (long i = 0; i < nl; i++) {
        long m = pick(nm);
        int64_t u = users[pick(nu)];
        /* the like's ID from the pair, so a pair picked twice is one like (a conflict: nothing) */
        uint64_t h = ((uint64_t)media[m] * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)u;
        h ^= h >> 29;
        int64_t like = ids_make(ids_unix_ms(media[m]) + 1000 + (int64_t)(h % 86400000ULL), ids_shard(u),
                                (unsigned)(h >> 40) & IDS_SEQ_MAX);
        if (batch_row(on(media[m]), H_LIKES, NOTHING, "%lld,%lld,%lld", (long long)media[m], (long long)u,
                      (long long)like) ||
            batch_row(on(u), H_LIKED, NOTHING, "%lld,%lld,%lld", (long long)u, (long long)like, (long long)media[m]))
            return 1;
        progress("likes", i + 1, nl);
    }
    for (long i = 0; i < nc; i++) {
        long m = pick(nm);
        int64_t u = users[pick(nu)];
        int64_t id = ids_next_at(g, ids_shard(media[m]), ids_unix_ms(media[m]) + 1000 + pick(86400000));
        if (batch_row(on(media[m]), H_COMMENTS, "", "%lld,%lld,%lld,'%s',%lld", (long long)id, (long long)media[m],
                      (long long)u, words[pick(sizeof(words) / sizeof(words[0]))], (long long)(ids_unix_ms(id) / 1000)))
            return 1;
        progress("comments", i + 1, nc);
    }
    if (batch_flush_all() != 0 || put_tag_counts() != 0 || commit_all() != 0)
        return 1;
    /* a photo's likes and comments are on its database, a user's photos on the user's */
    if (exec_all("UPDATE media SET like_count = (SELECT COUNT(*) FROM likes WHERE media_id = media.id),"
                 " comment_count = (SELECT COUNT(*) FROM comments WHERE media_id = media.id);"
                 "UPDATE users SET media_count = (SELECT COUNT(*) FROM media WHERE user_id = users.id);") != 0)
        return 1;
    for (long i = 0; i < ntok && i < nu; i++) {
        char tok[TOKEN_MAX_LEN + 1];
        if (tokens_issue(db, users[i], tok) != 0)
            return 1;
        printf("%s\n", tok);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double bytes = 0;
    if (strcmp(db_physical(db, 0)->drv->scheme, "sqlite") != 0)
        exec_all("VACUUM ANALYZE"); /* so the sizes are a server's at rest */
    for (size_t i = 0; i < db_count(db); i++) {
        db_conn_t *c = db_physical(db, i);
        if (strcmp(c->drv->scheme, "sqlite") == 0) {
            struct stat st;
            snprintf(url, sizeof(url), "%s/picogram.db", argv[1]);
            if (stat(url, &st) == 0)
                bytes += (double)st.st_size;
        } else {
            db_stmt_t *s = db_q(c, Q_DB_SIZE);
            if (db_step(s) == DB_ROW)
                bytes += (double)db_col_i64(s, 0);
            db_reset(s);
        }
    }
    fprintf(stderr,
            "%ld users, %ld follows each (on average), %ld media, %ld likes, %ld comments in %.1f s; databases %.1f MiB\n",
            nu, nf, nm, nl, nc, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
            bytes / 1048576.0);
    ids_gen_free(g);
    db_ctx_free(db);
    dbmap_free(map);
    free(users);
    free(media);
    free(owner);
    return 0;
}
