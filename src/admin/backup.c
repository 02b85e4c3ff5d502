/* Backup and restore of the embedded topology: see backup.h. */
#include "admin/backup.h"
#include "admin/admin.h"
#include "blob/blob.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/ids.h"
#include "db/db.h"
#include "images/images.h"
#include "model/media.h"
#include "model/users.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_DBS 64
#define PHOTO_MAX (64u << 20)

enum { OK = 0, FAILED = 1, USAGE = 2 };

#define say admin_say

/* The databases of a map, each once: its SQLite path and its file name in
 * the backup; and the ranges, each naming its database. */
typedef struct layout {
    size_t ndb;
    char path[MAX_DBS][4096];
    char file[MAX_DBS][300];
    size_t nranges;
    unsigned lo[MAX_DBS * 4], hi[MAX_DBS * 4];
    size_t db[MAX_DBS * 4];
} layout_t;

/* A spec of the same ranges over the files of lay in dir (malloc'd). */
static char *layout_spec(const layout_t *lay, const char *dir)
{
    buf_t b;
    buf_init(&b, 1u << 20);
    for (size_t i = 0; i < lay->nranges; i++)
        buf_printf(&b, "%s%u-%u=sqlite:%s/%s", i ? ";" : "", lay->lo[i], lay->hi[i], dir, lay->file[lay->db[i]]);
    return buf_steal(&b, NULL);
}

