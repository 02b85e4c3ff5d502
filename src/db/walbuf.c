/*
 * walbuf: the write connection's WAL appends, one write(2) a commit.
 *
 * SQLite appends each WAL frame as two writes, its 24-byte header and then
 * its page: a comment that changes ten pages made twenty pwrite(2)s, on
 * machines where a system call is dear (BENCHMARKS.md, "Write groups").
 * This VFS wraps the default one for the writer's connection only (see
 * src/db/sqlite.c), and holds a WAL's appends in memory until the page of
 * a commit frame (a frame header whose "database size" field is not 0),
 * then writes them with one pwrite a 124 KiB, inside SQLite's own xWrite of that
 * page. So by the time SQLite publishes the commit in the WAL index (where
 * other connections find its frames), every frame of it is in the file, and
 * a failed write fails the commit as it always did.
 *
 * What is held: only appends, writes at or past the highest byte written
 * since the WAL last started again (a write at offset 0 is its header,
 * written again at each restart). Writes into what is already there (a
 * page written twice in one transaction, and the checksums SQLite then
 * rewrites, after the commit frame) go through at once, after what is held.
 * Anything else on the WAL file (a read, a sync, its size, a truncation,
 * its closing) first writes out what is held. As a last guard, SQLite's
 * barrier before it publishes a commit (xShmBarrier, on the connection's
 * database file, linked to its WAL file when that opens) writes out
 * anything still held; if that write fails, the process aborts rather
 * than publish frames that are not in the file.
 *
 * Only the writer's connection uses it, always under the writer's mutex:
 * the held bytes need no lock of their own.
 */
#include "db/walbuf.h"
#include "obs/log.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* HDR: a frame header's size. CHUNK: a write, at most (the default VFS
 * writes at most 128 KiB less a byte at a time, and calls a shorter write
 * a full disk) */
enum { HDR = 24, HELD_MAX = 8 << 20, CHUNK = 124 << 10 };

typedef struct wb_file {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, allocated after this struct */
    bool wal;
    char *name;                /* a database file's, while open (to link its WAL) */
    struct wb_file *link;      /* a database file's WAL file, or a WAL file's database file */
    struct wb_file *next;      /* in mains */
    /* a WAL's held appends: held bytes from offset at */
    unsigned char *held;
    size_t n, cap;
    sqlite3_int64 at;
    sqlite3_int64 end;   /* the highest byte written since the WAL started again */
    bool commit_next;    /* the last held write was a commit frame's header: its page ends the commit */
} wb_file_t;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs wb_vfs;
static unsigned long long writes_made; /* pwrites of held bytes (for tests) */
static pthread_mutex_t mains_mu = PTHREAD_MUTEX_INITIALIZER;
static wb_file_t *mains; /* the open database files, for their WAL files to find */

static int wb_flush(wb_file_t *f)
{
    if (f->n == 0)
        return SQLITE_OK;
    int rc = SQLITE_OK;
    for (size_t done = 0; done < f->n && rc == SQLITE_OK; done += CHUNK) {
        size_t len = f->n - done < CHUNK ? f->n - done : CHUNK;
        rc = f->real->pMethods->xWrite(f->real, f->held + done, (int)len, f->at + (sqlite3_int64)done);
        __atomic_add_fetch(&writes_made, 1, __ATOMIC_RELAXED);
    }
    f->n = 0;
    f->commit_next = false;
    return rc;
}

static int wb_close(sqlite3_file *p)
{
    wb_file_t *f = (wb_file_t *)p;
    int rc = wb_flush(f);
    int rc2 = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    free(f->held);
    f->held = NULL;
    pthread_mutex_lock(&mains_mu);
    if (f->link != NULL)
        f->link->link = NULL;
    for (wb_file_t **q = &mains; *q; q = &(*q)->next)
        if (*q == f) {
            *q = f->next;
            break;
        }
    pthread_mutex_unlock(&mains_mu);
    free(f->name);
    f->name = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *p, void *buf, int amt, sqlite3_int64 off)
{
    wb_file_t *f = (wb_file_t *)p;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, buf, amt, off);
}

