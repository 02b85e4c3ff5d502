/*
 * memtune: the malloc settings of a server process (serve and worker), also
 * used by the benchmarks that measure its code outside the server
 * (bench/bench_images.c), so that they measure what the server runs.
 */
#ifndef PICOGRAM_MEMTUNE_H
#define PICOGRAM_MEMTUNE_H

/* Call once, before any thread starts. */
void memtune_server(void);

#endif
