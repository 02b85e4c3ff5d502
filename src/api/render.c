#include "api/render.h"

static void user_common(buf_t *b, const user_t *u)
{
    buf_puts(b, "{\"id\":");
    buf_json_id(b, u->id);
    buf_puts(b, ",\"username\":");
    buf_json_cstr(b, u->username);
    buf_puts(b, ",\"full_name\":");
    buf_json_cstr(b, u->full_name);
    buf_puts(b, ",\"profile_picture\":");
    buf_json_cstr(b, u->profile_picture);
}

void render_user_short(buf_t *b, const user_t *u)
{
    user_common(b, u);
    buf_putc(b, '}');
}

void render_user_full(buf_t *b, const user_t *u)
{
    user_common(b, u);
    buf_puts(b, ",\"bio\":");
    buf_json_cstr(b, u->bio);
    buf_puts(b, ",\"website\":");
    buf_json_cstr(b, u->website);
    buf_puts(b, ",\"is_private\":");
    buf_puts(b, u->is_private ? "true" : "false");
    buf_puts(b, ",\"counts\":{\"media\":");
    buf_i64(b, u->media_count);
    buf_puts(b, ",\"follows\":");
    buf_i64(b, u->follows_count);
    buf_puts(b, ",\"followed_by\":");
    buf_i64(b, u->followed_by_count);
    buf_puts(b, "}}");
}
