/*
 * Schema migrations. Each migration is one SQL script for both dialects,
 * with {ID} for the 64-bit ID column type and {BLOB} for binary columns
 * (SQLite: INTEGER, so that an ID primary key is the rowid; PostgreSQL:
 * BIGINT and BYTEA). Migrations run in one transaction each, in order, and
 * are recorded in schema_migrations. Never edit a released migration: add
 * a new one.
 */
#include "db/db.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const migrations[] = {
    /* 1: accounts */
    "CREATE TABLE users ("
    " id {ID} PRIMARY KEY,"
    " username TEXT NOT NULL,"
    " username_lower TEXT NOT NULL,"
    " full_name TEXT NOT NULL DEFAULT '',"
    " full_name_lower TEXT NOT NULL DEFAULT '',"
    " bio TEXT NOT NULL DEFAULT '',"
    " website TEXT NOT NULL DEFAULT '',"
    " email TEXT NOT NULL DEFAULT '',"
    " profile_picture TEXT NOT NULL DEFAULT '',"
    " is_private INTEGER NOT NULL DEFAULT 0,"
    " password_hash TEXT NOT NULL,"
    " media_count {ID} NOT NULL DEFAULT 0,"
    " follows_count {ID} NOT NULL DEFAULT 0,"
    " followed_by_count {ID} NOT NULL DEFAULT 0,"
    " created_at {ID} NOT NULL);"
    "CREATE INDEX users_username_lower ON users (username_lower);"
    "CREATE INDEX users_full_name_lower ON users (full_name_lower);"
    /* username -> id, on the shard of a hash of the name: unique across shards */
    "CREATE TABLE usernames (username_lower TEXT PRIMARY KEY, user_id {ID} NOT NULL);"
    /* access tokens, on the user's shard; only a hash of the token is kept */
    "CREATE TABLE tokens (hash {BLOB} PRIMARY KEY, user_id {ID} NOT NULL, created_at {ID} NOT NULL);"
    "CREATE INDEX tokens_user ON tokens (user_id);",
    /* 2: photos. A media row lives on its owner's shard (the ID carries it).
     * Rendition sizes are kept so the media object renders from the row. */
    "CREATE TABLE media ("
    " id {ID} PRIMARY KEY,"
    " user_id {ID} NOT NULL,"
    " caption TEXT,"
    " filter TEXT NOT NULL,"
    " location_id {ID},"
    " tags TEXT NOT NULL DEFAULT '',"
    " dims TEXT NOT NULL,"
    " like_count {ID} NOT NULL DEFAULT 0,"
    " comment_count {ID} NOT NULL DEFAULT 0,"
    " fanned INTEGER NOT NULL DEFAULT 1," /* 0: posted as a celebrity, merged into feeds at read time */
    " created_at {ID} NOT NULL);"
    "CREATE INDEX media_user ON media (user_id, id);"
    "CREATE INDEX media_unfanned ON media (user_id, fanned, id);"
    /* tag -> media and place -> media: in the cluster, on the shard of a hash of the key */
    "CREATE TABLE media_tags (tag TEXT NOT NULL, media_id {ID} NOT NULL, PRIMARY KEY (tag, media_id));"
    "CREATE INDEX media_tags_media ON media_tags (media_id);"
    "CREATE TABLE media_mentions (media_id {ID} NOT NULL, username_lower TEXT NOT NULL,"
    " PRIMARY KEY (media_id, username_lower));"
    "CREATE TABLE locations (id {ID} PRIMARY KEY, name TEXT NOT NULL, lat DOUBLE PRECISION NOT NULL,"
    " lng DOUBLE PRECISION NOT NULL);",
    /* 3: the social graph. "following" lives on the follower's shard,
     * "followers" on the followee's; status 1 follows, 2 requested. */
    "CREATE TABLE following (user_id {ID} NOT NULL, target_id {ID} NOT NULL, status INTEGER NOT NULL,"
    " created_at {ID} NOT NULL, PRIMARY KEY (user_id, target_id));"
    "CREATE TABLE followers (user_id {ID} NOT NULL, follower_id {ID} NOT NULL, status INTEGER NOT NULL,"
    " created_at {ID} NOT NULL, PRIMARY KEY (user_id, follower_id));"
    "CREATE INDEX followers_status ON followers (user_id, status, follower_id);"
    "CREATE INDEX following_status ON following (user_id, status, target_id);"
    "CREATE TABLE blocks (user_id {ID} NOT NULL, target_id {ID} NOT NULL, created_at {ID} NOT NULL,"
    " PRIMARY KEY (user_id, target_id));",
    /* 4: the job outbox (written in the transaction of the write that causes
     * the job) and home timelines (the feeds interface's embedded backend). */
    "CREATE TABLE jobs (id {ID} PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL, run_at {ID} NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, leased INTEGER NOT NULL DEFAULT 0, dead INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT);"
    "CREATE INDEX jobs_due ON jobs (dead, leased, run_at);"
    "CREATE TABLE feed_items (user_id {ID} NOT NULL, media_id {ID} NOT NULL, PRIMARY KEY (user_id, media_id));"
    "CREATE INDEX feed_items_media ON feed_items (media_id);"
    "CREATE TABLE feed_state (user_id {ID} PRIMARY KEY, built_at {ID} NOT NULL);",
    /* 5: likes and comments on the media's shard, the liker's list on the
     * liker's shard, activity on the recipient's shard */
    "CREATE TABLE likes (media_id {ID} NOT NULL, user_id {ID} NOT NULL, id {ID} NOT NULL,"
    " PRIMARY KEY (media_id, user_id));"
    "CREATE INDEX likes_recent ON likes (media_id, id);"
    "CREATE TABLE liked (user_id {ID} NOT NULL, id {ID} NOT NULL, media_id {ID} NOT NULL, PRIMARY KEY (user_id, id));"
    "CREATE INDEX liked_media ON liked (user_id, media_id);"
    "CREATE INDEX liked_by_media ON liked (media_id);"
    "CREATE TABLE comments (id {ID} PRIMARY KEY, media_id {ID} NOT NULL, user_id {ID} NOT NULL, text TEXT NOT NULL,"
    " created_at {ID} NOT NULL);"
    "CREATE INDEX comments_media ON comments (media_id, id);"
    "CREATE TABLE activity (id {ID} PRIMARY KEY, user_id {ID} NOT NULL, actor_id {ID} NOT NULL, kind TEXT NOT NULL,"
    " media_id {ID}, text TEXT);"
    "CREATE INDEX activity_user ON activity (user_id, id);",
    /* 6: discovery. A media's tags each get an ID when applied (the media's
     * for caption tags at upload, later ones their own), so a tag's page is
     * newest-applied first; tag counts; place names for prefix search; the
     * popular ranking a job refreshes; and the geo index (a backend's own
     * DDL: SQLite R*Tree here), filled from the places already there. */
    "CREATE TABLE media_tags_v6 (tag TEXT NOT NULL, id {ID} NOT NULL, media_id {ID} NOT NULL,"
    " PRIMARY KEY (tag, id));"
    "INSERT INTO media_tags_v6 (tag, id, media_id) SELECT tag, media_id, media_id FROM media_tags;"
    "DROP TABLE media_tags;"
    "ALTER TABLE media_tags_v6 RENAME TO media_tags;"
    "CREATE UNIQUE INDEX media_tags_media ON media_tags (media_id, tag);"
    "CREATE TABLE tags (name TEXT PRIMARY KEY, media_count {ID} NOT NULL DEFAULT 0);"
    "INSERT INTO tags (name, media_count) SELECT tag, COUNT(*) FROM media_tags GROUP BY tag;"
    "ALTER TABLE locations ADD COLUMN name_lower TEXT NOT NULL DEFAULT '';"
    "UPDATE locations SET name_lower = lower(name);" /* ASCII only here; new places are lowered in full Unicode */
    "CREATE INDEX locations_name ON locations (name_lower);"
    "CREATE INDEX media_location ON media (location_id, id);"
    "CREATE TABLE popular (rank INTEGER PRIMARY KEY, media_id {ID} NOT NULL, score DOUBLE PRECISION NOT NULL);"
    "{GEO_INDEX}"
    "INSERT INTO geo_media (id, lat0, lat1, lng0, lng1, t0, t1)"
    " SELECT m.id, ROUND(l.lat * 10000000), ROUND(l.lat * 10000000), ROUND(l.lng * 10000000), ROUND(l.lng * 10000000),"
    " m.created_at - 1293840000, m.created_at - 1293840000 FROM media m JOIN locations l ON l.id = m.location_id;"
    "INSERT INTO geo_places (id, lat0, lat1, lng0, lng1)"
    " SELECT id, ROUND(lat * 10000000), ROUND(lat * 10000000), ROUND(lng * 10000000), ROUND(lng * 10000000) FROM locations;",
    /* 7: the authors who have posted as celebrities (not fanned out): a feed
     * read merges their posts only if the reader follows one of them, found
     * from this short list rather than from every account the reader follows */
    "CREATE TABLE celebrities (user_id {ID} PRIMARY KEY);"
    "INSERT INTO celebrities (user_id) SELECT DISTINCT user_id FROM media WHERE fanned = 0;"
    /* and blocks by whom they block, so a reader with no block either way is
     * known in one probe (then only private accounts need asking about) */
    "CREATE INDEX blocks_target ON blocks (target_id, user_id);"
    /* and news that goes when what caused it goes: an unlike, a deleted
     * comment, a deleted photo (ref_id: the like, comment or photo) */
    "ALTER TABLE activity ADD COLUMN ref_id {ID};"
    "CREATE INDEX activity_ref ON activity (ref_id);"
    "CREATE INDEX activity_media ON activity (media_id);"
    /* news from before: likes by their like, comments (and mentions in
     * them) by their comment, caption mentions by their photo */
    "UPDATE activity SET ref_id = (SELECT l.id FROM likes l WHERE l.media_id = activity.media_id"
    " AND l.user_id = activity.actor_id) WHERE kind = 'like';"
    "UPDATE activity SET ref_id = (SELECT MIN(c.id) FROM comments c WHERE c.media_id = activity.media_id"
    " AND c.user_id = activity.actor_id AND c.text = activity.text) WHERE kind IN ('comment', 'mention');"
    "UPDATE activity SET ref_id = media_id WHERE kind = 'mention' AND ref_id IS NULL;"
    /* and what the discovery writes look up inside their transactions */
    "CREATE INDEX jobs_kind ON jobs (kind, dead);"
    "CREATE INDEX comments_author ON comments (media_id, user_id, id);",
    /* 8: a random file key per photo, part of its file names (blob/blob.h),
     * so that a media ID alone finds no file. 0: stored before this; the
     * photo_rekey job gives those one (model/photo_keys.h), found by the
     * partial index, which is empty once they all have one. */
    "ALTER TABLE media ADD COLUMN file_key {ID} NOT NULL DEFAULT 0;"
    "CREATE INDEX media_unkeyed ON media (id) WHERE file_key = 0;",
    /* 9: placement that holds across databases (model/far.h). The tag index
     * moves to tag_media, on the shard of a hash of the tag (media_tags
     * stays on the media's shard: the tags applied, with their tag IDs); a
     * place's media are listed in location_media, on the place's shard; a
     * media row carries its place (places never change), so it renders
     * from its own row; timeline items carry their author, so an unfollow
     * needs nothing from the author's shard; and news is made once per
     * (cause, recipient, kind), so an effect run twice makes it once. */
    "CREATE TABLE tag_media (tag TEXT NOT NULL, id {ID} NOT NULL, media_id {ID} NOT NULL, PRIMARY KEY (tag, id));"
    "CREATE UNIQUE INDEX tag_media_media ON tag_media (tag, media_id);"
    "INSERT INTO tag_media (tag, id, media_id) SELECT tag, id, media_id FROM media_tags;"
    "CREATE TABLE location_media (location_id {ID} NOT NULL, media_id {ID} NOT NULL,"
    " PRIMARY KEY (location_id, media_id));"
    "INSERT INTO location_media (location_id, media_id) SELECT location_id, id FROM media WHERE location_id IS NOT NULL;"
    "DROP INDEX media_location;"
    "ALTER TABLE media ADD COLUMN location_name TEXT;"
    "ALTER TABLE media ADD COLUMN lat DOUBLE PRECISION;"
    "ALTER TABLE media ADD COLUMN lng DOUBLE PRECISION;"
    "UPDATE media SET location_name = (SELECT l.name FROM locations l WHERE l.id = media.location_id),"
    " lat = (SELECT l.lat FROM locations l WHERE l.id = media.location_id),"
    " lng = (SELECT l.lng FROM locations l WHERE l.id = media.location_id) WHERE location_id IS NOT NULL;"
    "ALTER TABLE feed_items ADD COLUMN author_id {ID} NOT NULL DEFAULT 0;"
    "UPDATE feed_items SET author_id = COALESCE((SELECT m.user_id FROM media m WHERE m.id = feed_items.media_id), 0);"
    "CREATE INDEX feed_items_author ON feed_items (user_id, author_id);"
    "DELETE FROM activity WHERE ref_id IS NOT NULL AND id NOT IN"
    " (SELECT MIN(id) FROM activity WHERE ref_id IS NOT NULL GROUP BY ref_id, user_id, kind);"
    "CREATE UNIQUE INDEX activity_once ON activity (ref_id, user_id, kind);",
    /* 10: more than one process. Node numbers for IDs, leased by live
     * processes (model/nodes.h; used on the first database only); and job
     * leases with an owner (a process's lease) and an expiry, so no process
     * takes or frees another live one's work. */
    "CREATE TABLE nodes (node INTEGER PRIMARY KEY, holder TEXT NOT NULL, owner {ID} NOT NULL,"
    " lease_until {ID} NOT NULL);"
    "ALTER TABLE jobs ADD COLUMN lease_owner {ID} NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN lease_until {ID} NOT NULL DEFAULT 0;"
    "UPDATE jobs SET leased = 0;"
    "CREATE INDEX jobs_ready ON jobs (dead, run_at);"
    "DROP INDEX jobs_due;",
    /* 11: every row of a table keyed by an ID yields its logical shard; a
     * driver that moves logical shards between servers (PostgreSQL) gets a
     * shard column and an index by shard on those tables ({SHARD_KEYS}), so
     * one shard's rows are found without reading the others'. */
    "{SHARD_KEYS}",
    /* 12: the tables kept by a hashed key (usernames, tags, tag_media) store
     * their key's logical shard, written with each row (the hash is the
     * application's, db_key_shard), indexed by shard where shards move
     * ({KEY_SHARDS}); rows made before get theirs now (key_shards_backfill). */
    "ALTER TABLE usernames ADD COLUMN shard INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE tags ADD COLUMN shard INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE tag_media ADD COLUMN shard INTEGER NOT NULL DEFAULT -1;"
    "{KEY_SHARDS}",
    /* 13: jobs that must run in the order they were made, one at a time,
     * share a serial key (a user's timeline jobs: a follow's backfill and
     * the unfollow's removal right after it); a job runs only when no older
     * live job has its key. 0: none. */
    "ALTER TABLE jobs ADD COLUMN serial {ID} NOT NULL DEFAULT 0;"
    "CREATE INDEX jobs_serial ON jobs (serial, id);",
    /* 14: follow lists newest first: an edge's time in milliseconds (the
     * rows before had seconds: older than any since, they stay in order),
     * and indexes in that order. */
    "UPDATE following SET created_at = created_at * 1000 WHERE created_at < 100000000000;"
    "UPDATE followers SET created_at = created_at * 1000 WHERE created_at < 100000000000;"
    "CREATE INDEX following_recent ON following (user_id, status, created_at, target_id);"
    "CREATE INDEX followers_recent ON followers (user_id, status, created_at, follower_id);",
    /* 15: full names are searched lower-cased beyond ASCII (`Émile` finds
     * "Émile"): the rows before get theirs now (full_names_backfill). */
    "SELECT 1;",
    /* 16: the indexes by shard of the tables written by an upsert with a
     * conflict target are not unique ({UPSERT_SHARD_KEYS}): an upsert
     * settles its conflicts on its target alone, so two at once of a new key
     * (a new tag on two photos) broke on the other unique index. */
    "{UPSERT_SHARD_KEYS}",
    /* 17: an operator can suspend an account (picogram admin suspend): its
     * tokens stop working and it, with its media, is hidden until
     * unsuspended; and delete one (admin delete-user), whose comments on
     * others' photos are found by user. */
    "ALTER TABLE users ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX comments_user ON comments (user_id, id);"
    /* and a job names the request that made it (X-Request-Id), for its log lines */
    "ALTER TABLE jobs ADD COLUMN request_id TEXT;",
    /* 18: third-party apps (OAuth2, api/apps.c): an app on its owner's
     * shard, its secret sealed with a key from the server secret (it keys
     * signatures, so it cannot be a one-way hash); authorization codes on
     * the user's shard, kept used until they expire (a second use revokes
     * the token the first made); and a token's app (0: first party) and
     * scopes (model/apps.h), found by app when one is deleted. */
    "CREATE TABLE apps (id {ID} PRIMARY KEY, owner_id {ID} NOT NULL, client_id TEXT NOT NULL,"
    " name TEXT NOT NULL, description TEXT NOT NULL, website TEXT NOT NULL, redirect_uris TEXT NOT NULL,"
    " secret {BLOB} NOT NULL, enforce_signed INTEGER NOT NULL DEFAULT 0, created_at {ID} NOT NULL);"
    "CREATE INDEX apps_owner ON apps (owner_id, id);"
    "CREATE TABLE oauth_codes (hash {BLOB} PRIMARY KEY, user_id {ID} NOT NULL, app_id {ID} NOT NULL,"
    " redirect_uri TEXT NOT NULL, scopes INTEGER NOT NULL, expires_at {ID} NOT NULL, token_hash {BLOB});"
    "CREATE INDEX oauth_codes_user ON oauth_codes (user_id, expires_at);"
    "ALTER TABLE tokens ADD COLUMN app_id {ID} NOT NULL DEFAULT 0;"
    "ALTER TABLE tokens ADD COLUMN scopes INTEGER NOT NULL DEFAULT 31;"
    "CREATE INDEX tokens_app ON tokens (app_id, user_id) WHERE app_id <> 0;"
    /* and real-time subscriptions (model/hooks.h), on the first database
     * like every global table: the subscriptions, the updates waiting for
     * their callback (a batch per app and callback, its pending items),
     * and what became of the deliveries, for the app's owner */
    "CREATE TABLE subscriptions (id {ID} PRIMARY KEY, app_id {ID} NOT NULL, object TEXT NOT NULL,"
    " object_id TEXT NOT NULL, lat_e7 {ID} NOT NULL DEFAULT 0, lng_e7 {ID} NOT NULL DEFAULT 0,"
    " radius INTEGER NOT NULL DEFAULT 0, callback_url TEXT NOT NULL, verify_token TEXT NOT NULL,"
    " created_at {ID} NOT NULL);"
    "CREATE INDEX subscriptions_app ON subscriptions (app_id, id);"
    "CREATE INDEX subscriptions_object ON subscriptions (object, object_id);"
    "CREATE TABLE hook_batches (id {ID} PRIMARY KEY, app_id {ID} NOT NULL, callback_url TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, UNIQUE (app_id, callback_url));"
    "CREATE TABLE hook_items (id {ID} PRIMARY KEY, batch_id {ID} NOT NULL, subscription_id {ID} NOT NULL,"
    " media_id {ID} NOT NULL, item TEXT NOT NULL, UNIQUE (subscription_id, media_id));"
    "CREATE INDEX hook_items_batch ON hook_items (batch_id, id);"
    "CREATE TABLE hook_log (id {ID} PRIMARY KEY, app_id {ID} NOT NULL, callback_url TEXT NOT NULL,"
    " outcome TEXT NOT NULL, http_status INTEGER NOT NULL, error TEXT NOT NULL, items INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL, created_at {ID} NOT NULL);"
    "CREATE INDEX hook_log_app ON hook_log (app_id, id);"
    /* and sharing to servers that speak the Mastodon API (model/share.h):
     * a user's connected accounts, their tokens sealed, on the user's
     * shard; a photo's shares, on its shard, as its job goes */
    "CREATE TABLE share_accounts (id {ID} PRIMARY KEY, user_id {ID} NOT NULL, server_url TEXT NOT NULL,"
    " acct TEXT NOT NULL, token {BLOB} NOT NULL, created_at {ID} NOT NULL);"
    "CREATE INDEX share_accounts_user ON share_accounts (user_id, id);"
    "CREATE TABLE shares (media_id {ID} NOT NULL, account_id {ID} NOT NULL, status TEXT NOT NULL,"
    " remote_media TEXT NOT NULL DEFAULT '', remote_url TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',"
    " attempts INTEGER NOT NULL DEFAULT 0, updated_at {ID} NOT NULL, PRIMARY KEY (media_id, account_id));"
    /* and push notifications (model/push.h): a user's devices and the
     * kinds turned off, on the user's shard; the notifications waiting
     * out their coalescing window, one per user, kind and photo */
    "CREATE TABLE devices (id {ID} PRIMARY KEY, user_id {ID} NOT NULL, platform TEXT NOT NULL, token TEXT NOT NULL,"
    " p256dh TEXT NOT NULL DEFAULT '', auth TEXT NOT NULL DEFAULT '', created_at {ID} NOT NULL,"
    " registered_by {BLOB}, UNIQUE (user_id, token));"
    "ALTER TABLE users ADD COLUMN push_off INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE push_pending (id {ID} PRIMARY KEY, user_id {ID} NOT NULL, kind TEXT NOT NULL,"
    " media_id {ID} NOT NULL, actor_id {ID} NOT NULL, count INTEGER NOT NULL, text TEXT NOT NULL DEFAULT '',"
    " UNIQUE (user_id, kind, media_id));"
    "{APP_SHARD_KEYS}",
    /* 19: logical shards that move between servers (admin/shardmove.h),
     * on the settings' first database: the map, each version with its
     * epoch (the newest is the map every server follows), and the moves;
     * and on every database, the ranges of shards fenced here (writes to
     * them refused: moving away, or moved away) */
    "CREATE TABLE shard_maps (epoch {ID} PRIMARY KEY, spec TEXT NOT NULL, made_at {ID} NOT NULL);"
    "CREATE TABLE shard_moves (id {ID} PRIMARY KEY, lo INTEGER NOT NULL, hi INTEGER NOT NULL, source TEXT NOT NULL,"
    " target TEXT NOT NULL, state TEXT NOT NULL, drop_source INTEGER NOT NULL, started_at {ID} NOT NULL,"
    " updated_at {ID} NOT NULL, fenced_us {ID} NOT NULL DEFAULT 0, fence_us {ID} NOT NULL DEFAULT 0);"
    "CREATE TABLE shard_fences (lo INTEGER PRIMARY KEY, hi INTEGER NOT NULL, move_id {ID} NOT NULL);",
    /* 20: the epoch of the shard map each live process follows, written
     * with its node's lease: a move clears the source's copy only once
     * every live process has read the map that sends the range elsewhere */
    "ALTER TABLE nodes ADD COLUMN epoch {ID} NOT NULL DEFAULT 0;",
    /* 21: activity_ref (ref_id) is the first column of activity_once (9),
     * which serves the lookups by ref_id as well: one B-tree fewer to
     * write at every like, comment and follow that makes news */
    "DROP INDEX IF EXISTS activity_ref;",
};
#define MIGRATION_KEY_SHARDS 12
#define MIGRATION_FULL_NAMES 15
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int db_schema_latest(void)
{
    return NMIGRATIONS;
}

