/*
 * The browser session, for the web client (web/): POST /web/accounts (sign
 * up) and POST /web/session (log in) put a new token in an HttpOnly,
 * SameSite=Strict cookie and answer {user, csrf_token}; GET /web/session
 * answers the same for the cookie's session (data null without one);
 * DELETE /web/session logs out and clears the cookie. JavaScript never sees
 * the token; the API accepts the cookie as it accepts a token, and asks for
 * the CSRF token on every state-changing request (see http/api.c).
 */
#include "api/handlers.h"
#include "api/render.h"
#include "model/users.h"

#include <string.h>

/* {user, csrf_token} for the session of token */
static void reply(api_req_t *ar, const char *token, size_t len, const user_t *u)
{
    char csrf[CSRF_TOKEN_LEN + 1];
    api_csrf_token(token, len, csrf);
    buf_t b;
    buf_init(&b, 16384);
    buf_puts(&b, "{\"user\":");
    render_user_full(&b, u);
    buf_puts(&b, ",\"csrf_token\":");
    buf_json_cstr(&b, csrf);
    buf_putc(&b, '}');
    api_ok(ar, &b, NULL);
    buf_free(&b);
}

void web_session_reply(api_req_t *ar, const char *token, const user_t *u)
{
    api_set_session_cookie(ar, token);
    reply(ar, token, strlen(token), u);
}

void web_session_show(api_req_t *ar)
{
    user_t u;
    int rc = ar->via_cookie && ar->viewer ? users_get(ar->db, ar->viewer, &u) : USERS_NOT_FOUND;
    if (rc == USERS_ERROR) {
        api_internal_error(ar, "session read failed");
        return;
    }
    if (rc != USERS_OK) {
        if (ar->via_cookie)
            api_set_session_cookie(ar, NULL); /* a stale cookie goes */
        api_ok_null(ar);
        return;
    }
    reply(ar, ar->token, ar->token_len, &u);
}

void web_logout(api_req_t *ar)
{
    api_set_session_cookie(ar, NULL);
    accounts_logout(ar); /* revokes the token; the header above goes with its answer */
}
