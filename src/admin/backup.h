/*
 * backup and restore, for the embedded topology (SQLite):
 *
 *   picogram backup --out DEST [SETTINGS]     while the server runs
 *   picogram restore DEST --data NEWDIR       into a directory not in use
 *
 * A backup is a directory: each SQLite database as it was at one moment
 * (SQLite's online backup API: one read transaction, so writers go on),
 * the photo files of every photo in it (copied from the photo store, file
 * or S3, under their keys in photos/), the server secret, and last
 * backup.json, which says what it holds; a directory without it is not a
 * backup (a run that was killed).
 *
 * DESIGN: rows and photos agree
 * An upload stores its files before its row commits, so every photo in
 * the snapshot has its files when they are copied, unless it was deleted
 * (or its files given a file key) after the snapshot. Then: if the photo
 * is still there with another file key, its files now are copied and the
 * backup's row takes that key; if it is gone, it is deleted from the
 * backup too (through media_delete, so counts and indexes follow), as if
 * the backup had been taken a moment later. Files are only ever copied for
 * rows of the snapshot, so the backup holds no file without a row. A photo
 * whose files the live store has lost is named, and kept.
 *
 * A restore copies the databases (checked with PRAGMA integrity_check)
 * and the photos into NEWDIR (its photo store: NEWDIR/photos), checks that
 * every photo has its files, and prints how to start a server on it.
 * PostgreSQL databases are not backed up here: that is pg_basebackup's and
 * WAL archiving's work (README).
 */
#ifndef PICOGRAM_BACKUP_H
#define PICOGRAM_BACKUP_H

#include "config.h"

#define BACKUP_FORMAT "picogram-backup"
#define BACKUP_VERSION 1

/* Exit codes: 0, 1 (failed at run time: a database, the store, the disk),
 * 2 (bad usage: DEST exists, a database is not SQLite, NEWDIR in use, not
 * a backup). */
int backup_run(const config_t *cfg, const char *out);
int restore_run(const char *from, const char *data_dir);

#endif
