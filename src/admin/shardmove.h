/*
 * Moving logical shards between PostgreSQL servers while everything runs:
 *
 *   picogram shards move LO[-HI] --to URL [--drop-source] [--catch-up-seconds N] [SETTINGS]
 *   picogram shards move --resume [--catch-up-seconds N] | --abort [SETTINGS]
 *
 * DESIGN
 * The map lives in the database: shard_maps on the settings' first
 * database (the catalog), each version under an epoch; every server and
 * worker reads the newest at start and again every second (db/db.h,
 * dbmap_watch_start), and at once when a write is refused by a fence.
 * The move itself is PostgreSQL 15's logical replication, chosen because
 * it copies a consistent snapshot and then streams every later change of
 * exactly those rows (a publication whose tables carry a row filter on the
 * stored shard column), with no change to the write path. Every table with
 * a shard column moves but the jobs: a job runs on whichever server it
 * waits (its effects follow the map), so those waiting stay put.
 *
 *   prepare   the target cleared of the range (what an earlier attempt of
 *             this move copied; a new move to a target holding rows of
 *             the range is refused), and fenced on the range until the
 *             switch (a process on an old map must not write there: an
 *             abort would delete it with the copy; replication's applies
 *             do not fire the triggers); on the source the shard tables' replica identity FULL (a row
 *             filter needs its columns in the identity) and a publication
 *             (with a mark table); on the target a subscription.
 *   copying   the initial copy, then the stream, until the target is
 *             within 64 kB of the source's WAL; the comparison below run
 *             once, to warm both servers' caches.
 *   fenced    on the source, triggers on every shard table refuse writes
 *             to the range (SQLSTATE PM001: the server answers 503 with
 *             Retry-After; a job waits). Made in one transaction that takes
 *             each table's trigger lock, so every transaction that wrote
 *             the range before has ended; then the source writes a mark,
 *             and once it is on the target (applied in commit order: all
 *             before it is too) every table's rows of the range are
 *             compared on both at once (count and a checksum of their text).
 *             A failure here (the mark not there within catch_up_s, a
 *             query, the map's write) records copying again, then fences
 *             the target again and lifts the source's fence: the range is
 *             not left refusing writes.
 *   switched  the target's fence lifted; then the new map under the next
 *             epoch, and the move's state, in one transaction on the catalog. Servers follow within a
 *             second; the fence stays on the source, so a server still on
 *             the old map is refused, learns the map, and is retried.
 *   done      once every live process reports the new epoch (model/nodes.h:
 *             with its node's lease), subscription and publication
 *             dropped; the source's copy of
 *             the range moved out of the live tables into the schema
 *             picogram_moved_<id> (or deleted, with --drop-source).
 *
 * Each state is committed on the catalog before the next step, so a move
 * killed anywhere is taken up by --resume (from its state) or undone by
 * --abort (before it switched: subscription, publication, the target's
 * rows and the source's fence go; after, it can only finish: move the
 * range back instead). The map never names a server before its copy of
 * the range was fenced, caught up and compared.
 */
#ifndef PICOGRAM_SHARDMOVE_H
#define PICOGRAM_SHARDMOVE_H

#include "config.h"

#include <stdbool.h>

/* Exit codes: 0; 1 (failed at run time; the move is left to --resume or
 * --abort); 2 (bad usage, nothing recorded: not PostgreSQL, a bad range, a
 * move already in progress, a target that is the source's database or
 * holds rows of the range, a source without wal_level = logical). */
/* catch_up_s: how long writes to the range may stay fenced while the
 * target catches up (SHARDS_CATCH_UP_S by default); past it, the fence is
 * lifted and the move stops, copying, for a --resume. */
#define SHARDS_CATCH_UP_S 60
int shards_move(const config_t *cfg, const char *range, const char *to, bool drop_source, int catch_up_s);
int shards_move_resume(const config_t *cfg, int catch_up_s);
int shards_move_abort(const config_t *cfg);
/* The moves in progress and the last finished ones, as a JSON array
 * (malloc'd), from the catalog at url; NULL if it cannot be read. */
char *shards_moves_json(const char *url);

#endif