static char *expand(const db_driver_t *drv, const char *sql)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    for (const char *p = sql; *p;) {
        if (strncmp(p, "{ID}", 4) == 0)
            buf_puts(&b, drv->dialect_id_type), p += 4;
        else if (strncmp(p, "{BLOB}", 6) == 0)
            buf_puts(&b, drv->dialect_blob_type), p += 6;
        else if (strncmp(p, "{GEO_INDEX}", 11) == 0)
            buf_puts(&b, drv->dialect_geo_index), p += 11;
        else if (strncmp(p, "{SHARD_KEYS}", 12) == 0)
            buf_puts(&b, drv->dialect_shard_keys ? drv->dialect_shard_keys : "SELECT 1;"), p += 12;
        else if (strncmp(p, "{KEY_SHARDS}", 12) == 0)
            buf_puts(&b, drv->dialect_key_shards ? drv->dialect_key_shards : "SELECT 1;"), p += 12;
        else if (strncmp(p, "{APP_SHARD_KEYS}", 16) == 0)
            buf_puts(&b, drv->dialect_app_shard_keys ? drv->dialect_app_shard_keys : "SELECT 1;"), p += 16;
        else if (strncmp(p, "{UPSERT_SHARD_KEYS}", 19) == 0)
            buf_puts(&b, drv->dialect_upsert_shard_keys ? drv->dialect_upsert_shard_keys : "SELECT 1;"), p += 19;
        else
            buf_putc(&b, *p++);
    }
    return buf_steal(&b, NULL);
}