static int wb_write(sqlite3_file *p, const void *buf, int amt, sqlite3_int64 off)
{
    wb_file_t *f = (wb_file_t *)p;
    if (!f->wal || f->link == NULL) /* not a WAL, or one without its guard: nothing held */
        return f->real->pMethods->xWrite(f->real, buf, amt, off);
    if (off == 0)
        f->end = 0; /* the WAL's header: it starts again */
    bool append = off >= f->end && (f->n == 0 || off == f->at + (sqlite3_int64)f->n);
    if (!append) {
        int rc = wb_flush(f);
        if (rc == SQLITE_OK)
            rc = f->real->pMethods->xWrite(f->real, buf, amt, off);
        if (rc == SQLITE_OK && off + amt > f->end)
            f->end = off + amt;
        return rc;
    }
    if (f->n + (size_t)amt > HELD_MAX) {
        bool commit_next = f->commit_next; /* this write may be the commit frame's page still */
        int rc = wb_flush(f);
        if (rc != SQLITE_OK)
            return rc;
        f->commit_next = commit_next;
    }
    if (f->n + (size_t)amt > f->cap) {
        size_t cap = f->cap ? f->cap : 1 << 16;
        while (cap < f->n + (size_t)amt)
            cap *= 2;
        unsigned char *h = realloc(f->held, cap);
        if (h == NULL) { /* through, as the default VFS would */
            int rc = wb_flush(f);
            if (rc == SQLITE_OK)
                rc = f->real->pMethods->xWrite(f->real, buf, amt, off);
            if (rc == SQLITE_OK)
                f->end = off + amt;
            return rc;
        }
        f->held = h;
        f->cap = cap;
    }
    if (f->n == 0)
        f->at = off;
    memcpy(f->held + f->n, buf, (size_t)amt);
    f->n += (size_t)amt;
    f->end = off + amt;
    bool ends_commit = f->commit_next;
    const unsigned char *h = buf;
    f->commit_next = amt == HDR && (h[4] | h[5] | h[6] | h[7]) != 0; /* big-endian "database size" */
    return ends_commit ? wb_flush(f) : SQLITE_OK;
}

