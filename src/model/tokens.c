#include "model/tokens.h"
#include "core/ids.h"
#include "model/users.h"

#include <string.h>
#include <time.h>

int tokens_issue(db_ctx_t *db, int64_t user_id, char out[TOKEN_MAX_LEN + 1])
{
    db_conn_t *c = db_shard(db, ids_shard(user_id));
    if (c == NULL)
        return USERS_ERROR;
    unsigned char h[TOKEN_HASH_BYTES];
    token_generate(user_id, out);
    token_hash(out, strlen(out), h);
    db_stmt_t *s = db_q(c, Q_TOKEN_INSERT);
    db_bind_blob(s, 1, h, sizeof(h));
    db_bind_i64(s, 2, user_id);
    db_bind_i64(s, 3, (int64_t)time(NULL));
    return db_exec_stmt(s) == DB_DONE ? USERS_OK : USERS_ERROR;
}

int tokens_check(db_ctx_t *db, const char *tok, size_t n, int64_t *user_id)
{
    int64_t uid = token_user_id(tok, n);
    if (uid <= 0)
        return USERS_NOT_FOUND;
    db_conn_t *c = db_shard(db, ids_shard(uid));
    if (c == NULL)
        return USERS_ERROR;
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(tok, n, h);
    db_stmt_t *s = db_q(c, Q_TOKEN_LOOKUP);
    db_bind_blob(s, 1, h, sizeof(h));
    int rc = db_step(s);
    int64_t owner = rc == DB_ROW ? db_col_i64(s, 0) : 0;
    db_reset(s);
    if (rc == DB_DONE)
        return USERS_NOT_FOUND;
    if (rc != DB_ROW)
        return USERS_ERROR;
    /* Found by the hash of the whole token, so the prefix agrees unless the
     * table was tampered with; check anyway. */
    if (owner != uid)
        return USERS_NOT_FOUND;
    *user_id = uid;
    return USERS_OK;
}

int tokens_revoke(db_ctx_t *db, const char *tok, size_t n)
{
    int64_t uid = token_user_id(tok, n);
    if (uid <= 0)
        return USERS_NOT_FOUND;
    db_conn_t *c = db_shard(db, ids_shard(uid));
    if (c == NULL)
        return USERS_ERROR;
    unsigned char h[TOKEN_HASH_BYTES];
    token_hash(tok, n, h);
    db_stmt_t *s = db_q(c, Q_TOKEN_DELETE);
    db_bind_blob(s, 1, h, sizeof(h));
    return db_exec_stmt(s) == DB_DONE ? USERS_OK : USERS_ERROR;
}
