/*
 * photo_keys: gives photos stored before file keys existed (file_key 0,
 * files named "media/<shard>/<id>_<size>.jpg", found from the media ID
 * alone) a random file key, and takes their old names away.
 *
 * DESIGN
 * One job, "photo_rekey", scheduled at start-up while any such photo is
 * left. Its payload walks each physical database in turn:
 *   "copy DB LASTID BOUND"  a batch: for each unkeyed photo after LASTID, a
 *                           new key; each rendition copied (a hard link in
 *                           the file store) to its new name; then the row
 *                           takes the key (UPDATE ... WHERE file_key = 0),
 *                           and its cached media object goes.
 *   "gc DB LASTID BOUND"    ten minutes after the last copy (so pages
 *                           rendered with the old URLs just before still
 *                           load), the old names of every photo older than
 *                           BOUND (the ID floor of when the job began) are
 *                           deleted.
 * A crash at any point is safe: copies made for a row that never took
 * their key, and old names of rows that did, are files whose name does not
 * match their row's key, which the start-up sweep moves aside.
 */
#ifndef PICOGRAM_PHOTO_KEYS_H
#define PICOGRAM_PHOTO_KEYS_H

#include "blob/blob.h"
#include "cache/cache.h"
#include "db/db.h"
#include "jobs/jobs.h"

typedef struct photo_keys_ctx {
    blob_store_t *store;
    cache_t *cache;
    int64_t gc_delay_ms; /* from the last copy to the old names' removal */
} photo_keys_ctx_t;

/* The job handler; ctx is a photo_keys_ctx_t. */
int photo_rekey_job(db_ctx_t *db, char *payload, void *ctx);
/* Enqueues the job if a photo without a file key is left and the job is
 * not already waiting. 0, or -1 on a database error. */
int photo_rekey_schedule(db_ctx_t *db);

#endif
