/*
 * users: accounts and profiles, above the db interface.
 *
 * Placement: a user's row lives on the user's logical shard (from the ID);
 * the username -> id index lives on the shard of a hash of the lower-cased
 * name, so uniqueness holds across physical databases. When both shards
 * are on one database (always, in the embedded topology) sign-up is one
 * transaction; otherwise the name is claimed first and released if the
 * user row cannot be written.
 *
 * A suspended account (picogram admin suspend) is hidden: users_get finds
 * it no more, nor does search, and its tokens stop working (the token
 * lookup joins the user's row); so its media, shown only with their
 * owner, are hidden everywhere too. Unsuspended, all of it is back.
 *
 * Functions return USERS_OK, USERS_NOT_FOUND, USERS_TAKEN or USERS_ERROR.
 * They are called with the calling thread's own db_ctx_t.
 */
#ifndef PICOGRAM_USERS_H
#define PICOGRAM_USERS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/validate.h"
#include "db/db.h"

enum { USERS_OK = 0, USERS_NOT_FOUND = 1, USERS_TAKEN = 2, USERS_SUSPENDED = 3, USERS_ERROR = -1 };

typedef struct user {
    int64_t id;
    char username[USERNAME_MAX + 1];
    char full_name[FULL_NAME_MAX * 4 + 1];
    char bio[BIO_MAX * 4 + 1];
    char website[WEBSITE_MAX * 4 + 1];
    char email[EMAIL_MAX + 1];
    char profile_picture[512];
    bool is_private;
    bool suspended; /* set by users_get_any only: users_get does not find such a user */
    int64_t media_count, follows_count, followed_by_count;
    int64_t created_at; /* unix seconds */
} user_t;

typedef struct user_new {
    const char *username; /* validated */
    const char *full_name, *email;
    const char *password_hash; /* crypto_pwhash_str output */
    char *token; /* if set (TOKEN_MAX_LEN + 1 bytes), the user's first access
                  * token, made in the user's own transaction: a sign-up
                  * leaves both or neither */
    bool suspended; /* made suspended (hidden, its tokens refused): an import in progress */
} user_new_t;

int users_create(db_ctx_t *db, int64_t id, const user_new_t *in, user_t *out);
int users_get(db_ctx_t *db, int64_t id, user_t *out);
/* The same, suspended or not (out->suspended says). */
int users_get_any(db_ctx_t *db, int64_t id, user_t *out);
/* Suspends or unsuspends, and in the same transaction queues a job
 * (users_changed_job) that drops the user's cached copies and tokens in
 * whichever process runs jobs, so running servers see it within moments. */
int users_set_suspended(db_ctx_t *db, int64_t id, bool suspended);
/* The job: payload "USER_ID"; ctx the cache_t * (may be NULL). */
int users_changed_job(db_ctx_t *db, char *payload, void *ctx);
/* Up to limit user IDs above after on the i-th physical database, in order. */
int users_ids_after(db_ctx_t *db, size_t i, int64_t after, int limit, int64_t *ids, int *n);
/* Looks a name up (any case). */
int users_id_by_username(db_ctx_t *db, const char *username, int64_t *id);
/* Whether a sign-up may have the name: USERS_TAKEN if a user has it (or a
 * sign-up may be on its way with it), USERS_NOT_FOUND if it is free or
 * only claimed by a sign-up that crashed over a minute ago; USERS_ERROR. */
int users_name_taken(db_ctx_t *db, const char *username);
int users_password_hash(db_ctx_t *db, int64_t id, char *out, size_t cap);
/* Writes the editable fields of u (full_name, bio, website, email, is_private). */
int users_update(db_ctx_t *db, const user_t *u);
/* Prefix search on username and full name; exact username first. */
int users_search(db_ctx_t *db, const char *q, int limit, user_t *out, int *n);

#endif
