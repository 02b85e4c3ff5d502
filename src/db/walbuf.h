/*
 * walbuf: a VFS for the SQLite writer's connection that writes a commit's
 * WAL frames with one write(2) instead of two a frame (see walbuf.c).
 */
#ifndef PICOGRAM_WALBUF_H
#define PICOGRAM_WALBUF_H

/* Registers the VFS (once; not thread safe: call it from SQLite's setup)
 * and returns its name, or NULL if the default VFS cannot be wrapped. */
const char *db_walbuf_vfs(void);
/* Writes of held frames made, in all (for tests). */
unsigned long long db_walbuf_writes(void);

#endif
