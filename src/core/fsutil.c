/* Durable file writes: see fsutil.h. */
#include "core/fsutil.h"
#include "core/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir of dir, and if it made it, its name made durable in its parent. */
static int mkdir_durable(char *dir)
{
    if (mkdir(dir, 0755) != 0)
        return errno == EEXIST ? 0 : -1;
    char parent[4096];
    fs_dirname(dir, parent, sizeof(parent));
    return fs_fsync_dir(parent);
}

int fs_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir_durable(tmp) != 0)
            return -1;
        *p = '/';
    }
    return mkdir_durable(tmp);
}

void fs_dirname(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash == NULL)
        snprintf(out, cap, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

int fs_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int fs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w, len -= (size_t)w;
    }
    return 0;
}

int fs_write_file(const char *path, const void *data, size_t len, int mode)
{
    char tmp[4200], dir[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%08x", path, randombytes_random());
    fs_dirname(path, dir, sizeof(dir));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    if (fs_write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    close(fd);
    if (rename(tmp, path) != 0 || fs_fsync_dir(dir) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

char *fs_read_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *data = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= max) {
        size_t n = (size_t)st.st_size, got = 0;
        data = xmalloc(n + 1);
        while (got < n) {
            ssize_t r = read(fd, data + got, n - got);
            if (r <= 0) {
                if (r < 0 && errno == EINTR)
                    continue;
                break;
            }
            got += (size_t)r;
        }
        if (got != n) {
            free(data);
            data = NULL;
        } else {
            data[n] = '\0';
            *len = n;
        }
    }
    close(fd);
    return data;
}