int db_schema_version(db_conn_t *c)
{
    char err[256];
    if (c->drv->exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at "
                        "BIGINT NOT NULL)",
                     err, sizeof(err)) != 0)
        return -1;
    db_stmt_t *s = db_q(c, Q_SCHEMA_VERSION);
    int rc = db_step(s);
    int v = rc == DB_ROW ? (int)db_col_i64(s, 0) : -1;
    db_reset(s);
    return v;
}

/* Migration 12's rows of before: each key's shard, by the hash that
 * placed it (all keys read first, then each updated: one pass). */
static int key_shards_backfill(db_conn_t *c)
{
    static const unsigned q[][2] = {{Q_KEYS_USERNAMES, Q_KEY_SHARD_USERNAME},
                                    {Q_KEYS_TAGS, Q_KEY_SHARD_TAG},
                                    {Q_KEYS_TAG_MEDIA, Q_KEY_SHARD_TAG_MEDIA}};
    for (size_t t = 0; t < sizeof(q) / sizeof(q[0]); t++) {
        buf_t keys; /* NUL-separated: every key of the table, read once */
        buf_init(&keys, (size_t)1 << 34);
        db_stmt_t *s = db_q(c, q[t][0]);
        int rc;
        while ((rc = db_step(s)) == DB_ROW) {
            size_t n;
            const char *k = db_col_text(s, 0, &n);
            buf_append(&keys, k, n);
            buf_putc(&keys, '\0');
        }
        db_reset(s);
        if (keys.overflow)
            rc = DB_ERROR;
        for (size_t at = 0; rc == DB_DONE && at < keys.len;) {
            const char *k = keys.data + at;
            size_t n = strlen(k);
            s = db_q(c, q[t][1]);
            db_bind_text(s, 1, k, n);
            db_bind_i64(s, 2, db_key_shard_of(k, n, IDS_NSHARDS));
            rc = db_exec_stmt(s);
            at += n + 1;
        }
        buf_free(&keys);
        if (rc != DB_DONE)
            return -1;
    }
    return 0;
}