static int write_whole(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int rc = fs_write_all(fd, data, len);
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

/* ---- backup ---- */

static int snapshot(const char *src_path, const char *dst_path, char *err, size_t errlen)
{
    sqlite3 *src = NULL, *dst = NULL;
    int rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_open_v2(dst_path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(src, 10000);
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
        if (b == NULL) {
            rc = sqlite3_errcode(dst);
        } else {
            /* all pages in one step: one read transaction, one moment */
            for (int tries = 0; (rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED; tries++) {
                if (tries == 200)
                    break;
                sqlite3_sleep(50);
            }
            sqlite3_backup_finish(b);
        }
    }
    if (rc != SQLITE_DONE)
        snprintf(err, errlen, "%s", sqlite3_errmsg(dst ? dst : src));
    sqlite3_close(src);
    sqlite3_close(dst);
    return rc == SQLITE_DONE ? 0 : -1;
}

typedef struct backup {
    const char *out;
    blob_store_t *store;
    db_ctx_t *live, *copy;
    buf_t buf;
    long long media, files, bytes, dropped, missing, rekeyed;
    FILE *missing_list; /* a cluster backup's photos whose files the store had lost, by ID */
} backup_t;

/* The photo's renditions under file_key, into OUT/photos: BLOB_OK,
 * BLOB_ABSENT (one or more are not in the store), BLOB_ERROR. */
static int copy_photo(backup_t *bk, int64_t id, int64_t file_key)
{
    long long files = 0, bytes = 0;
    for (int i = 0; i < IMG_NRENDITIONS; i++) {
        char key[BLOB_KEY_MAX], path[4400];
        blob_media_key(key, sizeof(key), id, file_key, img_renditions[i].suffix);
        buf_reset(&bk->buf);
        int rc = blob_get(bk->store, key, &bk->buf);
        if (rc != BLOB_OK)
            return rc;
        snprintf(path, sizeof(path), "%s/photos/%s", bk->out, key);
        *strrchr(path, '/') = '\0';
        if (fs_mkdirs(path) != 0)
            return BLOB_ERROR;
        snprintf(path, sizeof(path), "%s/photos/%s", bk->out, key);
        if (write_whole(path, bk->buf.data ? bk->buf.data : "", bk->buf.len) != 0)
            return BLOB_ERROR;
        files++;
        bytes += (long long)bk->buf.len;
    }
    bk->files += files;
    bk->bytes += bytes;
    return BLOB_OK;
}

static void remove_photo(backup_t *bk, int64_t id, int64_t file_key)
{
    for (int i = 0; i < IMG_NRENDITIONS; i++) {
        char key[BLOB_KEY_MAX], path[4400];
        blob_media_key(key, sizeof(key), id, file_key, img_renditions[i].suffix);
        snprintf(path, sizeof(path), "%s/photos/%s", bk->out, key);
        unlink(path);
    }
}

/* A photo of the snapshot whose files are not (all) in the store now. */
static int photo_moved(backup_t *bk, db_conn_t *c, int64_t id, int64_t file_key)
{
    remove_photo(bk, id, file_key);
    int64_t now_key = 0;
    int rc = media_file_key(bk->live, id, &now_key);
    if (rc == MEDIA_ERROR)
        return say(FAILED, "the live database did not answer (photo %lld)", (long long)id);
    if (rc == MEDIA_OK && now_key != file_key) { /* given a file key since: its files now, and that key */
        int got = copy_photo(bk, id, now_key);
        if (got == BLOB_ERROR)
            return say(FAILED, "the photo store failed (photo %lld)", (long long)id);
        if (got == BLOB_OK) {
            db_stmt_t *s = db_q(c, Q_MEDIA_SET_FILE_KEY);
            db_bind_i64(s, 1, id);
            db_bind_i64(s, 2, now_key);
            if (db_exec_stmt(s) != DB_DONE || c->drv->changes(c) != 1)
                return say(FAILED, "cannot give photo %lld its file key in the backup", (long long)id);
            bk->rekeyed++;
            return OK;
        }
        remove_photo(bk, id, now_key); /* its files went too */
    }
    if (rc == MEDIA_OK) { /* its owner being deleted (delete-user takes the files first, then the row): as gone */
        media_t *m = xmalloc(sizeof(*m));
        user_t *u = xmalloc(sizeof(*u));
        int g = media_get(bk->copy, id, m);
        int ug = g == MEDIA_OK ? users_get_any(bk->live, m->user_id, u) : USERS_ERROR;
        if (g == MEDIA_ERROR || ug == USERS_ERROR)
            rc = MEDIA_ERROR;
        else if (ug == USERS_NOT_FOUND || u->suspended)
            rc = MEDIA_NOT_FOUND;
        free(m);
        free(u);
        if (rc == MEDIA_ERROR)
            return say(FAILED, "the live database did not answer (photo %lld)", (long long)id);
    }
    if (rc == MEDIA_NOT_FOUND) { /* deleted since the snapshot: out of the backup too */
        media_t *m = xmalloc(sizeof(*m));
        int64_t fk;
        int g = media_get(bk->copy, id, m);
        int d = g == MEDIA_OK ? media_delete(bk->copy, id, m->user_id, &fk) : g;
        free(m);
        if (d == MEDIA_ERROR)
            return say(FAILED, "cannot take photo %lld out of the backup", (long long)id);
        bk->dropped++;
        return OK;
    }
    bk->missing++; /* the store has lost it: kept, and named */
    fprintf(stderr, "picogram: photo %lld has a row but not all its files in the photo store (kept as it is)\n",
            (long long)id);
    return OK;
}

static int backup_one(void *arg, size_t d, int64_t id, int64_t file_key)
{
    backup_t *bk = arg;
    int rc = copy_photo(bk, id, file_key);
    if (rc == BLOB_ERROR)
        return say(FAILED, "the photo store or the disk failed (photo %lld): %s", (long long)id, strerror(errno));
    if (rc == BLOB_ABSENT && photo_moved(bk, db_physical(bk->copy, d), id, file_key) != OK)
        return FAILED;
    bk->media++;
    db_ctx_release(bk->live);
    return OK;
}

static int backup_photos(backup_t *bk)
{
    int rc = media_each_key(bk->copy, backup_one, bk);
    return rc < 0 ? say(FAILED, "%s", "cannot read the backup's databases") : rc;
}

/* The map's databases, which must all be SQLite. */
static int layout_of(const dbmap_t *map, layout_t *lay)
{
    memset(lay, 0, sizeof(*lay));
    lay->ndb = dbmap_count(map);
    if (lay->ndb > MAX_DBS)
        return say(USAGE, "more than %d databases", MAX_DBS);
    for (size_t i = 0; i < lay->ndb; i++) {
        const char *url = dbmap_url(map, i);
        if (strncmp(url, "sqlite:", 7) != 0)
            return say(USAGE, "backup copies SQLite databases; a PostgreSQL server's are backed up with "
                              "pg_basebackup and WAL archiving (see the README)");
        snprintf(lay->path[i], sizeof(lay->path[i]), "%s", url + 7);
        const char *base = strrchr(lay->path[i], '/');
        base = base ? base + 1 : lay->path[i];
        snprintf(lay->file[i], sizeof(lay->file[i]), "%.250s", base);
        for (size_t j = 0; j < i; j++)
            if (strcmp(lay->file[j], lay->file[i]) == 0) /* the same name in two directories */
                snprintf(lay->file[i], sizeof(lay->file[i]), "%zu-%.250s", i, base);
    }
    for (size_t i = 0; i < MAX_DBS * 4 && dbmap_range(map, i, &lay->lo[i], &lay->hi[i], &lay->db[i]); i++)
        lay->nranges = i + 1;
    return OK;
}

static int write_manifest(const backup_t *bk, const layout_t *lay, int schema, bool secret)
{
    buf_t b;
    buf_init(&b, 1u << 20);
    buf_printf(&b, "{\"format\":\"%s\",\"version\":%d,\"time\":%lld,\"schema\":%d,\"databases\":[", BACKUP_FORMAT,
               BACKUP_VERSION, (long long)time(NULL), schema);
    for (size_t i = 0; i < lay->ndb; i++) {
        buf_puts(&b, i ? "," : "");
        buf_json_cstr(&b, lay->file[i]);
    }
    buf_puts(&b, "],\"ranges\":[");
    for (size_t i = 0; i < lay->nranges; i++)
        buf_printf(&b, "%s[%u,%u,%zu]", i ? "," : "", lay->lo[i], lay->hi[i], lay->db[i]);
    buf_printf(
        &b, "],\"media\":%lld,\"files\":%lld,\"photo_bytes\":%lld,\"dropped\":%lld,\"missing\":%lld,\"secret\":%s}\n",
        bk->media - bk->dropped, bk->files, bk->bytes, bk->dropped, bk->missing, secret ? "true" : "false");
    char path[4200];
    snprintf(path, sizeof(path), "%s/backup.json", bk->out);
    int rc = fs_write_file(path, b.data, b.len, 0600);
    buf_free(&b);
    return rc;
}

/* Copies a small file whole (the secret), mode kept tight. */
static int copy_small(const char *from, const char *to)
{
    buf_t b;
    buf_init(&b, 1u << 20);
    FILE *f = fopen(from, "rb");
    char chunk[4096];
    size_t n;
    while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    int rc = f && !ferror(f) && !b.overflow ? fs_write_file(to, b.data ? b.data : "", b.len, 0600) : -1;
    if (f)
        fclose(f);
    buf_free(&b);
    return rc;
}

static int sync_tree(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = syncfs(fd); /* every file written under it, at once */
    close(fd);
    return rc;
}

/* What every backup begins with: the schemas checked, the photo store
 * opened, the new directory out made. */
static int backup_begin(const config_t *cfg, const dbmap_t *map, const char *out, backup_t *bk)
{
    char err[512];
    bk->out = out;
    buf_init(&bk->buf, PHOTO_MAX);
    if (db_check_schemas(map, err, sizeof(err)) != 0)
        return say(FAILED, "%s", err);
    blob_options_t bopt = {cfg->s3_access_key, cfg->s3_secret_key, cfg->s3_region};
    if ((bk->store = blob_open(cfg->photo_store, &bopt, err, sizeof(err))) == NULL)
        return say(USAGE, "%s", err);
    if (mkdir(out, 0700) != 0)
        return say(USAGE, "cannot make %s: %s%s", out, strerror(errno),
                   errno == EEXIST ? " (a backup goes into a new directory)" : "");
    return OK;
}

/* What every backup ends with before its manifest: the server secret
 * copied (*secret: whether there was one), everything synced. */
static int backup_end(const config_t *cfg, const char *out, bool *secret)
{
    *secret = cfg->secret_file && access(cfg->secret_file, R_OK) == 0;
    char dst[4400];
    snprintf(dst, sizeof(dst), "%s/secret", out);
    if (*secret && copy_small(cfg->secret_file, dst) != 0)
        return say(FAILED, "cannot copy the server secret %s", cfg->secret_file);
    if (sync_tree(out) != 0)
        return say(FAILED, "cannot sync %s: %s", out, strerror(errno));
    return OK;
}

/* ---- the cluster: PostgreSQL servers ---- */

/* A PostgreSQL map's part of a backup: on each server, a named restore
 * point, archived; then the photos of every row there is now. */
typedef struct pgpoint {
    char lsn[32], wal[32];
} pgpoint_t;

static PGresult *pg_one(PGconn *pg, const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *r = PQexecParams(pg, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        return r;
    PQclear(r);
    return NULL;
}

static const char *pg_why(PGconn *pg)
{
    const char *m = PQerrorMessage(pg);
    return m && *m ? m : "no answer\n";
}

/* Whether server i archives its WAL: OK, or why not. */
static int pg_check_archiving(PGconn *pg, size_t i)
{
    PGresult *r = pg_one(pg, "SELECT current_setting('archive_mode'), pg_is_in_recovery()::text", NULL);
    if (r == NULL)
        return say(FAILED, "PostgreSQL server %zu did not answer: %s", i, pg_why(pg));
    int rc = OK;
    if (strcmp(PQgetvalue(r, 0, 1), "true") == 0)
        rc = say(USAGE, "PostgreSQL server %zu is a replica: back up its primary", i);
    else if (strcmp(PQgetvalue(r, 0, 0), "on") != 0 && strcmp(PQgetvalue(r, 0, 0), "always") != 0)
        rc = say(USAGE,
                 "PostgreSQL server %zu does not archive its WAL (archive_mode is %s): a restore point "
                 "cannot be restored to without the archive (see the README, Backups)",
                 i, PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* Makes the restore point name on the server. */
static int pg_mark(PGconn *pg, size_t i, const char *name, pgpoint_t *pt)
{
    PGresult *r = pg_one(pg, "SELECT p::text, pg_walfile_name(p) FROM pg_create_restore_point($1) p", name);
    if (r == NULL)
        return say(FAILED, "cannot make a restore point on PostgreSQL server %zu: %s", i, pg_why(pg));
    snprintf(pt->lsn, sizeof(pt->lsn), "%s", PQgetvalue(r, 0, 0));
    snprintf(pt->wal, sizeof(pt->wal), "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return OK;
}

/* Has the WAL segment that holds the server's restore point archived (up to 60 s). */
static int pg_archive(PGconn *pg, size_t i, const pgpoint_t *pt)
{
    PGresult *r;
    if ((r = pg_one(pg, "SELECT pg_switch_wal()::text", NULL)) == NULL)
        return say(FAILED, "cannot switch the WAL of PostgreSQL server %zu: %s", i, pg_why(pg));
    PQclear(r);
    for (int tries = 0; tries < 600; tries++) {
        /* segment names sort as their order (the point's timeline is the server's now) */
        r = pg_one(pg, "SELECT coalesce(last_archived_wal, '') >= $1, failed_count::text FROM pg_stat_archiver",
                   pt->wal);
        if (r == NULL)
            return say(FAILED, "PostgreSQL server %zu did not answer: %s", i, pg_why(pg));
        bool done = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (done)
            return OK;
        usleep(100 * 1000);
    }
    return say(FAILED,
               "PostgreSQL server %zu has not archived WAL segment %s in 60 s: is its archive_command "
               "failing? (its log says)",
               i, pt->wal);
}

static int pg_backup_one(void *arg, size_t d, int64_t id, int64_t file_key)
{
    backup_t *bk = arg;
    (void)d;
    int rc = copy_photo(bk, id, file_key);
    if (rc == BLOB_ERROR)
        return say(FAILED, "the photo store or the disk failed (photo %lld): %s", (long long)id, strerror(errno));
    if (rc == BLOB_ABSENT) {
        remove_photo(bk, id, file_key);
        int64_t now_key = 0;
        int k = media_file_key(bk->live, id, &now_key);
        if (k == MEDIA_ERROR)
            return say(FAILED, "the live database did not answer (photo %lld)", (long long)id);
        if (k == MEDIA_OK && now_key == file_key) { /* still there: the store has lost its files; named, kept */
            bk->missing++;
            if (bk->missing_list == NULL || fprintf(bk->missing_list, "%lld\n", (long long)id) < 0)
                return say(FAILED, "cannot write %s/missing.txt", bk->out);
            if (bk->missing <= 10)
                fprintf(stderr,
                        "picogram: photo %lld has a row but not all its files in the photo store (a restore "
                        "keeps it as it is)\n",
                        (long long)id);
        } else { /* deleted (or re-keyed) since the row was read: its row is dropped at restore */
            bk->dropped++;
        }
    } else {
        bk->media++;
    }
    db_ctx_release(bk->live);
    return OK;
}

static int pg_backup(const config_t *cfg, const dbmap_t *map, const char *out)
{
    size_t n = dbmap_count(map);
    if (n > MAX_DBS)
        return say(USAGE, "more than %d databases", MAX_DBS);
    for (size_t i = 0; i < n; i++)
        if (strncmp(dbmap_url(map, i), "postgres", 8) != 0)
            return say(USAGE, "%s", "a map of SQLite and PostgreSQL databases together cannot be backed up");
    PGconn **pg = xcalloc(n, sizeof(*pg));
    pgpoint_t *pts = xcalloc(n, sizeof(*pts));
    int rc = OK;
    for (size_t i = 0; rc == OK && i < n; i++) {
        pg[i] = PQconnectdb(dbmap_url(map, i));
        rc = PQstatus(pg[i]) == CONNECTION_OK ? pg_check_archiving(pg[i], i)
                                              : say(FAILED, "cannot reach PostgreSQL server %zu: %s", i, pg_why(pg[i]));
    }
    backup_t bk = {.out = out};
    if (rc == OK)
        rc = backup_begin(cfg, map, out, &bk);
    else
        buf_init(&bk.buf, PHOTO_MAX);
    /* 1. the backup point: a restore point on each server, one after another */
    char name[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(name, sizeof(name), "picogram-%Y%m%dT%H%M%SZ", &tm);
    snprintf(name + strlen(name), sizeof(name) - strlen(name), "-%d", (int)getpid());
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long point_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    int64_t t0 = ids_mono_us();
    for (size_t i = 0; rc == OK && i < n; i++) /* the points, one right after another */
        rc = pg_mark(pg[i], i, name, &pts[i]);
    for (size_t i = 0; rc == OK && i < n; i++) /* then each archived */
        rc = pg_archive(pg[i], i, &pts[i]);
    int64_t t1 = ids_mono_us();
    /* 2. the photos of every row there is now: a superset of the point's, less those deleted since */
    int schema = -1;
    char listed[4400];
    snprintf(listed, sizeof(listed), "%s/missing.txt", out);
    if (rc == OK && (bk.missing_list = fopen(listed, "w")) == NULL)
        rc = say(FAILED, "cannot make %s: %s", listed, strerror(errno));
    if (rc == OK) {
        bk.live = db_ctx_new(map);
        if (media_each_key(bk.live, pg_backup_one, &bk) < 0)
            rc = say(FAILED, "%s", "cannot read the photos' rows");
        schema = rc == OK ? db_schema_version(db_physical(bk.live, 0)) : -1;
        db_ctx_free(bk.live);
    }
    if (bk.missing_list && fclose(bk.missing_list) != 0 && rc == OK)
        rc = say(FAILED, "cannot write %s: %s", listed, strerror(errno));
    bool secret = false;
    if (rc == OK)
        rc = backup_end(cfg, out, &secret);
    if (rc == OK) {
        buf_t b;
        buf_init(&b, 1u << 20);
        buf_printf(&b, "{\"format\":\"%s\",\"version\":%d,\"kind\":\"postgres\",\"time\":%lld,\"point_us\":%lld,",
                   BACKUP_FORMAT, BACKUP_VERSION, (long long)now, point_us);
        buf_printf(&b, "\"restore_point\":\"%s\",\"schema\":%d,\"servers\":[", name, schema);
        for (size_t i = 0; i < n; i++) { /* in the map's order: the restore maps each to its new server */
            char url[1024];
            db_url_redacted(dbmap_url(map, i), url, sizeof(url));
            buf_printf(&b, "%s{\"lsn\":\"%s\",\"wal\":\"%s\",\"url\":", i ? "," : "", pts[i].lsn, pts[i].wal);
            buf_json_cstr(&b, url);
            buf_putc(&b, '}');
        }
        buf_printf(&b,
                   "],\"media\":%lld,\"files\":%lld,\"photo_bytes\":%lld,\"dropped\":%lld,\"missing\":%lld,"
                   "\"secret\":%s}\n",
                   bk.media, bk.files, bk.bytes, bk.dropped, bk.missing, secret ? "true" : "false");
        char path[4200];
        snprintf(path, sizeof(path), "%s/backup.json", out);
        if (fs_write_file(path, b.data, b.len, 0600) != 0)
            rc = say(FAILED, "cannot write %s: %s", path, strerror(errno));
        buf_free(&b);
    }
    if (rc == OK)
        printf("restore point %s made and archived on %zu PostgreSQL server(s) in %.2f s; %lld photo(s) in %lld "
               "file(s) (%lld bytes) copied to %s; %lld deleted while copying left out, %lld with files the store "
               "has lost\n",
               name, n, (double)(t1 - t0) / 1e6, bk.media, bk.files, bk.bytes, out, bk.dropped, bk.missing);
    else if (rc == FAILED)
        fprintf(stderr, "picogram: %s is not a backup (it has no backup.json); remove it and try again\n", out);
    for (size_t i = 0; i < n; i++)
        PQfinish(pg[i]);
    free(pg);
    free(pts);
    buf_free(&bk.buf);
    blob_close(bk.store);
    return rc;
}

int backup_run(const config_t *cfg, const char *out)
{
    char err[512];
    dbmap_t *map = dbmap_new(cfg->database, cfg->sqlite_sync, err, sizeof(err));
    if (map == NULL)
        return say(USAGE, "%s", err);
    if (strncmp(dbmap_url(map, 0), "postgres", 8) == 0) {
        int rc = dbmap_load(map, err, sizeof(err)) < 0 ? say(FAILED, "%s", err) : pg_backup(cfg, map, out);
        dbmap_free(map);
        return rc;
    }
    layout_t *lay = xmalloc(sizeof(*lay));
    int rc = layout_of(map, lay);
    backup_t bk = {.out = out};
    if (rc == OK)
        rc = backup_begin(cfg, map, out, &bk);
    else
        buf_init(&bk.buf, PHOTO_MAX);
    if (rc == OK && lay->ndb > 1)
        fprintf(stderr,
                "picogram: %zu databases are copied one after another, not at one moment: the far side of a "
                "write between two copies (a follower list, a count, the tag index) may not match its "
                "near side in the backup (see the README)\n",
                lay->ndb);
    /* 1. each database at one moment */
    int64_t t0 = ids_mono_us();
    for (size_t i = 0; rc == OK && i < lay->ndb; i++) {
        char dst[4400];
        snprintf(dst, sizeof(dst), "%s/%s", out, lay->file[i]);
        if (snapshot(lay->path[i], dst, err, sizeof(err)) != 0)
            rc = say(FAILED, "the snapshot of %s failed: %s", lay->path[i], err);
    }
    int64_t t1 = ids_mono_us();
    /* 2. the photos of the snapshot's rows */
    dbmap_t *copy_map = NULL;
    if (rc == OK) {
        char *spec = layout_spec(lay, out);
        copy_map = dbmap_new(spec, "full", err, sizeof(err));
        free(spec);
        if (copy_map == NULL)
            rc = say(FAILED, "cannot open the snapshot: %s", err);
    }
    if (rc == OK) {
        bk.live = db_ctx_new(map);
        bk.copy = db_ctx_new(copy_map);
        rc = backup_photos(&bk);
    }
    int schema = rc == OK ? db_schema_version(db_physical(bk.copy, 0)) : -1;
    if (bk.live)
        db_ctx_free(bk.live);
    if (bk.copy)
        db_ctx_free(bk.copy);
    dbmap_free(copy_map);
    /* 3. the secret, then everything on disk, then the manifest that says it is whole */
    bool secret = false;
    if (rc == OK)
        rc = backup_end(cfg, out, &secret);
    if (rc == OK && write_manifest(&bk, lay, schema, secret) != 0)
        rc = say(FAILED, "cannot write %s/backup.json: %s", out, strerror(errno));
    if (rc == OK)
        printf("backed up %zu database(s) (%.2f s for the snapshot) and %lld photo(s) in %lld file(s) (%lld bytes) to "
               "%s; %lld photo(s) deleted during the backup left out, %lld with files the store has lost, %lld given "
               "a file key meanwhile\n",
               lay->ndb, (double)(t1 - t0) / 1e6, bk.media - bk.dropped, bk.files, bk.bytes, out, bk.dropped,
               bk.missing, bk.rekeyed);
    else if (rc == FAILED)
        fprintf(stderr, "picogram: %s is not a backup (it has no backup.json); remove it and try again\n", out);
    buf_free(&bk.buf);
    blob_close(bk.store);
    dbmap_free(map);
    free(lay);
    return rc;
}

/* ---- restore ---- */

static int copy_file(const char *from, const char *to, int mode, long long *bytes)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int outfd = in >= 0 ? open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) : -1;
    int rc = in >= 0 && outfd >= 0 ? 0 : -1;
    /* in the kernel where it can (a reflink on file systems that have them) */
    ssize_t n;
    bool kernel = rc == 0;
    while (kernel && (n = copy_file_range(in, NULL, outfd, NULL, 1 << 30, 0)) != 0) {
        if (n < 0) {
            kernel = false;
            if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
                rc = -1;
        } else {
            *bytes += n;
        }
    }
    char chunk[1 << 16];
    while (rc == 0 && !kernel && (n = read(in, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || fs_write_all(outfd, chunk, (size_t)n) != 0)
            rc = -1;
        else
            *bytes += n;
    }
    if (in >= 0)
        close(in);
    if (outfd >= 0 && close(outfd) != 0)
        rc = -1;
    return rc;
}

/* Copies the tree under from into to (made), file by file. */
static int copy_tree(const char *from, const char *to, long long *files, long long *bytes)
{
    if (fs_mkdirs(to) != 0)
        return -1;
    DIR *d = opendir(from);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char a[4096], b[4096];
        if ((size_t)snprintf(a, sizeof(a), "%s/%s", from, e->d_name) >= sizeof(a) ||
            (size_t)snprintf(b, sizeof(b), "%s/%s", to, e->d_name) >= sizeof(b))
            rc = -1;
        struct stat st;
        if (rc == 0 && lstat(a, &st) != 0)
            rc = -1;
        else if (rc == 0 && S_ISDIR(st.st_mode))
            rc = copy_tree(a, b, files, bytes);
        else if (rc == 0 && S_ISREG(st.st_mode) && (rc = copy_file(a, b, 0644, bytes)) == 0)
            (*files)++;
    }
    closedir(d);
    return rc;
}

static int integrity(const char *path, char *why, size_t whylen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        snprintf(why, whylen, "%s", r ? r : "?");
    } else {
        snprintf(why, whylen, "%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return strcmp(why, "ok") == 0 ? 0 : -1;
}

typedef struct unfiled {
    const char *data_dir;
    long long media, missing;
} unfiled_t;

static int check_one(void *arg, size_t d, int64_t id, int64_t file_key)
{
    unfiled_t *u = arg;
    bool whole = true;
    for (int r = 0; r < IMG_NRENDITIONS; r++) {
        char key[BLOB_KEY_MAX], path[4400];
        blob_media_key(key, sizeof(key), id, file_key, img_renditions[r].suffix);
        snprintf(path, sizeof(path), "%s/photos/%s", u->data_dir, key);
        whole &= access(path, F_OK) == 0;
    }
    u->missing += !whole;
    u->media++;
    return 0;
}

/* Photos of the restored databases without all their files (-1: they
 * could not be read); *media: how many photos there are. */
static long long count_unfiled(const layout_t *lay, const char *data_dir, long long *media)
{
    char *spec = layout_spec(lay, data_dir), err[256];
    dbmap_t *map = dbmap_new(spec, "full", err, sizeof(err));
    free(spec);
    if (map == NULL)
        return -1;
    db_ctx_t *db = db_ctx_new(map);
    unfiled_t u = {data_dir, 0, 0};
    int rc = media_each_key(db, check_one, &u);
    db_ctx_free(db);
    dbmap_free(map);
    *media = u.media;
    return rc == 0 ? u.missing : -1;
}

/* Whether dir is absent or an empty directory. */
static bool unused_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

static int read_layout(json_t *m, layout_t *lay)
{
    memset(lay, 0, sizeof(*lay));
    json_t *dbs = json_object_get(m, "databases"), *ranges = json_object_get(m, "ranges"), *v;
    size_t i;
    if (!json_is_array(dbs) || json_array_size(dbs) == 0 || json_array_size(dbs) > MAX_DBS || !json_is_array(ranges) ||
        json_array_size(ranges) == 0 || json_array_size(ranges) > MAX_DBS * 4)
        return -1;
    json_array_foreach(dbs, i, v)
    {
        const char *f = json_string_value(v);
        if (f == NULL || *f == '\0' || strchr(f, '/') || strcmp(f, "..") == 0 || strlen(f) >= sizeof(lay->file[0]))
            return -1; /* a name in the backup's directory, never a path */
        snprintf(lay->file[i], sizeof(lay->file[i]), "%s", f);
    }
    lay->ndb = json_array_size(dbs);
    json_array_foreach(ranges, i, v)
    {
        json_int_t lo = json_integer_value(json_array_get(v, 0)), hi = json_integer_value(json_array_get(v, 1)),
                   db = json_integer_value(json_array_get(v, 2));
        if (lo < 0 || hi < lo || hi >= IDS_NSHARDS || db < 0 || (size_t)db >= lay->ndb)
            return -1;
        lay->lo[i] = (unsigned)lo, lay->hi[i] = (unsigned)hi, lay->db[i] = (size_t)db;
    }
    lay->nranges = json_array_size(ranges);
    return 0;
}

/* The manifest of the backup in from, if it is one (a run killed part way
 * left none); else NULL, said. */
static json_t *read_manifest(const char *from)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/backup.json", from);
    json_error_t je;
    json_t *m = json_load_file(path, 0, &je);
    const char *format = m ? json_string_value(json_object_get(m, "format")) : NULL;
    if (format == NULL || strcmp(format, BACKUP_FORMAT) != 0) {
        say(USAGE, "%s is not a finished picogram backup (no readable backup.json)", from);
        json_decref(m);
        return NULL;
    }
    return m;
}

int restore_run(const char *from, const char *data_dir)
{
    char path[4400], err[512];
    json_t *m = read_manifest(from);
    layout_t *lay = xmalloc(sizeof(*lay));
    int rc = OK;
    if (m == NULL)
        rc = USAGE;
    else if (json_object_get(m, "kind") && json_is_string(json_object_get(m, "kind")))
        rc = say(USAGE, "%s is a backup of a cluster: restore it with scripts/cluster.sh restore (README, Backups)",
                 from);
    else if (json_integer_value(json_object_get(m, "version")) != BACKUP_VERSION || read_layout(m, lay) != 0)
        rc = say(USAGE, "%s is a backup this picogram cannot read (another version, or a damaged backup.json)", from);
    else if (json_integer_value(json_object_get(m, "schema")) > db_schema_latest())
        rc = say(USAGE, "%s is of schema %lld, newer than this picogram's (%d): restore it with a newer binary", from,
                 (long long)json_integer_value(json_object_get(m, "schema")), db_schema_latest());
    else if (!unused_dir(data_dir))
        rc = say(USAGE, "%s is not empty: restore into a new directory", data_dir);
    else if ((mkdir(data_dir, 0750) != 0 && errno != EEXIST) || chmod(data_dir, 0750) != 0)
        rc = say(FAILED, "cannot make %s: %s", data_dir, strerror(errno)); /* as the server makes its own */
    long long bytes = 0, files = 0;
    for (size_t i = 0; rc == OK && i < lay->ndb; i++) {
        char to[4400];
        snprintf(path, sizeof(path), "%s/%s", from, lay->file[i]);
        snprintf(to, sizeof(to), "%s/%s", data_dir, lay->file[i]);
        if (copy_file(path, to, 0640, &bytes) != 0) /* password hashes, e-mail addresses: not for everyone */
            rc = say(FAILED, "cannot copy %s to %s: %s", path, to, strerror(errno));
        else if (integrity(to, err, sizeof(err)) != 0)
            rc = say(FAILED, "%s fails its integrity check: %s", to, err);
    }
    char photos_from[4400], photos_to[4400];
    snprintf(photos_from, sizeof(photos_from), "%s/photos", from);
    snprintf(photos_to, sizeof(photos_to), "%s/photos", data_dir);
    if (rc == OK && copy_tree(photos_from, photos_to, &files, &bytes) != 0)
        rc = say(FAILED, "cannot copy the photos into %s: %s", photos_to, strerror(errno));
    if (rc == OK && json_is_true(json_object_get(m, "secret"))) {
        char to[4400];
        snprintf(path, sizeof(path), "%s/secret", from);
        snprintf(to, sizeof(to), "%s/secret", data_dir);
        if (copy_small(path, to) != 0)
            rc = say(FAILED, "cannot copy the server secret");
    }
    if (rc == OK && sync_tree(data_dir) != 0)
        rc = say(FAILED, "cannot sync %s: %s", data_dir, strerror(errno));
    long long media = 0, unfiled = rc == OK ? count_unfiled(lay, data_dir, &media) : 0;
    long long lost = m ? (long long)json_integer_value(json_object_get(m, "missing")) : 0;
    if (rc == OK && unfiled < 0)
        rc = say(FAILED, "cannot read the restored databases");
    else if (rc == OK && unfiled > lost)
        rc = say(FAILED, "%lld photo(s) of the restored databases lack files (the backup named %lld)", unfiled, lost);
    if (rc == OK) {
        char *spec = layout_spec(lay, data_dir);
        bool plain = lay->ndb == 1 && lay->nranges == 1 && strcmp(lay->file[0], "picogram.db") == 0;
        printf("restored %zu database(s) and %lld photo file(s) (%lld bytes in all; %lld photo(s), every one with its "
               "files%s) into %s; start it with:\n  picogram serve --data %s%s%s%s\n",
               lay->ndb, files, bytes, media, lost ? ", but those the backup named" : "", data_dir, data_dir,
               plain ? "" : " --database '", plain ? "" : spec, plain ? "" : "'");
        free(spec);
    } else if (rc == FAILED)
        fprintf(stderr, "picogram: %s holds a part of the restore: remove it before trying again\n", data_dir);
    json_decref(m);
    free(lay);
    return rc;
}

/* ---- restore, the cluster: the photos into a new cluster's store ---- */

typedef struct pgrestore {
    const char *from;
    db_ctx_t *db;
    blob_store_t *store;
    long long media, files, bytes, dropped, missing;
    int64_t *lost; /* the backup's photos whose files the store had lost (sorted): kept without them */
    size_t nlost;
} pgrestore_t;

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The backup's missing.txt, sorted: 0, or -1. */
static int read_lost(pgrestore_t *pr)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/missing.txt", pr->from);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    size_t cap = 0;
    long long id;
    while (fscanf(f, "%lld", &id) == 1) {
        if (pr->nlost == cap) {
            cap = cap ? cap * 2 : 1024;
            pr->lost = xrealloc(pr->lost, cap * sizeof(*pr->lost));
        }
        pr->lost[pr->nlost++] = id;
    }
    int rc = ferror(f) ? -1 : 0;
    fclose(f);
    qsort(pr->lost, pr->nlost, sizeof(*pr->lost), cmp_id);
    return rc;
}

/* Puts the renditions of one photo row from the backup into the store;
 * a row whose files the backup has not is deleted (through media_delete,
 * so counts and indexes follow): its photo was deleted after the point,
 * before the backup copied it, or made after the backup. */
static int pg_restore_one(void *arg, size_t d, int64_t id, int64_t file_key)
{
    pgrestore_t *pr = arg;
    (void)d;
    long long files = 0, bytes = 0;
    bool whole = true;
    for (int i = 0; whole && i < IMG_NRENDITIONS; i++) {
        char key[BLOB_KEY_MAX], path[4400];
        blob_media_key(key, sizeof(key), id, file_key, img_renditions[i].suffix);
        snprintf(path, sizeof(path), "%s/photos/%s", pr->from, key);
        size_t len = 0;
        char *data = fs_read_file(path, PHOTO_MAX, &len);
        if (data == NULL) {
            if (errno != ENOENT)
                return say(FAILED, "cannot read %s: %s", path, strerror(errno));
            whole = false;
            break;
        }
        int rc = blob_put(pr->store, key, data, len);
        free(data);
        if (rc != 0)
            return say(FAILED, "the photo store failed (photo %lld)", (long long)id);
        files++;
        bytes += (long long)len;
    }
    if (whole) {
        pr->media++;
        pr->files += files;
        pr->bytes += bytes;
        db_ctx_release(pr->db);
        return OK;
    }
    if (pr->nlost && bsearch(&id, pr->lost, pr->nlost, sizeof(*pr->lost), cmp_id)) {
        pr->missing++; /* its files were lost before the backup: kept as it was */
        return OK;
    }
    media_t *m = xmalloc(sizeof(*m));
    int64_t fk = 0;
    int g = media_get(pr->db, id, m);
    int rc = g == MEDIA_OK ? media_delete(pr->db, id, m->user_id, &fk) : g;
    free(m);
    db_ctx_release(pr->db);
    if (rc != MEDIA_OK && rc != MEDIA_NOT_FOUND)
        return say(FAILED, "cannot delete photo %lld, whose files the backup has not", (long long)id);
    media_delete_files(pr->store, id, file_key); /* the renditions put before the missing one */
    pr->dropped++;
    return OK;
}

/* Whether the file at path holds the same bytes as the one at other. */
static bool same_file(const char *path, const char *other)
{
    size_t a = 0, b = 0;
    char *x = fs_read_file(path, 1u << 20, &a), *y = fs_read_file(other, 1u << 20, &b);
    bool same = x && y && a == b && memcmp(x, y, a) == 0;
    free(x);
    free(y);
    return same;
}

/* The settings' server in place of the backed-up server at url (the
 * backup's i-th server, the settings' i-th; a URL that is the settings'
 * already stays: a restore run again); NULL if none. */
static const char *server_in_place(const dbmap_t *map, json_t *servers, const char *url)
{
    for (size_t j = 0; j < dbmap_count(map); j++)
        if (strcmp(dbmap_url(map, j), url) == 0)
            return dbmap_url(map, j);
    char red[1024];
    db_url_redacted(url, red, sizeof(red));
    for (size_t j = 0; j < json_array_size(servers) && j < dbmap_count(map); j++) {
        const char *was = json_string_value(json_object_get(json_array_get(servers, j), "url"));
        if (was && strcmp(was, red) == 0)
            return dbmap_url(map, j);
    }
    return NULL;
}

/* The map in the restored catalog (shards moved before the backup) names
 * the backed-up cluster's servers: each is given the URL the settings give
 * the server in its place (the backup's i-th server, the settings' i-th),
 * under the next epoch. */
static int remap_servers(const dbmap_t *map, json_t *m)
{
    json_t *servers = json_object_get(m, "servers");
    PGconn *c = PQconnectdb(dbmap_url(map, 0));
    PGresult *r = NULL;
    int rc = OK;
    if (PQstatus(c) != CONNECTION_OK)
        rc = say(FAILED, "cannot reach the restored first database: %s", pg_why(c));
    else if ((r = PQexec(c, "SELECT epoch::text, spec FROM shard_maps ORDER BY epoch DESC LIMIT 1")) == NULL ||
             PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = say(FAILED, "cannot read the restored shard map: %s", pg_why(c));
    if (rc != OK || PQntuples(r) == 0) { /* no shard has moved: the settings' map is the map */
        PQclear(r);
        PQfinish(c);
        return rc;
    }
    buf_t spec;
    buf_init(&spec, 1u << 20);
    for (const char *p = PQgetvalue(r, 0, 1); rc == OK && *p;) {
        const char *eq = strchr(p, '='), *semi = strchr(p, ';');
        size_t len = semi ? (size_t)(semi - p) : strlen(p);
        if (eq == NULL || (semi && eq > semi)) {
            rc = say(FAILED, "%s", "the restored shard map cannot be read");
            break;
        }
        char url[1024];
        snprintf(url, sizeof(url), "%.*s", (int)(len - (size_t)(eq + 1 - p)), eq + 1);
        const char *now = server_in_place(map, servers, url);
        if (now == NULL)
            rc = say(USAGE, "the backup's shard map names %s, which the settings have no server in place of", url);
        else
            buf_printf(&spec, "%s%.*s%s", spec.len ? ";" : "", (int)(eq + 1 - p), p, now);
        p += len + (semi != NULL);
    }
    if (rc == OK) {
        buf_putc(&spec, '\0');
        char now[32];
        snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
        const char *params[3] = {PQgetvalue(r, 0, 0), spec.data, now};
        PGresult *w = PQexecParams(c,
                                   "INSERT INTO shard_maps (epoch, spec, made_at) VALUES ($1::bigint + 1, $2, "
                                   "$3::bigint)",
                                   3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(w) != PGRES_COMMAND_OK)
            rc = say(FAILED, "cannot write the restored shard map: %s", pg_why(c));
        PQclear(w);
    }
    /* the moves' ends too: an --abort in the restored cluster acts on its servers, never the backed-up ones */
    PGresult *moves = rc == OK ? PQexec(c, "SELECT id::text, source, target FROM shard_moves") : NULL;
    for (int i = 0; moves && PQresultStatus(moves) == PGRES_TUPLES_OK && i < PQntuples(moves) && rc == OK; i++) {
        const char *src = server_in_place(map, servers, PQgetvalue(moves, i, 1));
        const char *dst = server_in_place(map, servers, PQgetvalue(moves, i, 2));
        const char *params[3] = {PQgetvalue(moves, i, 0), src ? src : PQgetvalue(moves, i, 1),
                                 dst ? dst : PQgetvalue(moves, i, 2)};
        PGresult *w = PQexecParams(c, "UPDATE shard_moves SET source = $2, target = $3 WHERE id = $1::bigint", 3, NULL,
                                   params, NULL, NULL, 0);
        if (PQresultStatus(w) != PGRES_COMMAND_OK)
            rc = say(FAILED, "cannot write the restored shard moves: %s", pg_why(c));
        PQclear(w);
    }
    PQclear(moves);
    PGresult *moving =
        rc == OK ? PQexec(c, "SELECT count(*) FROM shard_moves WHERE state NOT IN ('done', 'aborted')") : NULL;
    if (moving && PQresultStatus(moving) == PGRES_TUPLES_OK && atoi(PQgetvalue(moving, 0, 0)) > 0)
        fprintf(stderr, "picogram: a shard move was in progress at the backup: 'picogram shards move --abort' undoes "
                        "it in the restored cluster\n");
    PQclear(moving);
    buf_free(&spec);
    PQclear(r);
    PQfinish(c);
    return rc;
}

int restore_cluster(const char *from, const config_t *cfg)
{
    char path[4400], err[512];
    json_t *m = read_manifest(from);
    const char *kind = m ? json_string_value(json_object_get(m, "kind")) : NULL;
    int rc = OK;
    if (m == NULL)
        rc = USAGE;
    else if (json_integer_value(json_object_get(m, "version")) != BACKUP_VERSION)
        rc = say(USAGE, "%s is a backup this picogram cannot read (another version)", from);
    else if (kind == NULL || strcmp(kind, "postgres") != 0)
        rc =
            say(USAGE, "%s is a backup of SQLite databases: restore it with picogram restore DEST --data NEWDIR", from);
    else if (json_integer_value(json_object_get(m, "schema")) > db_schema_latest())
        rc = say(USAGE, "%s is of schema %lld, newer than this picogram's (%d): restore it with a newer binary", from,
                 (long long)json_integer_value(json_object_get(m, "schema")), db_schema_latest());
    dbmap_t *map = rc == OK ? dbmap_new(cfg->database, cfg->sqlite_sync, err, sizeof(err)) : NULL;
    if (rc == OK && map == NULL)
        rc = say(USAGE, "%s", err);
    for (size_t i = 0; rc == OK && i < dbmap_count(map); i++)
        if (strncmp(dbmap_url(map, i), "postgres", 8) != 0)
            rc = say(USAGE, "%s", "the settings' databases must be the restored PostgreSQL servers");
    if (rc == OK && db_check_schemas(map, err, sizeof(err)) != 0)
        rc = say(FAILED, "%s (restore the PostgreSQL servers first: scripts/cluster.sh restore)", err);
    if (rc == OK)
        rc = remap_servers(map, m);
    if (rc == OK && dbmap_load(map, err, sizeof(err)) < 0) /* where shards had moved */
        rc = say(FAILED, "%s", err);
    /* the secret first: tokens, sessions and apps' secrets depend on it */
    bool secret = rc == OK && json_is_true(json_object_get(m, "secret"));
    snprintf(path, sizeof(path), "%s/secret", from);
    if (secret && cfg->secret_file == NULL)
        rc = say(USAGE, "%s", "the backup holds the server secret, and the settings name no secret_file");
    else if (secret && access(cfg->secret_file, F_OK) == 0 && !same_file(path, cfg->secret_file))
        rc = say(USAGE, "%s is another server secret than the backup's: the restored cluster needs %s",
                 cfg->secret_file, path);
    else if (secret && access(cfg->secret_file, F_OK) != 0 && copy_small(path, cfg->secret_file) != 0)
        rc = say(FAILED, "cannot write the server secret %s: %s", cfg->secret_file, strerror(errno));
    blob_options_t bopt = {cfg->s3_access_key, cfg->s3_secret_key, cfg->s3_region};
    pgrestore_t pr = {.from = from};
    if (rc == OK && (pr.store = blob_open(cfg->photo_store, &bopt, err, sizeof(err))) == NULL)
        rc = say(USAGE, "%s", err);
    if (rc == OK && read_lost(&pr) != 0)
        rc = say(FAILED, "cannot read %s/missing.txt", from);
    int64_t t0 = ids_mono_us();
    if (rc == OK) {
        pr.db = db_ctx_new(map);
        int e = media_each_key(pr.db, pg_restore_one, &pr);
        if (e < 0)
            rc = say(FAILED, "%s", "cannot read the photos' rows");
        else if (e != 0)
            rc = FAILED;
        db_ctx_free(pr.db);
    }
    double secs = (double)(ids_mono_us() - t0) / 1e6;
    if (rc == OK)
        printf("restored %lld photo(s) in %lld file(s) (%lld bytes, %.1f MB/s) into the photo store; %lld photo row(s) "
               "whose files the backup has not (deleted after the restore point, or made after the backup) "
               "deleted; %lld whose files the store had lost before the backup kept without them\n",
               pr.media, pr.files, pr.bytes, secs > 0 ? (double)pr.bytes / 1e6 / secs : 0.0, pr.dropped, pr.missing);
    free(pr.lost);
    blob_close(pr.store);
    dbmap_free(map);
    json_decref(m);
    return rc;
}
