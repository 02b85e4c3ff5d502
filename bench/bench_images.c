/*
 * bench_images: CPU time per photo of the rendition pipeline
 * (src/images), for comparison with bench/pillow_renditions.py.
 *
 *   build/bench_images DIR [rounds=5]
 *
 * Reads every file in DIR into memory first, then runs images_process on
 * each, ROUNDS times, on one thread, with the server's malloc settings
 * (core/memtune.h). Prints CPU time (user+system, from
 * getrusage) per photo for each round, the median round, and the sizes made.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/memtune.h"
#include "images/images.h"

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    memtune_server();
    if (argc < 2 || images_init(argv[0]) != 0) {
        fprintf(stderr, "usage: bench_images DIR [rounds]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    DIR *d = opendir(argv[1]);
    if (d == NULL || rounds < 1)
        return 2;
    char *bufs[256];
    size_t lens[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        fseek(f, 0, SEEK_SET);
        bufs[n] = malloc((size_t)sz);
        lens[n] = fread(bufs[n], 1, (size_t)sz, f);
        fclose(f);
        n++;
    }
    closedir(d);
    img_opts_t o = {.max_pixels = 50000000, .quality = 85};
    double *per = calloc((size_t)rounds, sizeof(double));
    img_result_t r;
    for (int k = 0; k < rounds; k++) {
        double t0 = cpu_ms();
        for (int i = 0; i < n; i++) {
            const char *err;
            if (images_process(bufs[i], lens[i], &o, &r, &err) != 0) {
                fprintf(stderr, "photo %d: %s\n", i, err);
                return 1;
            }
            if (k == 0 && i == 0)
                printf("first photo %dx%d -> %dx%d %dx%d %dx%d %dx%d (%zu %zu %zu %zu bytes)\n", r.src_width,
                       r.src_height, r.width[3], r.height[3], r.width[2], r.height[2], r.width[1], r.height[1],
                       r.width[0], r.height[0], r.len[3], r.len[2], r.len[1], r.len[0]);
            images_result_free(&r);
        }
        per[k] = (cpu_ms() - t0) / n;
        printf("round %d: %.2f ms CPU per photo (%d photos)\n", k + 1, per[k], n);
    }
    qsort(per, (size_t)rounds, sizeof(double), cmpd);
    printf("median: %.2f ms CPU per photo\n", per[rounds / 2]);
    images_shutdown();
    return 0;
}