/* Migration 15's rows of before: each full name lower-cased as the users
 * model does it now (text_lower), where that differs from what is stored
 * (read first, then updated: one pass). */
static int full_names_backfill(db_conn_t *c)
{
    buf_t pending; /* id (8 bytes), then the new value, NUL-terminated */
    buf_init(&pending, (size_t)1 << 34);
    db_stmt_t *s = db_q(c, Q_USERS_FULL_NAMES);
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        int64_t id = db_col_i64(s, 0);
        size_t n, have;
        const char *name = db_col_text(s, 1, &n);
        const char *stored = db_col_text(s, 2, &have);
        char folded[1024];
        size_t fl = text_lower(name ? name : "", name ? n : 0, folded, sizeof(folded));
        if (stored != NULL && have == fl && memcmp(stored, folded, fl) == 0)
            continue;
        buf_append(&pending, &id, sizeof(id));
        buf_append(&pending, folded, fl + 1);
    }
    db_reset(s);
    if (pending.overflow)
        rc = DB_ERROR;
    for (size_t at = 0; rc == DB_DONE && at < pending.len;) {
        int64_t id;
        memcpy(&id, pending.data + at, sizeof(id));
        const char *v = pending.data + at + sizeof(id);
        s = db_q(c, Q_USER_SET_FULL_NAME_LOWER);
        db_bind_i64(s, 1, id);
        db_bind_text(s, 2, v, strlen(v));
        rc = db_exec_stmt(s);
        at += sizeof(id) + strlen(v) + 1;
    }
    buf_free(&pending);
    return rc == DB_DONE ? 0 : -1;
}

