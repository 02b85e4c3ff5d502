/*
 * import: an account back from its archive (model/export.h), on this
 * picogram: picogram admin import FILE.
 *
 * What comes back is what was the account's own: its profile (name, full
 * name, bio, website, e-mail, private or not), its photos with their
 * captions, tags, places and times, and its own comments on its photos.
 * Each photo goes through the upload pipeline again (decoded, checked,
 * its renditions made and stored; an archive is untrusted input), with a
 * new ID; its original time is kept as its created_time. What was other
 * people's is not recreated, since the names here may be other people:
 * their comments and likes, the account's follows and followers, its likes
 * and comments on their photos. The archive keeps those for its owner, and
 * the summary counts them. Mentions in imported text notify nobody.
 *
 * DESIGN: all or nothing that anyone sees
 * Every item is read and checked first, before anything is made: a bad
 * archive makes nothing. Then the account is made suspended (hidden, its
 * tokens and log-in refused), its photos are posted one at a time, oldest
 * first, and only the last step unsuspends it. An import that stops part
 * way (a crash, a database error) leaves a suspended account that
 * `picogram admin delete-user NAME --yes` removes with its files, and the
 * import can run again. media.json is read an item at a time (its items
 * are one a line, but any JSON array is read), so memory stays flat.
 */
#ifndef PICOGRAM_IMPORT_H
#define PICOGRAM_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "blob/blob.h"
#include "config.h"
#include "db/db.h"
#include "model/users.h"

enum { IMPORT_OK = 0, IMPORT_BAD = 1, IMPORT_TAKEN = 2, IMPORT_ERROR = -1 };

typedef struct import_counts {
    long long media, comments;                               /* made */
    long long photos_bad;                                    /* photos the pipeline refused (damaged): left out */
    long long others_comments, others_likes;                 /* on its photos, by others: not recreated */
    long long comments_made, likes_made, follows, followers; /* per the manifest: not recreated */
} import_counts_t;

typedef struct import_opts {
    const char *as;            /* the username to take, or NULL for the archive's */
    const char *password_hash; /* the account's password (crypto_pwhash_str) */
    const config_t *cfg;       /* max_pixels, jpeg_quality, max_upload, celebrity */
} import_opts_t;

/* IMPORT_OK (*u the account made, n what came back); IMPORT_BAD (not a
 * picogram archive, damaged, or an item that does not pass: nothing made);
 * IMPORT_TAKEN (the name is taken: nothing made); IMPORT_ERROR (a database
 * or the photo store failed; if *u->id is set, that account is left
 * suspended: delete it and import again). err says what. */
int import_archive(db_ctx_t *db, blob_store_t *store, const char *file, const import_opts_t *o, user_t *u,
                   import_counts_t *n, char *err, size_t errlen);

#endif