static int wb_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    wb_file_t *f = (wb_file_t *)p;
    int rc = wb_flush(f);
    if (rc == SQLITE_OK && f->end > size)
        f->end = size;
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wb_sync(sqlite3_file *p, int flags)
{
    wb_file_t *f = (wb_file_t *)p;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wb_file_size(sqlite3_file *p, sqlite3_int64 *size)
{
    wb_file_t *f = (wb_file_t *)p;
    int rc = wb_flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

#define REAL(p) (((wb_file_t *)(p))->real)

static int wb_lock(sqlite3_file *p, int l)
{
    return REAL(p)->pMethods->xLock(REAL(p), l);
}

static int wb_unlock(sqlite3_file *p, int l)
{
    return REAL(p)->pMethods->xUnlock(REAL(p), l);
}

static int wb_check_reserved(sqlite3_file *p, int *out)
{
    return REAL(p)->pMethods->xCheckReservedLock(REAL(p), out);
}

static int wb_file_control(sqlite3_file *p, int op, void *arg)
{
    return REAL(p)->pMethods->xFileControl(REAL(p), op, arg);
}

static int wb_sector_size(sqlite3_file *p)
{
    return REAL(p)->pMethods->xSectorSize(REAL(p));
}

static int wb_device_characteristics(sqlite3_file *p)
{
    return REAL(p)->pMethods->xDeviceCharacteristics(REAL(p));
}

static int wb_shm_map(sqlite3_file *p, int pg, int pgsz, int extend, void volatile **out)
{
    return REAL(p)->pMethods->xShmMap(REAL(p), pg, pgsz, extend, out);
}

static int wb_shm_lock(sqlite3_file *p, int offset, int n, int flags)
{
    return REAL(p)->pMethods->xShmLock(REAL(p), offset, n, flags);
}

static void wb_shm_barrier(sqlite3_file *p)
{
    /* the last guard: nothing of a commit may still be held when SQLite
     * publishes it (the commit frame's page should have written it all) */
    wb_file_t *wal = ((wb_file_t *)p)->link;
    if (wal != NULL && wal->n > 0 && wb_flush(wal) != SQLITE_OK) {
        log_error("sqlite: the WAL's held frames could not be written before their commit was published: aborting");
        abort();
    }
    REAL(p)->pMethods->xShmBarrier(REAL(p));
}

static int wb_shm_unmap(sqlite3_file *p, int del)
{
    return REAL(p)->pMethods->xShmUnmap(REAL(p), del);
}

static int wb_fetch(sqlite3_file *p, sqlite3_int64 off, int amt, void **out)
{
    return REAL(p)->pMethods->xFetch(REAL(p), off, amt, out);
}

static int wb_unfetch(sqlite3_file *p, sqlite3_int64 off, void *ptr)
{
    return REAL(p)->pMethods->xUnfetch(REAL(p), off, ptr);
}

static const sqlite3_io_methods wb_methods = {
    .iVersion = 3,
    .xClose = wb_close,
    .xRead = wb_read,
    .xWrite = wb_write,
    .xTruncate = wb_truncate,
    .xSync = wb_sync,
    .xFileSize = wb_file_size,
    .xLock = wb_lock,
    .xUnlock = wb_unlock,
    .xCheckReservedLock = wb_check_reserved,
    .xFileControl = wb_file_control,
    .xSectorSize = wb_sector_size,
    .xDeviceCharacteristics = wb_device_characteristics,
    .xShmMap = wb_shm_map,
    .xShmLock = wb_shm_lock,
    .xShmBarrier = wb_shm_barrier,
    .xShmUnmap = wb_shm_unmap,
    .xFetch = wb_fetch,
    .xUnfetch = wb_unfetch,
};

static int wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags, int *out_flags)
{
    (void)vfs;
    wb_file_t *f = (wb_file_t *)p;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)(f + 1);
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    /* SQLite calls xClose if pMethods is set, even when xOpen failed */
    p->pMethods = f->real->pMethods ? &wb_methods : NULL;
    if (rc != SQLITE_OK || name == NULL || p->pMethods == NULL)
        return rc;
    size_t len = strlen(name);
    pthread_mutex_lock(&mains_mu);
    if (flags & SQLITE_OPEN_MAIN_DB) {
        f->name = strdup(name);
        if (f->name != NULL) {
            f->next = mains;
            mains = f;
        }
    } else if (f->wal && len > 4) { /* "<database>-wal": its database file's barrier guards it */
        for (wb_file_t *m = mains; m; m = m->next)
            if (m->link == NULL && strlen(m->name) == len - 4 && memcmp(m->name, name, len - 4) == 0) {
                m->link = f;
                f->link = m;
                break;
            }
    }
    pthread_mutex_unlock(&mains_mu);
    return rc;
}

/* The rest is the default VFS's own. */
static int wb_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
    (void)v;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}
static int wb_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int wb_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static int wb_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}
static int wb_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}
static int wb_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, out);
}
static int wb_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xGetLastError(real_vfs, n, out);
}
static int wb_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

const char *db_walbuf_vfs(void)
{
    if (real_vfs != NULL)
        return wb_vfs.zName;
    real_vfs = sqlite3_vfs_find(NULL);
    if (real_vfs == NULL || real_vfs->iVersion < 2)
        return NULL;
    wb_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(wb_file_t) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = "picogram-walbuf",
        .xOpen = wb_open,
        .xDelete = wb_delete,
        .xAccess = wb_access,
        .xFullPathname = wb_full_pathname,
        .xRandomness = wb_randomness,
        .xSleep = wb_sleep,
        .xCurrentTime = wb_current_time,
        .xGetLastError = wb_last_error,
        .xCurrentTimeInt64 = wb_current_time64,
    };
    if (sqlite3_vfs_register(&wb_vfs, 0) != SQLITE_OK) {
        real_vfs = NULL;
        return NULL;
    }
    return wb_vfs.zName;
}

unsigned long long db_walbuf_writes(void)
{
    return __atomic_load_n(&writes_made, __ATOMIC_RELAXED);
}
