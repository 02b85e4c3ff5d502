/*
 * The file backend of the photo store: a directory. A put writes
 * KEY.tmp.RANDOM, fsyncs it, renames it to KEY and fsyncs the directory, so a
 * key either does not exist or holds all its bytes, across crashes and
 * power loss.
 */
#include "blob/blob.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "obs/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct file_store {
    blob_store_t base;
    char *dir;
} file_store_t;

static blob_store_t *file_open(const char *target, const blob_options_t *opt, char *err, size_t errlen)
{
    (void)opt;
    if (*target == '\0' || fs_mkdirs(target) != 0) {
        snprintf(err, errlen, "cannot create photo store directory '%s': %s", target, strerror(errno));
        return NULL;
    }
    file_store_t *s = xcalloc(1, sizeof(*s));
    s->base.be = &blob_backend_file;
    s->dir = xstrdup(target);
    return &s->base;
}

static void file_close(blob_store_t *b)
{
    file_store_t *s = (file_store_t *)b;
    free(s->dir);
    free(s);
}

static int file_put(blob_store_t *b, const char *key, const void *data, size_t len)
{
    file_store_t *s = (file_store_t *)b;
    char path[4096], dir[4096];
    snprintf(path, sizeof(path), "%s/%s", s->dir, key);
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    if (fs_mkdirs(dir) != 0) {
        log_error("photo store: cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (fs_write_file(path, data, len, 0644) != 0) {
        log_error("photo store: cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int file_del(blob_store_t *b, const char *key)
{
    file_store_t *s = (file_store_t *)b;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", s->dir, key);
    if (unlink(path) != 0 && errno != ENOENT) {
        log_error("photo store: cannot delete %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int file_get(blob_store_t *b, const char *key, buf_t *out)
{
    file_store_t *s = (file_store_t *)b;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", s->dir, key);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return BLOB_ABSENT;
        log_error("photo store: cannot open %s: %s", path, strerror(errno));
        return BLOB_ERROR;
    }
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0 && !out->overflow)
        buf_append(out, chunk, (size_t)n);
    if (n < 0 || out->overflow)
        log_error("photo store: cannot read %s: %s", path, n < 0 ? strerror(errno) : "larger than allowed");
    close(fd);
    return n < 0 || out->overflow ? BLOB_ERROR : BLOB_OK;
}

/* A hard link: the bytes are already durable; the new name is once its
 * directory is fsynced. */
static int file_copy(blob_store_t *b, const char *from, const char *to)
{
    file_store_t *s = (file_store_t *)b;
    char src[4096], dst[4096], dir[4096];
    snprintf(src, sizeof(src), "%s/%s", s->dir, from);
    snprintf(dst, sizeof(dst), "%s/%s", s->dir, to);
    snprintf(dir, sizeof(dir), "%s", dst);
    *strrchr(dir, '/') = '\0';
    if (fs_mkdirs(dir) != 0 || (link(src, dst) != 0 && errno != EEXIST) || fs_fsync_dir(dir) != 0) {
        if (errno != ENOENT)
            log_error("photo store: cannot copy %s to %s: %s", src, dst, strerror(errno));
        return -1;
    }
    return 0;
}

/* Orphans are moved aside to DIR/orphans/KEY rather than deleted: if the
 * database given is not the one these files belong to (an old backup, a
 * mistyped path), nothing is lost. */
static int quarantine(file_store_t *s, const char *key, const char *path)
{
    char dest[4400], dir[4400];
    snprintf(dest, sizeof(dest), "%s/orphans/%s", s->dir, key);
    snprintf(dir, sizeof(dir), "%s", dest);
    *strrchr(dir, '/') = '\0';
    if (fs_mkdirs(dir) != 0 || rename(path, dest) != 0) {
        log_error("photo store: cannot move %s aside: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Walks media/<shard>/ directories. */
static long file_sweep(blob_store_t *b, int64_t older_than_s, bool (*keep)(const char *key, void *arg), void *arg)
{
    time_t now = time(NULL);
    file_store_t *s = (file_store_t *)b;
    char root[4096];
    snprintf(root, sizeof(root), "%s/media", s->dir);
    DIR *top = opendir(root);
    if (top == NULL)
        return 0;
    long deleted = 0;
    struct dirent *d;
    while ((d = readdir(top)) != NULL) {
        if (d->d_name[0] == '.')
            continue;
        char sub[4400];
        snprintf(sub, sizeof(sub), "%s/%s", root, d->d_name);
        DIR *dd = opendir(sub);
        if (dd == NULL)
            continue;
        struct dirent *f;
        while ((f = readdir(dd)) != NULL) {
            if (f->d_name[0] == '.')
                continue;
            char key[600], path[5000];
            snprintf(key, sizeof(key), "media/%s/%s", d->d_name, f->d_name);
            snprintf(path, sizeof(path), "%s/%s", sub, f->d_name);
            struct stat st;
            if (older_than_s > 0 && (lstat(path, &st) != 0 || now - st.st_mtime < older_than_s))
                continue; /* young: maybe an upload in flight */
            if (strstr(f->d_name, ".tmp.") != NULL) {
                if (unlink(path) == 0) /* a write that never completed */
                    deleted++;
            } else if (!keep(key, arg) && quarantine(s, key, path) == 0) {
                deleted++;
            }
        }
        closedir(dd);
    }
    closedir(top);
    return deleted;
}

static const char *file_local_dir(blob_store_t *b)
{
    return ((file_store_t *)b)->dir;
}

static int file_probe(blob_store_t *b, char *why, size_t whylen)
{
    file_store_t *s = (file_store_t *)b;
    char path[4096];
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof(rnd));
    snprintf(path, sizeof(path), "%s/.probe.%02x%02x%02x%02x%02x%02x%02x%02x", s->dir, rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5], rnd[6], rnd[7]);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, "x", 1) != 1) {
        snprintf(why, whylen, "cannot write in %s: %s", s->dir, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        return -1;
    }
    close(fd);
    unlink(path);
    return 0;
}

const blob_backend_t blob_backend_file = {
    .scheme = "file",
    .open = file_open,
    .close = file_close,
    .put = file_put,
    .del = file_del,
    .get = file_get,
    .copy = file_copy,
    .sweep = file_sweep,
    .local_dir = file_local_dir,
    .probe = file_probe,
};