int db_migrate(db_conn_t *c, int *from, int *to, char *err, size_t errlen)
{
    return db_migrate_to(c, NMIGRATIONS, from, to, err, errlen);
}

int db_migrate_to(db_conn_t *c, int target, int *from, int *to, char *err, size_t errlen)
{
    if (target > NMIGRATIONS)
        target = NMIGRATIONS;
    if (db_begin(c) != DB_OK) {
        snprintf(err, errlen, "cannot begin: %s", c->drv->errmsg(c));
        return -1;
    }
    /* Read the version inside the write transaction, under a lock: two
     * processes migrating at once take turns instead of both applying a step. */
    int v = db_lock(c, "migrate", 0, 0) == DB_OK ? db_schema_version(c) : -1;
    if (v < 0) {
        snprintf(err, errlen, "cannot read schema version: %s", c->drv->errmsg(c));
        goto fail;
    }
    if (v > NMIGRATIONS) {
        snprintf(err, errlen, "database schema version %d is newer than this binary's (%d)", v, NMIGRATIONS);
        goto fail;
    }
    *from = v;
    for (; v < target; v++) {
        char *sql = expand(c->drv, migrations[v]);
        char rec[128];
        snprintf(rec, sizeof(rec), "INSERT INTO schema_migrations (version, applied_at) VALUES (%d, %lld)", v + 1,
                 (long long)(ids_now_ms() / 1000));
        int rc = c->drv->exec(c, sql, err, errlen);
        free(sql);
        if (rc == 0 && v + 1 == MIGRATION_KEY_SHARDS && key_shards_backfill(c) != 0) {
            snprintf(err, errlen, "cannot store the shards of keys: %s", c->drv->errmsg(c));
            rc = -1;
        }
        if (rc == 0 && v + 1 == MIGRATION_FULL_NAMES && full_names_backfill(c) != 0) {
            snprintf(err, errlen, "cannot lower-case the full names: %s", c->drv->errmsg(c));
            rc = -1;
        }
        if (rc != 0 || c->drv->exec(c, rec, err, errlen) != 0)
            goto fail;
    }
    if (db_commit(c) != DB_OK) {
        snprintf(err, errlen, "cannot commit: %s", c->drv->errmsg(c));
        goto fail;
    }
    *to = v;
    return 0;
fail:
    db_rollback(c);
    return -1;
}

int db_check_schemas(const dbmap_t *map, char *err, size_t errlen)
{
    db_ctx_t *db = db_ctx_new(map);
    int rc = 0;
    for (size_t i = 0; i < dbmap_count(map) && rc == 0; i++) {
        db_conn_t *c = db_physical(db, i);
        char e[256];
        /* a pure read: a database that was never migrated has no table to read */
        int v = c && c->drv->exec(c, "SELECT version FROM schema_migrations LIMIT 1", e, sizeof(e)) == 0
                    ? db_schema_version(c)
                    : -1;
        if (v != db_schema_latest()) {
            snprintf(err, errlen,
                     v < 0 ? "database %s has no picogram schema (or cannot be reached): run 'picogram migrate'"
                     : v < db_schema_latest()
                         ? "database %s has schema version %d, this binary needs %d: run 'picogram migrate'"
                         : "database %s has schema version %d, newer than this binary's %d",
                     dbmap_url(map, i), v, db_schema_latest());
            rc = -1;
        }
    }
    db_ctx_free(db);
    return rc;
}
