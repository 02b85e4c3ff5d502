#include "model/photo_keys.h"
#include "core/ids.h"
#include "images/images.h"
#include "obs/log.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define COPY_BATCH 50
#define GC_BATCH 500

static void rendition_keys(int64_t id, int64_t file_key, char keys[IMG_NRENDITIONS][BLOB_KEY_MAX])
{
    for (int i = 0; i < IMG_NRENDITIONS; i++)
        blob_media_key(keys[i], BLOB_KEY_MAX, id, file_key, img_renditions[i].suffix);
}

/* One photo: new names first, then the row's key. False on a database error. */
static bool rekey_one(photo_keys_ctx_t *x, db_conn_t *c, int64_t id)
{
    int64_t fk = blob_new_file_key();
    char from[IMG_NRENDITIONS][BLOB_KEY_MAX], to[IMG_NRENDITIONS][BLOB_KEY_MAX];
    rendition_keys(id, 0, from);
    rendition_keys(id, fk, to);
    int copied = 0;
    while (copied < IMG_NRENDITIONS && blob_copy(x->store, from[copied], to[copied]) == 0)
        copied++;
    bool taken = false;
    if (copied == IMG_NRENDITIONS) {
        db_stmt_t *s = db_q(c, Q_MEDIA_SET_FILE_KEY);
        db_bind_i64(s, 1, id);
        db_bind_i64(s, 2, fk);
        if (db_exec_stmt(s) != DB_DONE)
            return false;
        taken = c->drv->changes(c) == 1;
    } else {
        /* deleted meanwhile, or its files are missing: left as it is */
        log_warn("photo_rekey: media %lld has no complete set of files; left unkeyed", (long long)id);
    }
    if (!taken)
        for (int i = 0; i < copied; i++)
            blob_del(x->store, to[i]);
    else
        cache_del(x->cache, CACHE_MEDIA, id);
    return true;
}

static int copy_batch(photo_keys_ctx_t *x, db_conn_t *c, int64_t *last)
{
    int64_t ids[COPY_BATCH];
    int n = 0;
    db_stmt_t *s = db_q(c, Q_MEDIA_UNKEYED);
    db_bind_i64(s, 1, *last);
    db_bind_i64(s, 2, COPY_BATCH);
    if (db_read_ids(s, COPY_BATCH, ids, &n) != DB_DONE)
        return -1;
    for (int i = 0; i < n; i++) {
        if (!rekey_one(x, c, ids[i]))
            return -1;
        *last = ids[i];
    }
    return n;
}

static int gc_batch(photo_keys_ctx_t *x, db_conn_t *c, int64_t *last, int64_t bound)
{
    int64_t ids[GC_BATCH], keys[GC_BATCH];
    int n = 0;
    db_stmt_t *s = db_q(c, Q_MEDIA_KEYED_RANGE);
    db_bind_i64(s, 1, *last);
    db_bind_i64(s, 2, bound);
    db_bind_i64(s, 3, GC_BATCH);
    if (db_read_id_pairs(s, GC_BATCH, ids, keys, &n) != DB_DONE)
        return -1;
    for (int i = 0; i < n; i++) {
        if (keys[i] != 0) { /* keyed: its old names go (a photo that never had them costs a failed unlink) */
            char old[IMG_NRENDITIONS][BLOB_KEY_MAX];
            rendition_keys(ids[i], 0, old);
            for (int r = 0; r < IMG_NRENDITIONS; r++)
                if (blob_del(x->store, old[r]) != 0)
                    return -1;
        }
        *last = ids[i];
    }
    return n;
}

int photo_rekey_job(db_ctx_t *db, char *payload, void *ctx)
{
    photo_keys_ctx_t *x = ctx;
    char phase[8];
    unsigned dbi;
    long long last, bound;
    if (sscanf(payload, "%7s %u %lld %lld", phase, &dbi, &last, &bound) != 4 ||
        (strcmp(phase, "copy") != 0 && strcmp(phase, "gc") != 0)) {
        log_error("photo_rekey: bad payload '%s'", payload);
        return JOB_DONE;
    }
    bool copying = strcmp(phase, "copy") == 0;
    if (dbi >= db_count(db)) {
        if (!copying)
            return JOB_DONE; /* every database done */
        /* copies done everywhere: the old names go later, in a job of their own */
        db_conn_t *c0 = db_physical(db, 0);
        char next[JOB_PAYLOAD_MAX + 1];
        snprintf(next, sizeof(next), "gc 0 0 %lld", bound);
        if (c0 == NULL || jobs_enqueue_at(c0, "photo_rekey", next, ids_now_ms() + x->gc_delay_ms) != DB_DONE)
            return JOB_RETRY;
        return JOB_DONE;
    }
    db_conn_t *c = db_physical(db, dbi);
    if (c == NULL)
        return JOB_RETRY;
    int64_t at = last;
    int n = copying ? copy_batch(x, c, &at) : gc_batch(x, c, &at, bound);
    if (n < 0)
        return JOB_RETRY;
    if (n == 0)
        dbi++, at = 0; /* this database is done: the next */
    snprintf(payload, JOB_PAYLOAD_MAX + 1, "%s %u %lld %lld", phase, dbi, (long long)at, bound);
    return JOB_CONTINUE;
}

int photo_rekey_schedule(db_ctx_t *db)
{
    bool unkeyed = false;
    for (size_t i = 0; i < db_count(db) && !unkeyed; i++) {
        db_conn_t *c = db_physical(db, i);
        if (c == NULL)
            return -1;
        int64_t id;
        int n = 0;
        db_stmt_t *s = db_q(c, Q_MEDIA_UNKEYED);
        db_bind_i64(s, 1, 0);
        db_bind_i64(s, 2, 1);
        if (db_read_ids(s, 1, &id, &n) != DB_DONE)
            return -1;
        unkeyed = n > 0;
    }
    if (!unkeyed)
        return 0;
    db_conn_t *c0 = db_physical(db, 0);
    long live = c0 ? jobs_live(c0, "photo_rekey") : -1;
    if (live < 0)
        return -1;
    if (live > 0)
        return 0;
    char payload[64];
    snprintf(payload, sizeof(payload), "copy 0 0 %lld", (long long)ids_floor_for_ms(ids_now_ms()));
    if (jobs_enqueue(c0, 0, "photo_rekey", payload) != DB_DONE)
        return -1;
    log_info("photo store: giving photos stored before file keys a random key (job photo_rekey)");
    jobs_kick();
    return 0;
}
