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
 *
 * The cluster (a map of PostgreSQL servers): the databases are backed up
 * by PostgreSQL's own tools, a base backup (pg_basebackup) and the WAL
 * archive (archive_command) of each server; scripts/cluster.sh backup and
 * restore drive them. picogram backup makes the backup point: a restore
 * point of one name on every server, each archived before it goes on,
 * then copies the photos of every row there is then (the point's, less
 * those deleted since, plus those made since). picogram restore DEST
 * [SETTINGS], run against the servers restored to that point, puts every
 * row's photos into the new store and deletes the rows whose photos the
 * backup has not (deleted between the point and the copy: as if the
 * point were a moment later), so no row lacks its files and no file
 * lacks its row; but a photo whose files the live store had already lost
 * (its row still there, its files not, when the backup looked) is listed
 * in missing.txt, named, and kept by the restore as it was. The restore points of two servers are made one after
 * the other, milliseconds apart: a write that spans two servers in
 * between may be found on one side only (see the README).
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
/* A cluster backup's photos (and secret) into the cluster of cfg, whose
 * PostgreSQL servers were restored to the backup's restore point (or a
 * later time) from their base backups and WAL archive: every photo row
 * gets its files from the backup; a row whose files the backup has not is
 * deleted. */
int restore_cluster(const char *from, const config_t *cfg);

#endif
