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
 * A bar on stderr shows each stage's progress; the end reports the time
 * taken and the database's size.
 */
#include <math.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/ids.h"
#include "db/db.h"
#include "core/text.h"
#include "geo/geo.h"
#include "model/discovery.h"
#include "model/far.h"
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
    dbmap_t *map = dbmap_new(url, "normal", err, sizeof(err));
    db_ctx_t *db = map ? db_ctx_new(map) : NULL;
    db_conn_t *c = db ? db_physical(db, 0) : NULL;
    int from, to;
    if (c == NULL || db_migrate(c, &from, &to, err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot set up %s: %s\n", url, err);
        return 1;
    }
    /* A bulk load, not a server: a page cache that holds the indexes being
     * filled in random order (up to 4 GiB), and no fsync: a dataset can be
     * made again. */
    if (c->drv->exec(c, "PRAGMA cache_size=-4194304; PRAGMA synchronous=OFF", err, sizeof(err)) != 0) {
        fprintf(stderr, "cannot set up %s: %s\n", url, err);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ids_gen_t *g = ids_gen_new();
    int64_t *users = calloc((size_t)nu, sizeof(int64_t)), *media = calloc((size_t)nm, sizeof(int64_t));
    int64_t *owner = calloc((size_t)nm, sizeof(int64_t));
    /* time runs from 2012-01-01 forward, one photo every ~2 minutes */
    int64_t base_ms = 1325376000000LL;
    db_begin(c);
    /* one database holds every shard: effects on other shards run in this transaction */
    far_t far;
    far_init(&far, db);
    far.tx = c;
    for (long i = 0; i < nu; i++) {
        char name[32];
        snprintf(name, sizeof(name), "user%ld", i);
        users[i] = ids_next_at(g, (unsigned)pick(IDS_NSHARDS), base_ms - 86400000LL + i);
        db_stmt_t *s = db_q(c, Q_USER_INSERT);
        db_bind_i64(s, 1, users[i]);
        db_bind_cstr(s, 2, name);
        db_bind_cstr(s, 3, name);
        db_bind_cstr(s, 4, "Bench User");
        db_bind_cstr(s, 5, "bench user");
        db_bind_cstr(s, 6, "");
        db_bind_cstr(s, 7, "$argon2id$v=19$m=65536,t=2,p=1$unusable$unusable");
        db_bind_i64(s, 8, (int64_t)time(NULL));
        if (step(s) != 0)
            return 1;
        s = db_q(c, Q_USERNAME_CLAIM);
        db_bind_cstr(s, 1, name);
        db_bind_i64(s, 2, users[i]);
        if (step(s) != 0)
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
            const unsigned qs[2] = {Q_FOLLOWING_PUT, Q_FOLLOWERS_PUT};
            for (int q = 0; q < 2; q++) {
                db_stmt_t *s = db_q(c, qs[q]);
                db_bind_i64(s, 1, q ? users[j] : users[i]);
                db_bind_i64(s, 2, q ? users[i] : users[j]);
                db_bind_i64(s, 3, 1);
                db_bind_i64(s, 4, 0);
                if (step(s) != 0)
                    return 1; /* a repeat pick upserts: harmless */
            }
        }
        progress("follows", i + 1, nu);
    }
    free(cdf);
    free(ranked);
    db_commit(c);
    /* exact counters from the rows */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE users SET follows_count = (SELECT COUNT(*) FROM following WHERE user_id = users.id AND status = 1),"
             " followed_by_count = (SELECT COUNT(*) FROM followers WHERE user_id = users.id AND status = 1)");
    if (c->drv->exec(c, sql, err, sizeof(err)) != 0)
        return 1;
    db_begin(c);
    for (long i = 0; i < NPLACES; i++) {
        const city_t *city = &cities[i % 5];
        place_t *pl = &places[i];
        pl->id = ids_next_at(g, (unsigned)pick(IDS_NSHARDS), base_ms - 3600000LL + i);
        pl->lat = city->lat + ((double)pick(20001) - 10000) / 10000.0 * 0.045; /* about +-5 km */
        pl->lng = city->lng + ((double)pick(20001) - 10000) / 10000.0 * 0.06;
        char *name = pl->name, lower[64];
        snprintf(pl->name, sizeof(pl->name), "%s Spot %ld", city->name, i / 5);
        text_lower(name, strlen(name), lower, sizeof(lower));
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
        db_stmt_t *s = db_q(c, Q_MEDIA_INSERT);
        db_bind_i64(s, 1, media[i]);
        db_bind_i64(s, 2, owner[i]);
        if (has_caption)
            db_bind_cstr(s, 3, caption);
        else
            db_bind_null(s, 3);
        db_bind_cstr(s, 4, filters[pick(7)]);
        if (loc)
            db_bind_i64(s, 5, loc);
        else
            db_bind_null(s, 5);
        db_bind_cstr(s, 6, "[]"); /* set with the tag index below */
        db_bind_cstr(s, 7, "150x150,320x400,640x800,1080x1350");
        db_bind_i64(s, 8, ids_unix_ms(media[i]) / 1000);
        db_bind_i64(s, 9, 1);
        db_bind_i64(s, 10, (int64_t)(pick(1L << 30) << 20 | pick(1L << 20)) + 1); /* a file key (no files are written) */
        if (loc) {
            db_bind_cstr(s, 11, places[place].name);
            db_bind_double(s, 12, places[place].lat);
            db_bind_double(s, 13, places[place].lng);
        } else {
            db_bind_null(s, 11);
            db_bind_null(s, 12);
            db_bind_null(s, 13);
        }
        if (step(s) != 0)
            return 1;
        if ((has_caption && tags_sync(&far, media[i], media[i], 0) != DB_DONE) ||
            (loc && geo_media_put(c, media[i], places[place].lat, places[place].lng, ids_unix_ms(media[i]) / 1000) !=
                        DB_DONE))
            return 1;
        if (loc) {
            s = db_q(c, Q_LOCATION_MEDIA_PUT);
            db_bind_i64(s, 1, loc);
            db_bind_i64(s, 2, media[i]);
            if (step(s) != 0)
                return 1;
        }
        progress("media", i + 1, nm);
    }
    for (long i = 0; i < nl; i++) {
        long m = pick(nm);
        int64_t u = users[pick(nu)], like = ids_next_at(g, ids_shard(u), ids_unix_ms(media[m]) + 1000 + pick(86400000));
        db_stmt_t *s = db_q(c, Q_LIKE_INSERT);
        db_bind_i64(s, 1, media[m]);
        db_bind_i64(s, 2, u);
        db_bind_i64(s, 3, like);
        if (step(s) != 0)
            return 1;
        if (c->drv->changes(c) == 1) {
            s = db_q(c, Q_LIKED_INSERT);
            db_bind_i64(s, 1, u);
            db_bind_i64(s, 2, like);
            db_bind_i64(s, 3, media[m]);
            if (step(s) != 0)
                return 1;
        }
        progress("likes", i + 1, nl);
    }
    for (long i = 0; i < nc; i++) {
        long m = pick(nm);
        int64_t u = users[pick(nu)];
        db_stmt_t *s = db_q(c, Q_COMMENT_INSERT);
        int64_t id = ids_next_at(g, ids_shard(media[m]), ids_unix_ms(media[m]) + 1000 + pick(86400000));
        db_bind_i64(s, 1, id);
        db_bind_i64(s, 2, media[m]);
        db_bind_i64(s, 3, u);
        db_bind_cstr(s, 4, words[pick(sizeof(words) / sizeof(words[0]))]);
        db_bind_i64(s, 5, ids_unix_ms(id) / 1000);
        if (step(s) != 0)
            return 1;
        progress("comments", i + 1, nc);
    }
    db_commit(c);
    const char *counts = "UPDATE media SET like_count = (SELECT COUNT(*) FROM likes WHERE media_id = media.id),"
                         " comment_count = (SELECT COUNT(*) FROM comments WHERE media_id = media.id);"
                         "UPDATE users SET media_count = (SELECT COUNT(*) FROM media WHERE user_id = users.id);";
    if (c->drv->exec(c, counts, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    for (long i = 0; i < ntok && i < nu; i++) {
        char tok[TOKEN_MAX_LEN + 1];
        if (tokens_issue(db, users[i], tok) != 0)
            return 1;
        printf("%s\n", tok);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct stat st;
    snprintf(url, sizeof(url), "%s/picogram.db", argv[1]);
    stat(url, &st);
    fprintf(stderr, "%ld users, %ld follows each (on average), %ld media, %ld likes, %ld comments in %.1f s; database %.1f MiB\n", nu,
            nf, nm, nl, nc, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
            (double)st.st_size / 1048576.0);
    ids_gen_free(g);
    db_ctx_free(db);
    dbmap_free(map);
    free(users);
    free(media);
    free(owner);
    return 0;
}
