/*
 * fsutil: the few file-system steps that make a write durable, shared by
 * the file photo store and backup/restore.
 */
#ifndef PICOGRAM_FSUTIL_H
#define PICOGRAM_FSUTIL_H

#include <stddef.h>

/* mkdir -p (0755 each), each directory it makes fsynced into its parent
 * by the call that makes it (so a file made durable in it later is not
 * lost with its directory's name); 0 or -1 (errno). */
int fs_mkdirs(const char *path);
/* The directory part of path into out: "." for a bare name, "/" at the root. */
void fs_dirname(const char *path, char *out, size_t cap);
/* fsync of a directory, so the names made in it last; 0 or -1. */
int fs_fsync_dir(const char *dir);
/* All of len bytes to fd (EINTR retried); 0 or -1. */
int fs_write_all(int fd, const void *data, size_t len);
/* Writes path whole and durably: PATH.tmp.RANDOM written, fsynced and
 * renamed to path, and its directory fsynced (the directory must exist).
 * 0, or -1 (errno): nothing new at path, or (if only the directory's
 * fsync failed) the new file there but perhaps not after a crash; no
 * temporary is left beside it either way. */
int fs_write_file(const char *path, const void *data, size_t len, int mode);

/* The whole of a regular file of at most max bytes (xmalloc'd, with a NUL
 * after its len bytes), or NULL. */
char *fs_read_file(const char *path, size_t max, size_t *len);

#endif
