/*
 * ids: 64-bit time-sortable IDs, as Instagram made them.
 *
 *   | 41 bits: ms since PICOGRAM_EPOCH_MS | 13 bits: logical shard | 6 bits: node | 4 bits: seq |
 *
 * The top bit is always 0, so IDs are positive int64s and sort by time.
 * The node is the generator's: a number no two live processes share (a
 * lease on the first database, model/nodes.h), so two processes never make
 * the same ID. IDs from one shard are strictly increasing within one
 * generator, 16 per millisecond per shard per node. Rules it keeps:
 *  - if the clock steps backwards, it keeps using the last millisecond it
 *    issued, so IDs never go backwards;
 *  - if the 1024 sequence numbers of a millisecond run out, it moves on to
 *    the next millisecond without waiting (IDs may run a little ahead of the
 *    wall clock under extreme load, and fall back in step when it catches up).
 * A generator is thread safe and lock-free (one CAS per ID).
 */
#ifndef PICOGRAM_IDS_H
#define PICOGRAM_IDS_H

#include <stddef.h>
#include <stdint.h>

#define IDS_SHARD_BITS 13
#define IDS_SEQ_BITS 10 /* the low bits: node and counter */
#define IDS_NODE_BITS 6
#define IDS_NODES (1u << IDS_NODE_BITS)
#define IDS_COUNTER_BITS (IDS_SEQ_BITS - IDS_NODE_BITS)
#define IDS_COUNTER_MAX ((1u << IDS_COUNTER_BITS) - 1)
#define IDS_NSHARDS (1u << IDS_SHARD_BITS)
#define IDS_SEQ_MAX ((1u << IDS_SEQ_BITS) - 1)
#define IDS_TIME_BITS 41
/* 2011-01-01T00:00:00Z, the year Instagram's IDs began; good until 2080. */
#define PICOGRAM_EPOCH_MS 1293840000000LL

typedef struct ids_gen ids_gen_t;

ids_gen_t *ids_gen_new(void); /* node 0 */
void ids_gen_free(ids_gen_t *g);
/* Sets the generator's node (0 .. IDS_NODES-1), before it makes any ID. */
void ids_gen_set_node(ids_gen_t *g, unsigned node);

/* The process's generator, for IDs made below the API layer (likes,
 * activity, jobs). Created on first use; thread safe. */
ids_gen_t *ids_global(void);

/* Next ID on `shard` (taken modulo IDS_NSHARDS) at the wall clock. */
int64_t ids_next(ids_gen_t *g, unsigned shard);
/* Same, with the clock given (unix ms), for tests and the data generator. */
int64_t ids_next_at(ids_gen_t *g, unsigned shard, int64_t unix_ms);

/* Pure arithmetic on an ID. */
static inline unsigned ids_shard(int64_t id)
{
    return (unsigned)(((uint64_t)id >> IDS_SEQ_BITS) & (IDS_NSHARDS - 1));
}
static inline int64_t ids_unix_ms(int64_t id)
{
    return (int64_t)((uint64_t)id >> (IDS_SHARD_BITS + IDS_SEQ_BITS)) + PICOGRAM_EPOCH_MS;
}
static inline unsigned ids_seq(int64_t id)
{
    return (unsigned)((uint64_t)id & IDS_SEQ_MAX);
}
static inline unsigned ids_node(int64_t id)
{
    return ids_seq(id) >> IDS_COUNTER_BITS;
}
/* Builds an ID from its parts (no checks beyond masking). */
int64_t ids_make(int64_t unix_ms, unsigned shard, unsigned seq);
/* The smallest ID that can exist at `unix_ms`: for timestamp range queries. */
static inline int64_t ids_floor_for_ms(int64_t unix_ms)
{
    return ids_make(unix_ms, 0, 0);
}

/* Parses a decimal ID (1..INT64_MAX, digits only). Returns 0 if invalid. */
int64_t ids_parse(const char *s, size_t n);

int64_t ids_now_ms(void);
/* Microseconds on the monotonic clock: for durations, never for IDs. */
int64_t ids_mono_us(void);

/* Short codes for links (/p/CODE/): the ID in base 64 with a URL-safe
 * alphabet, most significant digit first, no padding (at most 11 chars). */
#define IDS_SHORTCODE_MAX 11
void ids_shortcode(int64_t id, char out[IDS_SHORTCODE_MAX + 1]);
/* The ID of a short code, or 0 if it is not one. */
int64_t ids_from_shortcode(const char *s, size_t n);

#endif
