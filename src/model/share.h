/*
 * share: posting a user's photos to their accounts on servers that speak
 * the Mastodon API (Mastodon, Pixelfed, GoToSocial), as the seeds shared
 * to Twitter and Facebook.
 *
 * A user connects an account with its server's URL and an access token of
 * write scope; the token is checked (GET /api/v1/accounts/verify_credentials)
 * and stored sealed with a key from the server secret (model/apps.h), on
 * the user's shard. An upload with share=ID,... writes a "pending" share
 * row and a "share" job per account in the photo's own transaction, so an
 * acknowledged upload never loses its shares. The job POSTs the full-size
 * photo (POST /api/v2/media), keeps the remote media's ID (a retry does
 * not upload it again), then the status with the caption
 * (POST /api/v1/statuses, with an Idempotency-Key, so a retry after a lost
 * answer makes no second post), and records the post's URL. A failure is
 * retried after the runner's backoff up to max_attempts; a refusal that
 * will not change (an HTTP 4xx but 408 and 429: a revoked token, say)
 * fails at once, but a 422 to the status, which may mean the photo is
 * still processing, only after three tries. Server URLs get the callbacks' rules (model/hooks.h),
 * and https only unless allow_private.
 */
#ifndef PICOGRAM_SHARE_H
#define PICOGRAM_SHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "blob/blob.h"
#include "core/buf.h"
#include "db/db.h"
#include "model/apps.h"
#include "model/hooks.h"

#define SHARE_ACCOUNTS_MAX 5
#define SHARE_ACCT_MAX 128
#define SHARE_TOKEN_MAX 512

typedef struct share_ctx {
    const apps_key_t *key;
    blob_store_t *store;
    bool allow_private; /* webhook_allow_private: servers on private addresses, and http:// */
    int max_attempts;   /* webhook_max_attempts */
} share_ctx_t;

typedef struct share_account {
    int64_t id, user, created_at;
    char server[HOOK_URL_MAX + 1];
    char acct[SHARE_ACCT_MAX + 1];
} share_account_t;

/* A server URL as stored (without a trailing slash) into out; NULL, or a
 * message for the client. No lookup: hooks_call checks the address. */
const char *share_server_check(const char *url, bool allow_private, char *out, size_t cap);
/* Asks the server who the token is (a network call): 0 with acct, or -1
 * with a message for the client in err. */
int share_verify(const char *server, const char *token, bool allow_private, char acct[SHARE_ACCT_MAX + 1], char *err,
                 size_t errlen);
/* Stores a connected account (out's id set); USERS_TAKEN at SHARE_ACCOUNTS_MAX. */
int share_connect(db_ctx_t *db, const apps_key_t *key, share_account_t *a, const char *token);
int share_accounts_of(db_ctx_t *db, int64_t user, share_account_t **out, int *n);
int share_disconnect(db_ctx_t *db, int64_t user, int64_t id);
/* In a new photo's transaction on c: its share to account, and the job. */
int share_enqueue(db_conn_t *c, int64_t media, int64_t account);
/* The shares of a photo: [{"account_id","server","acct","status","url","error","attempts","updated_time"}]. */
int shares_json(db_ctx_t *db, int64_t media, buf_t *b);
void share_account_json(buf_t *b, const share_account_t *a);

/* Job handler "share", payload "MEDIA ACCOUNT", ctx a share_ctx_t. */
int share_job(db_ctx_t *db, char *payload, void *ctx);

#endif
