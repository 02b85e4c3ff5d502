/* The API handlers, one file per resource family; routes.c maps them. */
#ifndef PICOGRAM_HANDLERS_H
#define PICOGRAM_HANDLERS_H

#include "http/api.h"
#include "model/media.h"
#include "model/users.h"

void accounts_signup(api_req_t *ar);
void accounts_logout(api_req_t *ar);
void users_password(api_req_t *ar);
void users_tokens(api_req_t *ar);
void users_token_revoke(api_req_t *ar);
void users_tokens_revoke_all(api_req_t *ar);
void oauth_access_token(api_req_t *ar);
void users_show(api_req_t *ar);
void users_edit(api_req_t *ar);
void users_search_handler(api_req_t *ar);
void users_media_recent(api_req_t *ar);
void media_upload(api_req_t *ar);
void media_show(api_req_t *ar);
void media_show_shortcode(api_req_t *ar);
void media_delete_handler(api_req_t *ar);
void relationship_show(api_req_t *ar);
void relationship_change(api_req_t *ar);
void users_follows(api_req_t *ar);
void users_followed_by(api_req_t *ar);
void users_requested_by(api_req_t *ar);
void users_feed(api_req_t *ar);
void likes_list(api_req_t *ar);
void likes_add(api_req_t *ar);
void likes_remove(api_req_t *ar);
void users_liked(api_req_t *ar);
void comments_list(api_req_t *ar);
void comments_add(api_req_t *ar);
void comments_remove(api_req_t *ar);
void users_activity(api_req_t *ar);
void users_export(api_req_t *ar);
/* Removes the archives a run before left in DATA/exports (api/export.c). */
void api_export_sweep(const char *data_dir);
void media_edit(api_req_t *ar);
/* Third-party apps and OAuth2 (api/apps.c) */
void developer_clients_create(api_req_t *ar);
void developer_clients_list(api_req_t *ar);
void developer_clients_edit(api_req_t *ar);
void developer_clients_delete(api_req_t *ar);
void developer_clients_secret(api_req_t *ar);
void users_apps_list(api_req_t *ar);
void users_apps_revoke(api_req_t *ar);
void oauth_authorize_page(api_req_t *ar);
void oauth_authorize(api_req_t *ar);
void web_oauth_app(api_req_t *ar);
/* POST /oauth/access_token with grant_type=authorization_code */
void oauth_code_grant(api_req_t *ar);
/* Real-time subscriptions (api/subscriptions.c) */
void subscriptions_create(api_req_t *ar);
void subscriptions_list(api_req_t *ar);
void subscriptions_delete(api_req_t *ar);
void developer_clients_deliveries(api_req_t *ar);
/* Sharing to Mastodon-API servers (api/share.c) */
void shares_connect(api_req_t *ar);
void shares_list(api_req_t *ar);
void shares_disconnect(api_req_t *ar);
void media_shares(api_req_t *ar);
/* An upload's share=ID,...: the viewer's connected accounts into m; false
 * after answering 400. */
bool share_param(api_req_t *ar, media_t *m);
/* Push notifications (api/push.c) */
void devices_add(api_req_t *ar);
void devices_list(api_req_t *ar);
void devices_delete(api_req_t *ar);
void notifications_show(api_req_t *ar);
void notifications_edit(api_req_t *ar);
void web_push_key(api_req_t *ar);
void geographies_recent(api_req_t *ar);
/* Answers geo hits as media with their distance: nearest first (min_id 0),
 * or newest first and newer than min_id (-1: all). */
struct geo_hits;
void api_geo_page(api_req_t *ar, struct geo_hits *h, int count, int64_t min_id);
/* A media geo search (geo_media_near_all) through the object cache's cells
 * of the index (api/geocells.c): the same hits. 0 or -1. */
int api_geo_media_near(api_req_t *ar, int64_t t0, int64_t t1, struct geo_hits *h);
/* Drops the cached cell of a media placed at (lat, lng), posted then:
 * after a post's commit (or a failed one that may have landed). */
void api_geo_posted(cache_t *cache, double lat, double lng, int64_t created_at);
void web_signup(api_req_t *ar);
void web_login(api_req_t *ar);
void web_session_show(api_req_t *ar);
void web_logout(api_req_t *ar);
/* Answers a browser log-in or sign-up: sets the session cookie to token and
 * renders {user, csrf_token}. */
void web_session_reply(api_req_t *ar, const char *token, const user_t *u);
void tags_show(api_req_t *ar);
void tags_recent(api_req_t *ar);
void tags_search_handler(api_req_t *ar);
void locations_show(api_req_t *ar);
void locations_recent(api_req_t *ar);
void locations_search(api_req_t *ar);
void media_search(api_req_t *ar);
void media_popular(api_req_t *ar);

/* A list source for api_page. fetch fills keys[0..n) with up to `limit`
 * keys below `before`, newest first (keyed data of its own may sit beside
 * them in the struct that embeds this one); emit renders item i into b if
 * the viewer may see it, and returns whether it did. */
typedef struct page_src page_src_t;
struct page_src {
    int (*fetch)(api_req_t *ar, page_src_t *src, int64_t before, int limit, int *n);
    bool (*emit)(api_req_t *ar, page_src_t *src, int i, buf_t *b);
    int64_t *keys;
};
/* Where the next page starts: 0 if none remains. A position the viewer was
 * shown is a plain ID; one the scan stopped on among hidden items is sealed
 * (core/cursor.h), so a cursor never reveals an item the viewer may not see. */
typedef struct page_next {
    int64_t pos;
    bool sealed;
} page_next_t;
#define PAGE_CURSOR_MAX 48
/* Writes a JSON array of up to count visible items into out, filling the
 * page past hidden ones. 0, or -1 if a fetch failed. */
