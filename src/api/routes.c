#include "api/handlers.h"
#include "obs/log.h"

#include <stdlib.h>

static const route_t routes[] = {
    {"POST", "/v1/accounts", (void (*)(void))accounts_signup, 0},
    {"POST", "/v1/accounts/logout", (void (*)(void))accounts_logout, R_AUTH},
    {"POST", "/oauth/access_token", (void (*)(void))oauth_access_token, R_OAUTH},
    {"POST", "/web/accounts", (void (*)(void))web_signup, R_WEB},
    {"POST", "/web/session", (void (*)(void))web_login, R_WEB},
    {"GET", "/web/session", (void (*)(void))web_session_show, 0},
    {"DELETE", "/web/session", (void (*)(void))web_logout, R_AUTH | R_WEB},
    {"GET", "/oauth/authorize", (void (*)(void))oauth_authorize_page, R_OAUTH},
    {"GET", "/oauth/authorize/", (void (*)(void))oauth_authorize_page, R_OAUTH},
    {"POST", "/oauth/authorize", (void (*)(void))oauth_authorize, R_OAUTH | R_FORM_CSRF},
    {"POST", "/oauth/authorize/", (void (*)(void))oauth_authorize, R_OAUTH | R_FORM_CSRF},
    {"GET", "/web/oauth/app", (void (*)(void))web_oauth_app, 0},
    {"GET", "/v1/developer/clients", (void (*)(void))developer_clients_list, R_AUTH | R_FIRST_PARTY},
    {"POST", "/v1/developer/clients", (void (*)(void))developer_clients_create, R_AUTH | R_FIRST_PARTY},
    {"POST", "/v1/developer/clients/{id}", (void (*)(void))developer_clients_edit, R_AUTH | R_FIRST_PARTY},
    {"DELETE", "/v1/developer/clients/{id}", (void (*)(void))developer_clients_delete, R_AUTH | R_FIRST_PARTY},
    {"POST", "/v1/developer/clients/{id}/secret", (void (*)(void))developer_clients_secret, R_AUTH | R_FIRST_PARTY},
    {"GET", "/v1/developer/clients/{id}/deliveries", (void (*)(void))developer_clients_deliveries, R_AUTH | R_FIRST_PARTY},
    {"POST", "/v1/subscriptions", (void (*)(void))subscriptions_create, 0},
    {"GET", "/v1/subscriptions", (void (*)(void))subscriptions_list, 0},
    {"DELETE", "/v1/subscriptions", (void (*)(void))subscriptions_delete, 0},
    {"GET", "/v1/users/self/shares", (void (*)(void))shares_list, R_AUTH | R_FIRST_PARTY},
    {"POST", "/v1/users/self/shares", (void (*)(void))shares_connect, R_AUTH | R_FIRST_PARTY},
    {"DELETE", "/v1/users/self/shares/{id}", (void (*)(void))shares_disconnect, R_AUTH | R_FIRST_PARTY},
    {"GET", "/v1/media/{id}/shares", (void (*)(void))media_shares, R_AUTH | R_FIRST_PARTY},
    {"GET", "/v1/users/self/devices", (void (*)(void))devices_list, R_AUTH | R_FIRST_PARTY},
    {"POST", "/v1/users/self/devices", (void (*)(void))devices_add, R_AUTH | R_FIRST_PARTY},
    {"DELETE", "/v1/users/self/devices/{id}", (void (*)(void))devices_delete, R_AUTH | R_FIRST_PARTY},
    {"GET", "/v1/users/self/notifications", (void (*)(void))notifications_show, R_AUTH | R_FIRST_PARTY},
    {"POST", "/v1/users/self/notifications", (void (*)(void))notifications_edit, R_AUTH | R_FIRST_PARTY},
    {"GET", "/web/push/key", (void (*)(void))web_push_key, 0},
    {"GET", "/v1/geographies/{id}/media/recent", (void (*)(void))geographies_recent, R_AUTH},
    {"GET", "/v1/users/self/apps", (void (*)(void))users_apps_list, R_AUTH | R_FIRST_PARTY},
    {"DELETE", "/v1/users/self/apps/{id}", (void (*)(void))users_apps_revoke, R_AUTH | R_FIRST_PARTY},
    {"GET", "/v1/users/search", (void (*)(void))users_search_handler, R_AUTH},
    {"GET", "/v1/users/{id}", (void (*)(void))users_show, R_AUTH},
    {"POST", "/v1/users/self", (void (*)(void))users_edit, R_AUTH | R_FIRST_PARTY},
    {"POST", "/v1/users/self/password", (void (*)(void))users_password, R_AUTH | R_FIRST_PARTY},
    {"GET", "/v1/users/self/tokens", (void (*)(void))users_tokens, R_AUTH | R_FIRST_PARTY},
    {"DELETE", "/v1/users/self/tokens", (void (*)(void))users_tokens_revoke_all, R_AUTH | R_FIRST_PARTY},
    {"DELETE", "/v1/users/self/tokens/{id}", (void (*)(void))users_token_revoke, R_AUTH | R_FIRST_PARTY},
    {"GET", "/v1/users/{id}/media/recent", (void (*)(void))users_media_recent, R_AUTH},
    {"GET", "/v1/users/{id}/relationship", (void (*)(void))relationship_show, R_AUTH},
    {"POST", "/v1/users/{id}/relationship", (void (*)(void))relationship_change, R_AUTH | R_RELATIONSHIPS},
    {"GET", "/v1/users/{id}/follows", (void (*)(void))users_follows, R_AUTH},
    {"GET", "/v1/users/{id}/followed-by", (void (*)(void))users_followed_by, R_AUTH},
    {"GET", "/v1/users/self/requested-by", (void (*)(void))users_requested_by, R_AUTH | R_RELATIONSHIPS},
    {"GET", "/v1/users/self/feed", (void (*)(void))users_feed, R_AUTH},
    {"GET", "/v1/users/self/media/liked", (void (*)(void))users_liked, R_AUTH},
    {"GET", "/v1/users/self/activity", (void (*)(void))users_activity, R_AUTH | R_FIRST_PARTY},
    {"GET", "/v1/users/self/export", (void (*)(void))users_export, R_AUTH | R_FIRST_PARTY},
    {"GET", "/v1/media/{id}/likes", (void (*)(void))likes_list, R_AUTH},
    {"POST", "/v1/media/{id}/likes", (void (*)(void))likes_add, R_AUTH | R_LIKES},
    {"DELETE", "/v1/media/{id}/likes", (void (*)(void))likes_remove, R_AUTH | R_LIKES},
    {"GET", "/v1/media/{id}/comments", (void (*)(void))comments_list, R_AUTH},
    {"POST", "/v1/media/{id}/comments", (void (*)(void))comments_add, R_AUTH | R_COMMENTS},
    {"DELETE", "/v1/media/{id}/comments/{cid}", (void (*)(void))comments_remove, R_AUTH | R_COMMENTS},
    {"POST", "/v1/media/upload", (void (*)(void))media_upload, R_AUTH | R_UPLOAD | R_FIRST_PARTY},
    {"GET", "/v1/media/search", (void (*)(void))media_search, R_AUTH},
    {"GET", "/v1/media/popular", (void (*)(void))media_popular, R_AUTH},
    {"POST", "/v1/media/{id}", (void (*)(void))media_edit, R_AUTH | R_FIRST_PARTY},
    {"GET", "/v1/tags/search", (void (*)(void))tags_search_handler, R_AUTH},
    {"GET", "/v1/tags/{name}", (void (*)(void))tags_show, R_AUTH},
    {"GET", "/v1/tags/{name}/media/recent", (void (*)(void))tags_recent, R_AUTH},
    {"GET", "/v1/locations/search", (void (*)(void))locations_search, R_AUTH},
    {"GET", "/v1/locations/{id}", (void (*)(void))locations_show, R_AUTH},
    {"GET", "/v1/locations/{id}/media/recent", (void (*)(void))locations_recent, R_AUTH},
    {"GET", "/v1/media/shortcode/{code}", (void (*)(void))media_show_shortcode, R_AUTH},
    {"GET", "/v1/media/{id}", (void (*)(void))media_show, R_AUTH},
    {"DELETE", "/v1/media/{id}", (void (*)(void))media_delete_handler, R_AUTH | R_FIRST_PARTY},
};

router_t *api_router_new(void)
{
    const char *bad = NULL;
    router_t *r = router_new(routes, sizeof(routes) / sizeof(routes[0]), &bad);
    if (r == NULL) {
        log_error("bad route pattern: %s", bad);
        abort();
    }
    return r;
}
