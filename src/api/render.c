#include "api/render.h"
#include "blob/blob.h"
#include "core/ids.h"

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

void render_media_id(buf_t *b, const media_t *m)
{
    buf_putc(b, '"');
    buf_i64(b, m->id);
    buf_putc(b, '_');
    buf_i64(b, m->user_id);
    buf_putc(b, '"');
}

static void render_images(buf_t *b, const media_t *m, const render_urls_t *urls)
{
    buf_puts(b, "{");
    for (int i = 0; i < IMG_NRENDITIONS; i++) {
        char key[128];
        blob_media_key(key, sizeof(key), m->id, m->file_key, img_renditions[i].suffix);
        if (i)
            buf_putc(b, ',');
        buf_putc(b, '"');
        buf_puts(b, img_renditions[i].name);
        buf_puts(b, "\":{\"url\":\"");
        buf_puts(b, urls->photo_url); /* config-checked URL, no escaping needed */
        buf_putc(b, '/');
        buf_puts(b, key);
        buf_puts(b, "\",\"width\":");
        buf_i64(b, m->width[i]);
        buf_puts(b, ",\"height\":");
        buf_i64(b, m->height[i]);
        buf_putc(b, '}');
    }
    buf_putc(b, '}');
}

/* {"id","text","created_time","from"}: a comment, or a caption */
static void render_text_object(buf_t *b, int64_t id, const char *text, int64_t created, const char *from,
                               size_t from_len)
{
    buf_puts(b, "{\"id\":");
    buf_json_id(b, id);
    buf_puts(b, ",\"text\":");
    buf_json_cstr(b, text);
    buf_puts(b, ",\"created_time\":\"");
    buf_i64(b, created);
    buf_puts(b, "\",\"from\":");
    buf_append(b, from, from_len);
    buf_putc(b, '}');
}

void render_comment(buf_t *b, const comment_t *c, const char *from, size_t from_len)
{
    render_text_object(b, c->id, c->text, c->created_at, from, from_len);
}

void render_media(buf_t *b, const media_t *m, const char *owner, size_t owner_len, const render_urls_t *urls,
                  const media_extras_t *x)
{
    char code[IDS_SHORTCODE_MAX + 1];
    ids_shortcode(m->id, code);
    buf_puts(b, "{\"id\":");
    render_media_id(b, m);
    buf_puts(b, ",\"type\":\"image\",\"filter\":");
    buf_json_cstr(b, m->filter);
    buf_puts(b, ",\"tags\":");
    buf_puts(b, m->tags_json[0] ? m->tags_json : "[]");
    buf_puts(b, ",\"link\":\"");
    buf_puts(b, urls->public_url);
    buf_puts(b, "/p/");
    buf_puts(b, code);
    buf_puts(b, "/\",\"created_time\":\"");
    buf_i64(b, m->created_at);
    buf_puts(b, "\",\"attribution\":null,\"user_has_liked\":");
    if (x && x->user_has_liked_raw)
        buf_append(b, x->user_has_liked_raw, x->user_has_liked_raw_len);
    else
        buf_puts(b, x && x->user_has_liked ? "true" : "false");
    buf_puts(b, ",\"users_in_photo\":[],\"location\":");
    if (m->location_id) {
        render_location(b, m->location_id, m->location_name, m->lat, m->lng);
    } else {
        buf_puts(b, "null");
    }
    buf_puts(b, ",\"caption\":");
    if (m->has_caption) {
        render_text_object(b, m->id, m->caption, m->created_at, owner, owner_len);
    } else {
        buf_puts(b, "null");
    }
    buf_puts(b, ",\"likes\":{\"count\":");
    buf_i64(b, m->like_count);
    buf_puts(b, ",\"data\":[");
    if (x)
        buf_append(b, x->likers.data, x->likers.len);
    buf_puts(b, "]},\"comments\":{\"count\":");
    buf_i64(b, m->comment_count);
    buf_puts(b, ",\"data\":[");
    if (x)
        buf_append(b, x->comments.data, x->comments.len);
    buf_puts(b, "]},\"user\":");
    buf_append(b, owner, owner_len);
    buf_puts(b, ",\"images\":");
    render_images(b, m, urls);
    buf_putc(b, '}');
}

void render_location(buf_t *b, int64_t id, const char *name, double lat, double lng)
{
    buf_puts(b, "{\"id\":");
    buf_json_id(b, id);
    buf_puts(b, ",\"name\":");
    buf_json_cstr(b, name);
    buf_printf(b, ",\"latitude\":%.7f,\"longitude\":%.7f}", lat, lng);
}