int api_page(api_req_t *ar, page_src_t *src, int count, int64_t start, buf_t *out, page_next_t *next);
/* The text of a cursor ("" if there is no next page). */
void api_cursor_text(const api_req_t *ar, const page_next_t *next, char out[PAGE_CURSOR_MAX]);
/* api_page answered as a v1 list: pagination {next_url with param, key}. */
void api_page_reply(api_req_t *ar, page_src_t *src, int count, int64_t start, const char *param, const char *key);
/* An optional ID parameter (a cursor: a plain ID or a sealed position) into
 * *out, left as it is when absent. False after answering 400. */
bool api_id_param(api_req_t *ar, const char *key, int64_t *out);

/* A unix-seconds parameter into *out (left as it is when absent). False after answering 400. */
bool api_ts_param(api_req_t *ar, const char *key, long long *out);
/* min_timestamp and max_timestamp narrowed into the media ID bounds
 * (min_id, max_id) exclusive. False after answering 400. */
bool api_time_bounds(api_req_t *ar, int64_t *min_id, int64_t *max_id);

/* "MEDIAID_OWNERID" or "MEDIAID": the media ID (0 if malformed), and the owner if given. */
int64_t parse_media_id(const char *s, size_t n, int64_t *owner);
/* An optional media ID parameter (max_id, min_id), bare, MEDIAID_OWNERID or
 * a sealed cursor, into *out (left as it is when absent). False after
 * answering 400. */
bool api_media_id_param(api_req_t *ar, const char *key, int64_t *out);
/* Loads a media and its owner, checking the viewer may see it. False after
 * answering 404 / 400 APINotAllowedError (or 500). */
bool api_load_media(api_req_t *ar, int64_t id, int64_t owner_hint, media_t *m, user_t *owner);
/* The same without the check (for what a viewer may undo on a photo they
 * can no longer see): false after answering 404 (or 500). */
bool api_find_media(api_req_t *ar, int64_t id, int64_t owner_hint, media_t *m, user_t *owner);
/* The outcome of a media's lookup (rc, a MEDIA_ code) and its owner's (urc,
 * a USERS_ code): true if both were found, else answers 404 or 500. */
bool api_media_answer(api_req_t *ar, int rc, int urc);
/* Renders a media object for the viewer (latest likers and comments,
 * user_has_liked), from its cached template or made now. m is cached only
 * if it was read in this request's snapshot (after its cache ticket): a row
 * read by a worker could be older than an invalidation. */
void api_render_media(api_req_t *ar, buf_t *b, const media_t *m, bool m_from_this_request);
/* Renders media id into b if it exists and the viewer may see it (from the
 * object cache where it can); returns whether it did. For list pages. */
bool api_emit_visible_media(api_req_t *ar, int64_t id, buf_t *b);
bool api_show_media_cached(api_req_t *ar, int64_t id, int64_t owner_hint);

/* Reads, in one query, which of the media ids (a page about to be shown)
 * the viewer has liked, for user_has_liked; items outside the memo ask
 * for themselves. With a shared cache, also fetches the page's media and
 * their users in two batched reads. */
void api_prefetch_liked(api_req_t *ar, const int64_t *ids, int n);

/* Whether the viewer may see owner's media and lists (the owner; or no
 * block either way and public or an approved follower). False after
 * answering 400 APINotAllowedError, or 404 with `missing` to a viewer the
 * owner blocks (or 500). A public owner with no block either way in the
 * viewer's block list (api_block_dir) asks no database. */
bool api_can_view(api_req_t *ar, const user_t *owner, const char *missing);
bool api_can_view_id(api_req_t *ar, int64_t owner, bool owner_private, const char *missing);

/* Which blocks stand between the viewer and user: GRAPH_BLOCKS (the viewer
 * blocks them), GRAPH_BLOCKED_BY (they block the viewer), both, or 0; -1
 * if that cannot be known now (a database error). Loaded once per request,
 * from the object cache when it can. */
int api_block_dir(api_req_t *ar, int64_t user);
/* False after answering 404 if user blocks the viewer (to them, a user
 * who blocks them is not there), or 500 if that cannot be known now. */
bool api_user_there(api_req_t *ar, int64_t user);

/* Appends a user's short JSON (from the object cache, or rendered and
 * cached) and tells whether the account is private. USERS_OK,
 * USERS_NOT_FOUND or USERS_ERROR. */
int api_user_fragment(api_req_t *ar, int64_t id, buf_t *out, bool *is_private);
/* The user the i-th path argument names, from the object cache as
 * api_user_fragment reads it: its ID and whether it is private. False
 * after answering 404 (no such user, or suspended) or 500. */
bool api_user_arg_brief(api_req_t *ar, size_t i, int64_t *id, bool *is_private);
/* Drops a user's cached full object (after a commit that changed it or its counts). */
void api_profile_changed(cache_t *cache, int64_t user);
/* The same, and the user's newest media IDs: after a post or a delete. */
void api_posts_changed(cache_t *cache, int64_t user);

/* A JSON array of the short users whose IDs are given (from the object
 * cache), leaving out any that are gone. */
void api_render_users(api_req_t *ar, buf_t *b, const int64_t *ids, int n);

/* Loads the user a path argument names ("self" or an ID). False after
 * answering 404 (or 500). */
bool api_load_user_arg(api_req_t *ar, size_t i, user_t *out);

/* Shared by sign-up and log-in: argon2id, run on a worker thread. The
 * cost of new hashes is the `password_hash` setting ("interactive" or
 * "minimum"), given once at start-up; a verify reads the cost from the
 * stored hash. */
void password_hash_cost(const char *cost);
int password_hash(const char *password, char out[128]);
bool password_verify(const char *hash, const char *password);

#endif
