/* The API handlers, one file per resource family; routes.c maps them. */
#ifndef PICOGRAM_HANDLERS_H
#define PICOGRAM_HANDLERS_H

#include "http/api.h"
#include "model/users.h"

void accounts_signup(api_req_t *ar);
void accounts_logout(api_req_t *ar);
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

/* Whether the viewer may see owner's media and lists (the owner; or no
 * block either way and public or an approved follower). False after
 * answering 400 APINotAllowedError (or 500). */
bool api_can_view(api_req_t *ar, const user_t *owner);

/* Loads the user a path argument names ("self" or an ID). False after
 * answering 404 (or 500). */
bool api_load_user_arg(api_req_t *ar, size_t i, user_t *out);

/* Shared by sign-up and log-in: argon2id, run on a worker thread. */
int password_hash(const char *password, char out[128]);
bool password_verify(const char *hash, const char *password);

#endif
