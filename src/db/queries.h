/*
 * The query registry: every SQL statement picogram runs, each once, for
 * both dialects ($N placeholders; standard SQL that SQLite and PostgreSQL
 * both accept). Drivers prepare them by id and cache them per connection.
 */
#ifndef PICOGRAM_QUERIES_H
#define PICOGRAM_QUERIES_H

#define USER_COLS                                                                                                      \
    "id, username, full_name, bio, website, profile_picture, is_private, media_count, follows_count, "                 \
    "followed_by_count, created_at, email, suspended"

#define MEDIA_COLS                                                                                                     \
    "m.id, m.user_id, m.caption, m.filter, m.location_id, m.tags, m.dims, m.like_count, m.comment_count, "             \
    "m.created_at, m.location_name, m.lat, m.lng, m.fanned, m.file_key"

#define DB_QUERIES(X)                                                                                                  \
    X(COMMIT, "COMMIT")                                                                                                \
    X(BEGIN_READ, "BEGIN")                                                                                             \
    X(ROLLBACK, "ROLLBACK")                                                                                            \
    X(SCHEMA_VERSION, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")                                      \
    X(USERNAME_CLAIM, "INSERT INTO usernames (username_lower, user_id, shard) VALUES ($1, $2, $3)")                   \
    X(USERNAME_RELEASE, "DELETE FROM usernames WHERE username_lower = $1 AND user_id = $2")                           \
    X(USERNAME_LOOKUP, "SELECT user_id FROM usernames WHERE username_lower = $1")                                     \
    X(USER_INSERT,                                                                                                     \
      "INSERT INTO users (id, username, username_lower, full_name, full_name_lower, email, password_hash, "           \
      "created_at, suspended) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")                                                           \
    X(USER_BY_ID, "SELECT " USER_COLS " FROM users WHERE id = $1")                                                     \
    X(USER_AUTH_BY_ID, "SELECT password_hash FROM users WHERE id = $1")                                               \
    X(USER_UPDATE,                                                                                                     \
      "UPDATE users SET full_name = $2, full_name_lower = $3, bio = $4, website = $5, is_private = $6, email = $7 "   \
      "WHERE id = $1")                                                                                                 \
    X(USER_SEARCH,                                                                                                     \
      "SELECT " USER_COLS " FROM users WHERE id IN ("                                                                  \
      " SELECT id FROM users WHERE username_lower >= $1 AND username_lower < $2"                                       \
      " UNION SELECT id FROM users WHERE full_name_lower >= $1 AND full_name_lower < $2) AND suspended = 0"          \
      " ORDER BY username_lower = $1 DESC, (username_lower >= $1 AND username_lower < $2) DESC,"                     \
      " followed_by_count DESC, username_lower LIMIT $3")                                                   \
    X(TOKEN_INSERT, "INSERT INTO tokens (hash, user_id, created_at, app_id, scopes) VALUES ($1, $2, $3, $4, $5)")     \
    X(TOKEN_LOOKUP,                                                                                                    \
      "SELECT t.user_id, t.app_id, t.scopes FROM tokens t JOIN users u ON u.id = t.user_id"                           \
      " WHERE t.hash = $1 AND u.suspended = 0")                                                                        \
    X(APP_INSERT,                                                                                                      \
      "INSERT INTO apps (id, owner_id, client_id, name, description, website, redirect_uris, secret, enforce_signed,"  \
      " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")                                                 \
    X(APP_GET,                                                                                                         \
      "SELECT id, owner_id, client_id, name, description, website, redirect_uris, secret, enforce_signed, created_at"  \
      " FROM apps WHERE id = $1")                                                                                      \
    X(APPS_OF,                                                                                                         \
      "SELECT id, owner_id, client_id, name, description, website, redirect_uris, secret, enforce_signed, created_at"  \
      " FROM apps WHERE owner_id = $1 ORDER BY id DESC")                                                               \
    X(APP_DELETE, "DELETE FROM apps WHERE id = $1 AND owner_id = $2")                                                 \
    X(APP_SET_SECRET, "UPDATE apps SET secret = $3 WHERE id = $1 AND owner_id = $2")                                  \
    X(APP_UPDATE,                                                                                                      \
      "UPDATE apps SET name = $3, description = $4, website = $5, redirect_uris = $6, enforce_signed = $7"            \
      " WHERE id = $1 AND owner_id = $2")                                                                              \
    X(APP_TOKENS, "SELECT hash FROM tokens WHERE app_id = $1 AND app_id <> 0")                                       \
    X(APP_TOKENS_DELETE, "DELETE FROM tokens WHERE app_id = $1 AND app_id <> 0")                                     \
    X(APP_CODES_DELETE, "DELETE FROM oauth_codes WHERE app_id = $1")                                                  \
    X(USER_APPS, "SELECT app_id, created_at, scopes FROM tokens WHERE user_id = $1 AND app_id <> 0")                 \
    X(USER_APP_TOKENS, "SELECT hash FROM tokens WHERE user_id = $1 AND app_id = $2 AND app_id <> 0")                 \
    X(USER_APP_TOKENS_DELETE, "DELETE FROM tokens WHERE user_id = $1 AND app_id = $2 AND app_id <> 0")               \
    X(USER_APP_CODES_DELETE, "DELETE FROM oauth_codes WHERE user_id = $1 AND app_id = $2")                            \
    X(CODE_EXPIRED_DELETE, "DELETE FROM oauth_codes WHERE user_id = $1 AND expires_at < $2")                          \
    X(CODE_INSERT,                                                                                                     \
      "INSERT INTO oauth_codes (hash, user_id, app_id, redirect_uri, scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6)") \
    X(CODE_GET, "SELECT user_id, app_id, redirect_uri, scopes, expires_at, token_hash FROM oauth_codes WHERE hash = $1") \
    X(CODE_USED, "UPDATE oauth_codes SET token_hash = $2 WHERE hash = $1 AND token_hash IS NULL")                    \
    X(ERASE_APPS_OF, "SELECT id FROM apps WHERE owner_id = $1")                                                       \
    X(SUBS_ANY, "SELECT COUNT(*) FROM (SELECT 1 FROM subscriptions LIMIT 1) AS any_subscription")                    \
    X(SUB_INSERT,                                                                                                      \
      "INSERT INTO subscriptions (id, app_id, object, object_id, lat_e7, lng_e7, radius, callback_url, verify_token,"  \
      " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")                                                 \
    X(SUBS_OF_APP,                                                                                                     \
      "SELECT id, app_id, object, object_id, lat_e7, lng_e7, radius, callback_url FROM subscriptions"                  \
      " WHERE app_id = $1 ORDER BY id")                                                                                \
    X(SUBS_MATCHING,                                                                                                   \
      "SELECT id, app_id, object, object_id, lat_e7, lng_e7, radius, callback_url FROM subscriptions"                  \
      " WHERE object IN ('user', 'geography') OR (object = 'location' AND object_id = $1)")                            \
    X(SUBS_OF_TAG,                                                                                                     \
      "SELECT id, app_id, object, object_id, lat_e7, lng_e7, radius, callback_url FROM subscriptions"                  \
      " WHERE object = 'tag' AND object_id = $1")                                                                      \
    X(SUB_GET,                                                                                                         \
      "SELECT id, app_id, object, object_id, lat_e7, lng_e7, radius, callback_url FROM subscriptions WHERE id = $1")   \
    X(SUB_DELETE, "DELETE FROM subscriptions WHERE app_id = $1 AND id = $2")                                          \
    X(SUBS_DELETE_OBJECT, "DELETE FROM subscriptions WHERE app_id = $1 AND (object = $2 OR $2 = 'all')")             \
    X(SUBS_COUNT_APP, "SELECT COUNT(*) FROM subscriptions WHERE app_id = $1")                                        \
    X(APP_AUTHORIZED_BY, "SELECT 1 FROM tokens WHERE user_id = $1 AND app_id = $2 LIMIT 1")                          \
    X(HOOK_BATCH_FIND, "SELECT id FROM hook_batches WHERE app_id = $1 AND callback_url = $2")                         \
    X(HOOK_BATCH_INSERT, "INSERT INTO hook_batches (id, app_id, callback_url) VALUES ($1, $2, $3)")                   \
    X(HOOK_BATCH_GET, "SELECT app_id, callback_url, attempts FROM hook_batches WHERE id = $1")                        \
    X(HOOK_BATCH_ATTEMPT, "UPDATE hook_batches SET attempts = $2 WHERE id = $1")                                      \
    X(HOOK_BATCH_DELETE, "DELETE FROM hook_batches WHERE id = $1")                                                    \
    X(HOOK_ITEM_INSERT,                                                                                                \
      "INSERT INTO hook_items (id, batch_id, subscription_id, media_id, item) VALUES ($1, $2, $3, $4, $5)"             \
      " ON CONFLICT DO NOTHING")                                                                                       \
    X(HOOK_ITEMS, "SELECT id, item FROM hook_items WHERE batch_id = $1 ORDER BY id LIMIT $2")                         \
    X(HOOK_ITEM_DONE, "DELETE FROM hook_items WHERE id = $1")                                                         \
    X(HOOK_ITEMS_DROP, "DELETE FROM hook_items WHERE batch_id = $1")                                                  \
    X(HOOK_ITEMS_LEFT, "SELECT COUNT(*) FROM hook_items WHERE batch_id = $1")                                         \
    X(HOOK_LOG_INSERT,                                                                                                 \
      "INSERT INTO hook_log (id, app_id, callback_url, outcome, http_status, error, items, attempts, created_at)"       \
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")                                                                  \
    X(HOOK_LOG_TRIM,                                                                                                   \
      "DELETE FROM hook_log WHERE app_id = $1 AND id NOT IN"                                                           \
      " (SELECT id FROM hook_log WHERE app_id = $1 ORDER BY id DESC LIMIT 100)")                                       \
    X(HOOK_LOG_OF,                                                                                                     \
      "SELECT id, callback_url, outcome, http_status, error, items, attempts, created_at FROM hook_log"                \
      " WHERE app_id = $1 ORDER BY id DESC LIMIT 100")                                                                 \
    X(ERASE_APP_SUBS, "DELETE FROM subscriptions WHERE app_id = $1")                                                  \
    X(SHARE_ACCOUNT_INSERT,                                                                                            \
      "INSERT INTO share_accounts (id, user_id, server_url, acct, token, created_at) VALUES ($1, $2, $3, $4, $5, $6)")  \
    X(SHARE_ACCOUNTS_OF,                                                                                               \
      "SELECT id, user_id, server_url, acct, created_at FROM share_accounts WHERE user_id = $1 ORDER BY id")           \
    X(SHARE_ACCOUNT_GET, "SELECT user_id, server_url, acct, token FROM share_accounts WHERE id = $1")                \
    X(SHARE_ACCOUNT_DELETE, "DELETE FROM share_accounts WHERE id = $1 AND user_id = $2")                              \
    X(SHARE_INSERT,                                                                                                    \
      "INSERT INTO shares (media_id, account_id, status, updated_at) VALUES ($1, $2, 'pending', $3)")                  \
    X(SHARE_GET, "SELECT status, remote_media, attempts FROM shares WHERE media_id = $1 AND account_id = $2")        \
    X(SHARE_SET,                                                                                                       \
      "UPDATE shares SET status = $3, remote_media = $4, remote_url = $5, error = $6, attempts = $7, updated_at = $8" \
      " WHERE media_id = $1 AND account_id = $2")                                                                      \
    X(SHARE_DELETE, "DELETE FROM shares WHERE media_id = $1 AND account_id = $2")                                     \
    X(SHARES_OF_MEDIA,                                                                                                 \
      "SELECT account_id, status, remote_url, error, attempts, updated_at FROM shares WHERE media_id = $1"             \
      " ORDER BY account_id")                                                                                          \
    X(ERASE_SHARE_ACCOUNTS, "DELETE FROM share_accounts WHERE user_id = $1")                                          \
    X(DEVICE_ANY, "SELECT 1 FROM devices WHERE user_id = $1 LIMIT 1")                                                  \
    X(DEVICE_FIND, "SELECT id FROM devices WHERE user_id = $1 AND token = $2")                                        \
    X(DEVICE_INSERT,                                                                                                   \
      "INSERT INTO devices (id, user_id, platform, token, p256dh, auth, created_at, registered_by)"                    \
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")                                                                      \
    X(DEVICE_UPDATE, "UPDATE devices SET platform = $2, p256dh = $3, auth = $4, registered_by = $5 WHERE id = $1")   \
    X(DEVICES_OF_TOKEN, "DELETE FROM devices WHERE user_id = $1 AND registered_by = $2")                             \
    X(DEVICES_BUT_TOKEN, "DELETE FROM devices WHERE user_id = $1 AND (registered_by IS NULL OR registered_by <> $2)") \
    X(DEVICES_OF,                                                                                                      \
      "SELECT id, platform, token, p256dh, auth, created_at FROM devices WHERE user_id = $1 ORDER BY id")              \
    X(DEVICE_DELETE, "DELETE FROM devices WHERE id = $1 AND user_id = $2")                                            \
    X(DEVICE_COUNT, "SELECT COUNT(*) FROM devices WHERE user_id = $1")                                                \
    X(USER_PUSH_OFF, "SELECT push_off FROM users WHERE id = $1")                                                      \
    X(USER_CHANGE_PUSH_OFF,                                                                                            \
      "UPDATE users SET push_off = ((push_off | CAST($2 AS INTEGER)) & ~CAST($3 AS INTEGER)) & 15 WHERE id = $1")      \
    X(PUSH_PENDING_INSERT,                                                                                             \
      "INSERT INTO push_pending (id, user_id, kind, media_id, actor_id, count, text) VALUES ($1, $2, $3, $4, $5, 1, $6)" \
      " ON CONFLICT DO NOTHING")                                                                                       \
    X(PUSH_PENDING_BUMP,                                                                                               \
      "UPDATE push_pending SET count = count + 1, actor_id = $4, text = $5"                                            \
      " WHERE user_id = $1 AND kind = $2 AND media_id = $3")                                                           \
    X(PUSH_PENDING_GET, "SELECT user_id, kind, media_id, actor_id, count, text FROM push_pending WHERE id = $1")     \
    X(PUSH_PENDING_DELETE, "DELETE FROM push_pending WHERE id = $1")                                                  \
    X(ERASE_DEVICES, "DELETE FROM devices WHERE user_id = $1")                                                        \
    X(ERASE_PUSH_PENDING, "DELETE FROM push_pending WHERE user_id = $1")                                              \
    X(ERASE_CODES, "DELETE FROM oauth_codes WHERE user_id = $1")                                                      \
    X(USERS_FULL_NAMES, "SELECT id, full_name, full_name_lower FROM users")                                          \
    X(USER_SET_FULL_NAME_LOWER, "UPDATE users SET full_name_lower = $2 WHERE id = $1")                               \
    X(TOKENS_OF, "SELECT hash, created_at FROM tokens WHERE user_id = $1 ORDER BY created_at DESC, hash")              \
    X(TOKEN_DELETE_OF, "DELETE FROM tokens WHERE hash = $1 AND user_id = $2")                                          \
    X(USER_SET_PASSWORD, "UPDATE users SET password_hash = $2 WHERE id = $1")                                           \
    X(USER_SET_SUSPENDED, "UPDATE users SET suspended = $2 WHERE id = $1")                                              \
    X(USER_IDS_AFTER, "SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2")                                      \
    X(MEDIA_TAGS_AFTER,                                                                                                \
      "SELECT media_id, tag FROM media_tags WHERE media_id > $1 OR (media_id = $1 AND tag > $2) "                     \
      "ORDER BY media_id, tag LIMIT $3")                                                                               \
    X(TAG_INDEX_AFTER,                                                                                                 \
      "SELECT media_id, tag FROM tag_media WHERE tag > $2 OR (tag = $2 AND media_id > $1) ORDER BY tag, media_id "     \
      "LIMIT $3")                                                                                                      \
    X(TAG_NAMES_AFTER, "SELECT name FROM tags WHERE name > $1 ORDER BY name LIMIT $2")                                \
    X(TAG_COUNT_LOCK, "SELECT media_count FROM tags WHERE name = $1{FOR_UPDATE}")                                      \
    X(TAG_INDEX_COUNT, "SELECT COUNT(*) FROM tag_media WHERE tag = $1")                                                \
    X(TAG_COUNT_SET, "UPDATE tags SET media_count = $2 WHERE name = $1")                                              \
    X(MEDIA_GEO_AFTER,                                                                                                 \
      "SELECT id, lat, lng, created_at, location_id FROM media WHERE id > $1 AND lat IS NOT NULL "                    \
      "AND location_id IS NOT NULL AND location_id <> 0 ORDER BY id LIMIT $2")                                         \
    X(GEO_ORPHANS_DEL,                                                                                                 \
      "DELETE FROM geo_media WHERE id NOT IN (SELECT id FROM media WHERE lat IS NOT NULL AND location_id IS NOT NULL " \
      "AND location_id <> 0)")                                                                                         \
    X(BLOCKS_BY_USER, "SELECT target_id FROM blocks WHERE user_id = $1 AND target_id > $2 ORDER BY target_id LIMIT $3") \
    X(COMMENTS_BY_USER, "SELECT media_id, id FROM comments WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3")      \
    X(COMMENTS_PAGE, "SELECT id, user_id, text, created_at FROM comments WHERE media_id = $1 AND id > $2 "           \
      "ORDER BY id LIMIT $3")                                                                                          \
    X(MEDIA_IDS_ASC, "SELECT id FROM media WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3")                     \
    X(LIKES_PAGE, "SELECT id, user_id FROM likes WHERE media_id = $1 AND id > $2 ORDER BY id LIMIT $3")               \
    X(ERASE_TOKENS, "DELETE FROM tokens WHERE user_id = $1")                                                          \
    X(ERASE_ACTIVITY, "DELETE FROM activity WHERE user_id = $1")                                                      \
    X(ERASE_FEED, "DELETE FROM feed_items WHERE user_id = $1")                                                        \
    X(ERASE_FEED_STATE, "DELETE FROM feed_state WHERE user_id = $1")                                                  \
    X(ERASE_LIKED, "DELETE FROM liked WHERE user_id = $1")                                                            \
    X(ERASE_CELEB, "DELETE FROM celebrities WHERE user_id = $1")                                                      \
    X(ERASE_USER, "DELETE FROM users WHERE id = $1 AND suspended = 1")                                                \
    X(MEDIA_INSERT,                                                                                                    \
      "INSERT INTO media (id, user_id, caption, filter, location_id, tags, dims, created_at, fanned, file_key, "        \
      "location_name, lat, lng) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")                       \
    X(MEDIA_BY_ID, "SELECT " MEDIA_COLS " FROM media m WHERE m.id = $1")                                              \
    X(MEDIA_IDS_BY_USER,                                                                                               \
      "SELECT id FROM media WHERE user_id = $1 AND id < $2 AND id > $3 ORDER BY id DESC LIMIT $4")                     \
    X(MEDIA_DELETE, "DELETE FROM media WHERE id = $1 AND user_id = $2 RETURNING file_key, location_id")                        \
    X(MEDIA_FILE_KEY, "SELECT file_key FROM media WHERE id = $1")                                                      \
    X(MEDIA_UNKEYED, "SELECT id FROM media WHERE file_key = 0 AND id > $1 ORDER BY id LIMIT $2")                       \
    X(MEDIA_SET_FILE_KEY, "UPDATE media SET file_key = $2 WHERE id = $1 AND file_key = 0")                            \
    X(MEDIA_KEYED_RANGE,                                                                                               \
      "SELECT id, file_key FROM media WHERE id > $1 AND id < $2 ORDER BY id LIMIT $3")                                  \
    X(MEDIA_EXISTS, "SELECT 1 FROM media WHERE id = $1")                                                               \
    X(MEDIA_TAG_INSERT, "INSERT INTO media_tags (tag, id, media_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")  \
    X(MEDIA_TAG_DELETE, "DELETE FROM media_tags WHERE media_id = $1 AND tag = $2")                                  \
    X(MEDIA_TAG_LIST, "SELECT tag FROM media_tags WHERE media_id = $1")                                             \
    X(TAG_COUNT_ADD,                                                                                                   \
      "INSERT INTO tags (name, media_count, shard) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET "           \
      "media_count = tags.media_count + excluded.media_count")                                                         \
    X(TAG_GET, "SELECT media_count FROM tags WHERE name = $1")                                                         \
    X(TAG_SEARCH,                                                                                                      \
      "SELECT name, media_count FROM tags WHERE name >= $1 AND name < $2 AND media_count > 0 "                         \
      "ORDER BY media_count DESC, name LIMIT $3")                                                                      \
    X(TAG_MEDIA_PAGE, "SELECT id, media_id FROM tag_media WHERE tag = $1 AND id < $2 AND id > $3 ORDER BY id DESC LIMIT $4")\
    X(MEDIA_SET_TAGS, "UPDATE media SET tags = $2 WHERE id = $1")                                                     \
    X(MEDIA_SET_CAPTION, "UPDATE media SET caption = $2 WHERE id = $1")                                               \
    X(MEDIA_TEXT_SOURCE, "SELECT caption, user_id FROM media WHERE id = $1")                                          \
    X(MEDIA_OWNER_COMMENTS,                                                                                            \
      "SELECT text FROM comments WHERE media_id = $1 AND user_id = $2 ORDER BY id LIMIT $3")                         \
    X(MEDIA_MENTION_LIST, "SELECT username_lower FROM media_mentions WHERE media_id = $1")                            \
    X(LOCATION_GET, "SELECT id, name, lat, lng FROM locations WHERE id = $1")                                          \
    X(LOCATION_SEARCH_NAME,                                                                                            \
      "SELECT id, name, lat, lng FROM locations WHERE name_lower >= $1 AND name_lower < $2 "                           \
      "ORDER BY name_lower, id LIMIT $3")                                                                              \
    X(POPULAR_CANDIDATES,                                                                                              \
      "SELECT id, like_count, comment_count, created_at FROM (SELECT m.id, m.like_count, m.comment_count, "            \
      "m.created_at, 2 + CASE WHEN m.created_at < $2 THEN CAST($2 - m.created_at AS DOUBLE PRECISION) / 3600 "         \
      "ELSE 0 END AS h FROM media m JOIN users u ON u.id = m.user_id WHERE m.id > $1 AND u.is_private = 0) c "         \
      "ORDER BY CAST(1 + like_count + 2 * comment_count AS DOUBLE PRECISION) * (1 + like_count + 2 * comment_count) "  \
      "/ (h * h * h) DESC, id DESC LIMIT $3")                                                                          \
    X(POPULAR_CLEAR, "DELETE FROM popular")                                                                            \
    X(POPULAR_PUT, "INSERT INTO popular (rank, media_id, score) VALUES ($1, $2, $3)")                                \
    X(POPULAR_LIST, "SELECT media_id FROM popular ORDER BY rank LIMIT $1")                                            \
    /* the geo index's sqlite backend (R*Tree); other backends bring their own */                                      \
    X(GEO_MEDIA_PUT, "INSERT INTO geo_media (id, lat0, lat1, lng0, lng1, t0, t1) VALUES ($1, $2, $2, $3, $3, $4, $4)") \
    X(GEO_MEDIA_DEL, "DELETE FROM geo_media WHERE id = $1")                                                           \
    X(GEO_MEDIA_BOX,                                                                                                   \
      "SELECT id, lat0, lng0, t0 FROM geo_media WHERE lat0 >= $1 AND lat0 <= $2 AND lng0 >= $3 AND lng0 <= $4 "        \
      "AND t0 >= $5 AND t0 <= $6")                                                                                     \
    X(GEO_PLACE_PUT, "INSERT INTO geo_places (id, lat0, lat1, lng0, lng1) VALUES ($1, $2, $2, $3, $3)")              \
    X(GEO_PLACE_BOX, "SELECT id, lat0, lng0 FROM geo_places WHERE lat0 >= $1 AND lat0 <= $2 AND lng0 >= $3 AND lng0 <= $4") \
    X(MEDIA_TAGS_DELETE, "DELETE FROM media_tags WHERE media_id = $1")                                                \
    X(MEDIA_MENTION_INSERT,                                                                                            \
      "INSERT INTO media_mentions (media_id, username_lower) VALUES ($1, $2) ON CONFLICT DO NOTHING")                 \
    X(MEDIA_MENTIONS_DELETE, "DELETE FROM media_mentions WHERE media_id = $1")                                        \
    X(LOCATION_INSERT, "INSERT INTO locations (id, name, lat, lng, name_lower) VALUES ($1, $2, $3, $4, $5)")          \
    X(USER_MEDIA_COUNT_ADD, "UPDATE users SET media_count = media_count + $2 WHERE id = $1")                         \
    X(FOLLOWING_GET, "SELECT status FROM following WHERE user_id = $1 AND target_id = $2")                             \
    X(FOLLOWING_PUT,                                                                                                   \
      "INSERT INTO following (user_id, target_id, status, created_at) VALUES ($1, $2, $3, $4) "                        \
      "ON CONFLICT (user_id, target_id) DO UPDATE SET status = excluded.status, created_at = CASE WHEN "              \
      "following.status = excluded.status THEN following.created_at ELSE excluded.created_at END")                   \
    X(FOLLOWING_DEL, "DELETE FROM following WHERE user_id = $1 AND target_id = $2")                                   \
    X(FOLLOWERS_PUT,                                                                                                   \
      "INSERT INTO followers (user_id, follower_id, status, created_at) VALUES ($1, $2, $3, $4) "                      \
      "ON CONFLICT (user_id, follower_id) DO UPDATE SET status = excluded.status, created_at = CASE WHEN "            \
      "followers.status = excluded.status THEN followers.created_at ELSE excluded.created_at END")                   \
    X(FOLLOWERS_DEL, "DELETE FROM followers WHERE user_id = $1 AND follower_id = $2")                                 \
    X(FOLLOWS_LIST,                                                                                                    \
      "SELECT target_id FROM following WHERE user_id = $1 AND status = $2 AND target_id < $3 "                         \
      "ORDER BY target_id DESC LIMIT $4")                                                                              \
    X(FOLLOWERS_LIST,                                                                                                  \
      "SELECT follower_id FROM followers WHERE user_id = $1 AND status = $2 AND follower_id < $3 "                     \
      "ORDER BY follower_id DESC LIMIT $4")                                                                            \
    X(FOLLOWS_RECENT,                                                                                                  \
      "SELECT target_id, created_at FROM following WHERE user_id = $1 AND status = $2 AND "                          \
      "(created_at, target_id) < ($3, $4) ORDER BY created_at DESC, target_id DESC LIMIT $5")                        \
    X(FOLLOWERS_RECENT,                                                                                                \
      "SELECT follower_id, created_at FROM followers WHERE user_id = $1 AND status = $2 AND "                        \
      "(created_at, follower_id) < ($3, $4) ORDER BY created_at DESC, follower_id DESC LIMIT $5")                    \
    X(BLOCK_GET, "SELECT 1 FROM blocks WHERE user_id = $1 AND target_id = $2")                                         \
    X(CAN_VIEW,                                                                                                        \
      "SELECT (SELECT COUNT(*) FROM blocks WHERE (user_id = $1 AND target_id = $2) OR (user_id = $2 AND target_id = $1)), " \
      "(SELECT status FROM following WHERE user_id = $1 AND target_id = $2)")                                          \
    X(BLOCKS_OF,                                                                                                       \
      "SELECT target_id, 1 FROM blocks WHERE user_id = $1 UNION ALL "                                                \
      "SELECT user_id, 2 FROM blocks WHERE target_id = $1 LIMIT $2")                                                \
    X(COMMENTS_BY_AUTHOR, "SELECT id FROM comments WHERE media_id = $1 AND user_id = $2 ORDER BY id LIMIT $3")       \
    X(BLOCK_PUT, "INSERT INTO blocks (user_id, target_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")    \
    X(BLOCK_DEL, "DELETE FROM blocks WHERE user_id = $1 AND target_id = $2")                                          \
    X(JOB_INSERT,                                                                                                      \
      "INSERT INTO jobs (id, kind, payload, run_at, serial, request_id) VALUES ($1, $2, $3, $4, $5, $6)")            \
    X(JOB_NEXT, "SELECT id, kind, payload, attempts, request_id FROM jobs WHERE dead = 0 AND run_at <= $1 AND lease_until < $1 "   \
      "AND (serial = 0 OR NOT EXISTS (SELECT 1 FROM jobs AS older WHERE older.serial = jobs.serial "                   \
      "AND older.id < jobs.id AND older.dead = 0)) ORDER BY run_at LIMIT 1")                                           \
    X(JOB_DUE, "SELECT id, kind, payload, attempts, request_id FROM jobs WHERE id = $2 AND dead = 0 AND run_at <= $1 "             \
      "AND lease_until < $1 AND (serial = 0 OR NOT EXISTS (SELECT 1 FROM jobs AS older WHERE older.serial = "          \
      "jobs.serial AND older.id < jobs.id AND older.dead = 0))")                                                       \
    X(JOB_LEASE, "UPDATE jobs SET lease_until = $2, lease_owner = $3 WHERE id = $1 AND lease_until < $4")              \
    X(JOB_DONE, "DELETE FROM jobs WHERE id = $1")                                                                      \
    X(JOB_CONTINUE, "UPDATE jobs SET payload = $2, lease_until = 0, attempts = 0, run_at = $3 WHERE id = $1")          \
    X(JOB_RETRY, "UPDATE jobs SET lease_until = 0, attempts = attempts + 1, run_at = $2, last_error = $3, dead = $4 "  \
      "WHERE id = $1")                                                                                                 \
    X(JOB_WAIT, "UPDATE jobs SET lease_until = 0, run_at = $2, last_error = $3 WHERE id = $1")                         \
    X(JOB_UNLEASE, "UPDATE jobs SET lease_until = 0 WHERE id = $1")                                                    \
    X(JOB_PENDING, "SELECT COUNT(*) FROM jobs WHERE dead = 0")                                                          \
    X(PING, "SELECT 1")                                                                                                \
    X(JOB_KIND_LIVE, "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND dead = 0")                                        \
    X(JOB_STATS,                                                                                                       \
      "SELECT kind, SUM(CASE WHEN dead = 0 THEN 1 ELSE 0 END), "                                                       \
      "SUM(CASE WHEN dead = 0 AND run_at <= $1 AND lease_until < $1 THEN 1 ELSE 0 END), "                              \
      "SUM(CASE WHEN dead = 0 AND lease_until >= $1 THEN 1 ELSE 0 END), "                                              \
      "MIN(CASE WHEN dead = 0 AND run_at <= $1 AND lease_until < $1 THEN run_at END), "                                \
      "SUM(CASE WHEN dead <> 0 THEN 1 ELSE 0 END) FROM jobs GROUP BY kind")                                            \
    X(FEED_PUT, "INSERT INTO feed_items (user_id, media_id, author_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")    \
    X(FOLLOWING_STILL,                                                                                                 \
      "SELECT user_id FROM following WHERE user_id {IDS $1} AND target_id = $2 AND status = 1{KEY_SHARE}")            \
    X(FEED_TRIM,                                                                                                       \
      "DELETE FROM feed_items WHERE user_id = $1 AND media_id < (SELECT media_id FROM feed_items WHERE user_id = $1 " \
      "ORDER BY media_id DESC LIMIT 1 OFFSET $2)")                                                                     \
    X(FEED_READ,                                                                                                       \
      "SELECT media_id FROM feed_items WHERE user_id = $1 AND media_id < $2 AND media_id > $3 "                        \
      "ORDER BY media_id DESC LIMIT $4")                                                                               \
    X(FEED_STATE_GET, "SELECT built_at FROM feed_state WHERE user_id = $1")                                            \
    X(FEED_STATE_PUT,                                                                                                  \
      "INSERT INTO feed_state (user_id, built_at) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET "               \
      "built_at = excluded.built_at")                                                                                  \
    X(FEED_REMOVE_AUTHOR, "DELETE FROM feed_items WHERE user_id = $1 AND author_id = $2")                              \
    X(FEED_REMOVE_MEDIA, "DELETE FROM feed_items WHERE media_id = $1")                                                \
    X(CELEB_PUT, "INSERT INTO celebrities (user_id) VALUES ($1) ON CONFLICT DO NOTHING")                             \
    X(LIKE_INSERT, "INSERT INTO likes (media_id, user_id, id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")            \
    X(LIKE_DELETE, "DELETE FROM likes WHERE media_id = $1 AND user_id = $2")                                          \
    X(LIKED_INSERT, "INSERT INTO liked (user_id, id, media_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")            \
    X(LIKED_DELETE, "DELETE FROM liked WHERE user_id = $1 AND media_id = $2")                                         \
    X(LIKE_EXISTS, "SELECT 1 FROM likes WHERE media_id = $1 AND user_id = $2")                                        \
    X(LIKED_RANGE,                                                                                                     \
      "SELECT media_id FROM liked WHERE user_id = $1 AND media_id >= $2 AND media_id <= $3 LIMIT $4")                 \
    X(LIKERS, "SELECT user_id FROM likes WHERE media_id = $1 ORDER BY id DESC LIMIT $2")                               \
    X(LIKED_LIST, "SELECT id, media_id FROM liked WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3")          \
    X(MEDIA_LIKE_COUNT_ADD, "UPDATE media SET like_count = like_count + $2 WHERE id = $1")                            \
    X(MEDIA_COMMENT_COUNT_ADD, "UPDATE media SET comment_count = comment_count + $2 WHERE id = $1")                   \
    X(COMMENT_INSERT, "INSERT INTO comments (id, media_id, user_id, text, created_at) VALUES ($1, $2, $3, $4, $5)")   \
    X(COMMENT_GET, "SELECT id, media_id, user_id, text, created_at FROM comments WHERE id = $1")                       \
    X(COMMENT_DELETE, "DELETE FROM comments WHERE id = $1")                                                            \
    X(COMMENTS_RECENT,                                                                                                 \
      "SELECT id, media_id, user_id, text, created_at FROM comments WHERE media_id = $1 ORDER BY id DESC LIMIT $2")    \
    X(ACTIVITY_INSERT, "INSERT INTO activity (id, user_id, actor_id, kind, media_id, text, ref_id) VALUES ($1, $2, $3, $4, $5, $6, $7) "\
      "ON CONFLICT DO NOTHING")                                                                                        \
    X(ACTIVITY_DELETE_REF, "DELETE FROM activity WHERE ref_id = $1")                                                  \
    X(ACTIVITY_DELETE_MEDIA, "DELETE FROM activity WHERE media_id = $1")                                              \
    X(LIKE_ID, "SELECT id FROM likes WHERE media_id = $1 AND user_id = $2")                                           \
    X(ACTIVITY_LIST,                                                                                                   \
      "SELECT id, actor_id, kind, media_id, text FROM activity WHERE user_id = $1 AND id < $2 "                        \
      "ORDER BY id DESC LIMIT $3")                                                                                     \
    X(USER_FOLLOW_COUNTS_ADD,                                                                                          \
      "UPDATE users SET follows_count = follows_count + $2, followed_by_count = followed_by_count + $3 WHERE id = $1") \
    X(TAG_INDEX_PUT,                                                                                                   \
      "INSERT INTO tag_media (tag, id, media_id, shard) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")              \
    X(TAG_INDEX_GET, "SELECT id FROM tag_media WHERE tag = $1 AND media_id = $2")                                      \
    X(TAG_INDEX_DEL, "DELETE FROM tag_media WHERE tag = $1 AND media_id = $2")                                         \
    X(MEDIA_TAG_GET, "SELECT id FROM media_tags WHERE media_id = $1 AND tag = $2")                                     \
    X(LOCATION_MEDIA_PUT, "INSERT INTO location_media (location_id, media_id) VALUES ($1, $2) ON CONFLICT DO NOTHING") \
    X(LOCATION_MEDIA_DEL, "DELETE FROM location_media WHERE location_id = $1 AND media_id = $2")                       \
    X(LOCATION_MEDIA_PAGE, "SELECT media_id FROM location_media WHERE location_id = $1 AND media_id < $2 AND media_id > $3 "\
      "ORDER BY media_id DESC LIMIT $4")                                                                               \
    X(LOCATION_SAME_NAME, "SELECT id, name, lat, lng FROM locations WHERE name_lower = $1 LIMIT $2")                   \
    X(MEDIA_PLACE, "SELECT location_id FROM media WHERE id = $1")                                                      \
    X(MEDIA_RECENT_OF, "SELECT id, user_id FROM media WHERE user_id {IDS $1} AND fanned = 1 ORDER BY id DESC LIMIT $2")\
    X(MEDIA_UNFANNED_OF, "SELECT id FROM media WHERE user_id {IDS $1} AND fanned = 0 AND id < $2 AND id > $3 "         \
      "ORDER BY id DESC LIMIT $4")                                                                                     \
    X(CELEB_FOLLOWED, "SELECT c.user_id FROM celebrities c JOIN following f ON f.target_id = c.user_id "               \
      "WHERE f.user_id = $1 AND f.status = 1 LIMIT $2")                                                                \
    X(LIKED_DELETE_OTHER, "DELETE FROM liked WHERE user_id = $1 AND media_id = $2 AND id <> $3")                       \
    X(FOLLOWERS_GET, "SELECT status FROM followers WHERE user_id = $1 AND follower_id = $2")                           \
    X(ACTIVITY_DELETE_ONE, "DELETE FROM activity WHERE ref_id = $1 AND user_id = $2 AND kind = $3")                    \
    X(ACTIVITY_DELETE_REQUEST, "DELETE FROM activity WHERE user_id = $1 AND actor_id = $2 AND kind = 'request'")       \
    X(MENTION_EXISTS, "SELECT 1 FROM media_mentions WHERE media_id = $1 AND username_lower = $2")                      \
    X(LIKES_OF_MEDIA, "SELECT user_id FROM likes WHERE media_id = $1 LIMIT $2")                                        \
    X(COMMENTS_OF_MEDIA, "SELECT id, text FROM comments WHERE media_id = $1 LIMIT $2")                                 \
    X(USERNAME_TAKEOVER, "UPDATE usernames SET user_id = $3 WHERE username_lower = $1 AND user_id = $2")               \
    X(JOB_UNLEASE_OWNER, "UPDATE jobs SET lease_until = 0 WHERE lease_owner = $1 AND lease_until > 0")                 \
    X(NODE_GET, "SELECT holder, owner, lease_until FROM nodes WHERE node = $1")                                        \
    X(NODE_CLAIM, "INSERT INTO nodes (node, holder, owner, lease_until) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")\
    X(NODE_TAKE, "UPDATE nodes SET holder = $2, owner = $3, lease_until = $4 WHERE node = $1 AND owner = $5")          \
    X(NODE_RENEW, "UPDATE nodes SET lease_until = $3, epoch = $4 WHERE node = $1 AND owner = $2")                      \
    X(NODE_RELEASE, "UPDATE nodes SET lease_until = 0 WHERE node = $1 AND owner = $2")                                 \
    X(NODES_LIVE, "SELECT COUNT(*) FROM nodes WHERE lease_until >= $1 AND owner <> $2")                                \
    /* migration 12: the shards of keys stored before it */                                                          \
    X(KEYS_USERNAMES, "SELECT username_lower FROM usernames WHERE shard = -1")                                       \
    X(KEY_SHARD_USERNAME, "UPDATE usernames SET shard = $2 WHERE username_lower = $1")                               \
    X(KEYS_TAGS, "SELECT name FROM tags WHERE shard = -1")                                                           \
    X(KEY_SHARD_TAG, "UPDATE tags SET shard = $2 WHERE name = $1")                                                   \
    X(KEYS_TAG_MEDIA, "SELECT DISTINCT tag FROM tag_media WHERE shard = -1")                                         \
    X(KEY_SHARD_TAG_MEDIA, "UPDATE tag_media SET shard = $2 WHERE tag = $1")                                         \
    X(SHARD_USERS, "SELECT COUNT(*) FROM users WHERE {SHARD id} BETWEEN $1 AND $2")                                  \
    X(SHARD_MEDIA, "SELECT COUNT(*) FROM media WHERE {SHARD id} BETWEEN $1 AND $2")                                    \
    X(CELEB_ANY, "SELECT COUNT(*) FROM (SELECT 1 FROM celebrities LIMIT 1) AS any_celebrity")                      \
    X(SHARD_MAP_LATEST, "SELECT epoch, spec FROM shard_maps ORDER BY epoch DESC LIMIT 1")                            \
    /* PostgreSQL only (benchmarks' sizes) */                                                                         \
    X(DB_SIZE, "SELECT pg_database_size(current_database())")

#define DB_Q_ENUM(name, sql) Q_##name,
enum { DB_QUERIES(DB_Q_ENUM) Q__COUNT };
#undef DB_Q_ENUM

extern const char *const db_query_sql[Q__COUNT];
extern const char *const db_query_name[Q__COUNT];

#endif
