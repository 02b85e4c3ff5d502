/* An account's archive: see export.h. */
#include "model/export.h"
#include "core/buf.h"
#include "core/fsutil.h"
#include "core/ids.h"
#include "images/images.h"
#include "model/graph.h"
#include "model/media.h"
#include "model/social.h"
#include "model/users.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#define PAGE 64
#define FLUSH_AT (64u << 10)
#define PHOTO_MAX (64u << 20)
#define NAME_SLOTS 512
#define SECTION_BUF_MAX (256u << 20) /* never near: written out past FLUSH_AT */

/* One JSON list, spooled to an unlinked file: "[\n" item ",\n" item "\n]\n". */
typedef struct section {
    FILE *f;
    buf_t b;
    long long n;
} section_t;

typedef struct exporter {
    db_ctx_t *db;
    blob_store_t *store;
    zip_t *za;
    const char *dir; /* where the spooled lists go: the archive's directory */
    export_counts_t *n;
    char *err;
    size_t errlen;
    int rc;
    int64_t now;
    user_t *u, *scratch;
    /* the usernames of the IDs seen last, by ID modulo the slots (a list of
     * likes or comments names the same few people again and again) */
    struct {
        int64_t id;
        char name[USERNAME_MAX + 1];
    } names[NAME_SLOTS];
    /* photos the store did not have, for the manifest (its first few) */
    int64_t missing[32];
} exporter_t;

static void fail(exporter_t *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(exporter_t *x, int rc, const char *fmt, ...)
{
    if (x->rc == EXPORT_OK) {
        x->rc = rc;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err, x->errlen, fmt, ap);
        va_end(ap);
    }
}

static FILE *spool_file(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) { /* a file system without O_TMPFILE */
        char path[4096];
        snprintf(path, sizeof(path), "%s/.export-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
    if (f == NULL && fd >= 0)
        close(fd);
    return f;
}

static bool section_open(exporter_t *x, section_t *s)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->b, SECTION_BUF_MAX);
    s->f = spool_file(x->dir);
    if (s->f == NULL) {
        fail(x, EXPORT_IO, "cannot make a temporary file in %s", x->dir);
        return false;
    }
    buf_puts(&s->b, "[");
    return true;
}

static void section_write(exporter_t *x, section_t *s)
{
    if (s->b.len > 0 && fwrite(s->b.data, 1, s->b.len, s->f) != s->b.len)
        fail(x, EXPORT_IO, "cannot write a temporary file in %s (no space?)", x->dir);
    buf_reset(&s->b);
}

/* Starts an item: the caller appends one JSON value to s->b. */
static buf_t *section_item(section_t *s)
{
    buf_puts(&s->b, s->n++ ? ",\n" : "\n");
    return &s->b;
}

/* Writes out what is kept, if it is much (mid-item too: it is one stream). */
static void section_flush(exporter_t *x, section_t *s)
{
    if (s->b.len >= FLUSH_AT)
        section_write(x, s);
}

static void section_drop(section_t *s)
{
    if (s->f)
        fclose(s->f);
    buf_free(&s->b);
    s->f = NULL;
}

/* Ends the list and hands its file to the archive as name. */
static void section_add(exporter_t *x, section_t *s, const char *name)
{
    buf_puts(&s->b, s->n ? "\n]\n" : "]\n");
    section_write(x, s);
    if (x->rc == EXPORT_OK && fflush(s->f) != 0)
        fail(x, EXPORT_IO, "cannot write a temporary file in %s (no space?)", x->dir);
    if (x->rc != EXPORT_OK) {
        section_drop(s);
        return;
    }
    rewind(s->f);
    zip_source_t *src = zip_source_filep(x->za, s->f, 0, -1); /* it closes the file when done with it */
    zip_int64_t i = src ? zip_file_add(x->za, name, src, ZIP_FL_ENC_UTF_8) : -1;
    if (src == NULL)
        fclose(s->f);
    else if (i < 0)
        zip_source_free(src);
    else
        zip_file_set_mtime(x->za, (zip_uint64_t)i, (time_t)x->now, 0);
    s->f = NULL;
    buf_free(&s->b);
    if (i < 0)
        fail(x, EXPORT_IO, "cannot add %s to the archive", name);
}

/* {"id":"N","username":"NAME"} of an account; null for the name of one
 * gone or suspended. */
static void put_user(exporter_t *x, buf_t *b, int64_t id)
{
    unsigned slot = (unsigned)((uint64_t)id % NAME_SLOTS);
    if (x->names[slot].id != id) {
        int rc = users_get(x->db, id, x->scratch); /* a suspended account is hidden here too */
        if (rc == USERS_ERROR) {
            fail(x, EXPORT_ERROR, "%s", "a database did not answer (reading an account)");
            return;
        }
        x->names[slot].id = id;
        snprintf(x->names[slot].name, sizeof(x->names[slot].name), "%s", rc == USERS_OK ? x->scratch->username : "");
    }
    buf_puts(b, "{\"id\":");
    buf_json_id(b, id);
    buf_puts(b, ",\"username\":");
    if (x->names[slot].name[0])
        buf_json_cstr(b, x->names[slot].name);
    else
        buf_puts(b, "null");
    buf_putc(b, '}');
}

static void put_time(buf_t *b, const char *key, int64_t unix_s)
{
    buf_printf(b, ",\"%s\":\"%lld\"", key, (long long)unix_s);
}

/* ,"media_id":"N","media_owner":{...} of a photo others may own (m: it, or
 * NULL if it is gone: the owner is null). */
static void put_media_ref(exporter_t *x, buf_t *b, int64_t media, const media_t *m)
{
    buf_puts(b, ",\"media_id\":");
    buf_json_id(b, media);
    buf_puts(b, ",\"media_owner\":");
    if (m != NULL)
        put_user(x, b, m->user_id);
    else
        buf_puts(b, "null");
}

/* ---- entries made when libzip reads them: photos, the manifest ---- */

/* An entry whose bytes are made only when libzip reads it (in zip_close),
 * held while it does, and let go of at once. */
typedef struct made_src {
    exporter_t *x;
    int (*make)(struct made_src *p, buf_t *out); /* 0, or -1: the archive fails */
    int64_t media_id, file_key;                  /* a photo's */
    time_t mtime;
    buf_t data;
    size_t at;
    zip_error_t error;
} made_src_t;

static zip_int64_t made_cb(void *arg, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    made_src_t *p = arg;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        buf_init(&p->data, PHOTO_MAX);
        p->at = 0;
        if (p->make(p, &p->data) != 0) {
            buf_free(&p->data);
            zip_error_set(&p->error, ZIP_ER_READ, EIO);
            return -1;
        }
        return 0;
    case ZIP_SOURCE_READ: {
        size_t left = p->data.len - p->at, k = len < left ? (size_t)len : left;
        if (k)
            memcpy(data, p->data.data + p->at, k);
        p->at += k;
        return (zip_int64_t)k;
    }
    case ZIP_SOURCE_CLOSE:
        buf_free(&p->data); /* one photo in memory at a time */
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = data;
        zip_stat_init(st);
        st->mtime = p->mtime;
        st->valid |= ZIP_STAT_MTIME;
        return sizeof(*st);
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&p->error, data, len);
    case ZIP_SOURCE_FREE:
        buf_free(&p->data);
        zip_error_fini(&p->error);
        free(p);
        return 0;
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                              ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    default:
        zip_error_set(&p->error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

/* Adds name as an entry made by make when libzip reads it; its index, or -1. */
static zip_int64_t add_made(exporter_t *x, const char *name, int (*make)(made_src_t *, buf_t *), made_src_t *tmpl)
{
    made_src_t *p = xmalloc(sizeof(*p));
    *p = *tmpl;
    p->x = x;
    p->make = make; /* (its data buffer, empty as in tmpl, is made at OPEN) */
    zip_error_init(&p->error);
    zip_source_t *src = zip_source_function(x->za, made_cb, p);
    zip_int64_t i = src ? zip_file_add(x->za, name, src, ZIP_FL_ENC_UTF_8) : -1;
    if (src == NULL)
        free(p);
    else if (i < 0)
        zip_source_free(src); /* frees p */
    if (i < 0)
        fail(x, EXPORT_IO, "cannot add %s to the archive", name);
    return i;
}

/* A photo's bytes, from the store; a photo that is not there is an empty
 * entry, named in the manifest. */
static int make_photo(made_src_t *p, buf_t *out)
{
    exporter_t *x = p->x;
    char key[BLOB_KEY_MAX];
    blob_media_key(key, sizeof(key), p->media_id, p->file_key, img_renditions[IMG_HIGH].suffix);
    int rc = blob_get(x->store, key, out);
    int64_t now_key = 0;
    if (rc == BLOB_ABSENT && media_file_key(x->db, p->media_id, &now_key) == MEDIA_OK && now_key != p->file_key) {
        /* given a file key since it was listed (the photo_rekey job): under that one */
        blob_media_key(key, sizeof(key), p->media_id, now_key, img_renditions[IMG_HIGH].suffix);
        buf_reset(out);
        rc = blob_get(x->store, key, out);
    }
    db_ctx_release(x->db);
    if (rc == BLOB_ABSENT) { /* deleted since it was listed, or lost */
        buf_reset(out);
        if (x->n->photos_missing < (long long)(sizeof(x->missing) / sizeof(x->missing[0])))
            x->missing[x->n->photos_missing] = p->media_id;
        x->n->photos_missing++;
        return 0;
    }
    if (rc != BLOB_OK) {
        fail(x, EXPORT_ERROR, "the photo store did not give %s", key);
        return -1;
    }
    return 0;
}

static void add_photo(exporter_t *x, const media_t *m)
{
    made_src_t t = {.media_id = m->id, .file_key = m->file_key, .mtime = (time_t)m->created_at};
    char name[64];
    snprintf(name, sizeof(name), "photos/%lld.jpg", (long long)m->id);
    zip_int64_t i = add_made(x, name, make_photo, &t);
    if (i >= 0)
        zip_set_file_compression(x->za, (zip_uint64_t)i, ZIP_CM_STORE, 0);
}

/* ---- the lists ---- */

/* A page of media's comments after *after into the item. */
static int comments_page(exporter_t *x, buf_t *b, int64_t media, int64_t *after, bool *first)
{
    db_conn_t *c = db_shard(x->db, ids_shard(media));
    if (c == NULL)
        return -1;
    db_stmt_t *s = db_q(c, Q_COMMENTS_PAGE);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, *after);
    db_bind_i64(s, 3, PAGE);
    /* the page first, then the names: no other query while it is open */
    int64_t ids[PAGE], users[PAGE], at[PAGE];
    size_t text_at[PAGE + 1];
    buf_t texts;
    buf_init(&texts, 1u << 24);
    int n = 0, rc;
    while (n < PAGE && (rc = db_step(s)) == DB_ROW) {
        ids[n] = db_col_i64(s, 0);
        users[n] = db_col_i64(s, 1);
        size_t len;
        const char *t = db_col_text(s, 2, &len);
        text_at[n] = texts.len;
        buf_append(&texts, t ? t : "", t ? len : 0);
        at[n++] = db_col_i64(s, 3);
    }
    text_at[n] = texts.len;
    db_reset(s);
    if (n < PAGE && rc == DB_ERROR) {
        buf_free(&texts);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        buf_puts(b, *first ? "{\"id\":" : ",{\"id\":");
        *first = false;
        buf_json_id(b, ids[i]);
        put_time(b, "created_time", at[i]);
        buf_puts(b, ",\"text\":");
        buf_json_str(b, texts.data + text_at[i], text_at[i + 1] - text_at[i]);
        buf_puts(b, ",\"from\":");
        put_user(x, b, users[i]);
        buf_putc(b, '}');
    }
    x->n->comments_received += n;
    buf_free(&texts);
    if (n > 0)
        *after = ids[n - 1];
    return n;
}

static int likes_page(exporter_t *x, buf_t *b, int64_t media, int64_t *after, bool *first)
{
    db_conn_t *c = db_shard(x->db, ids_shard(media));
    if (c == NULL)
        return -1;
    db_stmt_t *s = db_q(c, Q_LIKES_PAGE);
    db_bind_i64(s, 1, media);
    db_bind_i64(s, 2, *after);
    db_bind_i64(s, 3, PAGE);
    int64_t ids[PAGE], users[PAGE];
    int n = 0;
    if (db_read_id_pairs(s, PAGE, ids, users, &n) != DB_DONE)
        return -1;
    for (int i = 0; i < n; i++) {
        buf_puts(b, *first ? "{\"user\":" : ",{\"user\":");
        *first = false;
        put_user(x, b, users[i]);
        put_time(b, "created_time", ids_unix_ms(ids[i]) / 1000);
        buf_putc(b, '}');
    }
    x->n->likes_received += n;
    if (n > 0)
        *after = ids[n - 1];
    return n;
}

/* All of a list, page by page, into the item; false on a database error. */
static bool whole_list(exporter_t *x, section_t *s, int64_t media,
                       int (*page)(exporter_t *, buf_t *, int64_t, int64_t *, bool *))
{
    int64_t after = 0;
    bool first = true;
    int n;
    while ((n = page(x, &s->b, media, &after, &first)) == PAGE)
        section_flush(x, s);
    if (n < 0)
        fail(x, EXPORT_ERROR, "%s", "a database did not answer (reading a photo's comments or likes)");
    return n >= 0;
}

static void media_item(exporter_t *x, section_t *s, const media_t *m)
{
    buf_t *b = section_item(s);
    buf_puts(b, "{\"id\":");
    buf_json_id(b, m->id);
    put_time(b, "created_time", m->created_at);
    buf_puts(b, ",\"caption\":");
    if (m->has_caption)
        buf_json_cstr(b, m->caption);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"filter\":");
    buf_json_cstr(b, m->filter);
    buf_printf(b, ",\"tags\":%s,\"location\":", m->tags_json[0] ? m->tags_json : "[]");
    if (m->location_id) {
        buf_puts(b, "{\"id\":");
        buf_json_id(b, m->location_id);
        buf_puts(b, ",\"name\":");
        buf_json_cstr(b, m->location_name);
        buf_printf(b, ",\"latitude\":%.7f,\"longitude\":%.7f}", m->lat, m->lng);
    } else {
        buf_puts(b, "null");
    }
    buf_printf(b, ",\"width\":%d,\"height\":%d,\"like_count\":%lld,\"comment_count\":%lld", m->width[IMG_HIGH],
               m->height[IMG_HIGH], (long long)m->like_count, (long long)m->comment_count);
    buf_printf(b, ",\"photo\":\"photos/%lld.jpg\",\"comments\":[", (long long)m->id);
    if (!whole_list(x, s, m->id, comments_page))
        return;
    buf_puts(&s->b, "],\"likes\":[");
    if (!whole_list(x, s, m->id, likes_page))
        return;
    buf_puts(&s->b, "]}");
    section_flush(x, s);
}

static void write_media(exporter_t *x)
{
    section_t s;
    if (!section_open(x, &s))
        return;
    media_t *m = xmalloc(sizeof(*m));
    int64_t ids[PAGE], after = 0;
    int k = PAGE;
    while (k == PAGE && x->rc == EXPORT_OK) {
        db_conn_t *c = db_shard(x->db, ids_shard(x->u->id));
        db_stmt_t *st = c ? db_q(c, Q_MEDIA_IDS_ASC) : NULL;
        if (st) {
            db_bind_i64(st, 1, x->u->id);
            db_bind_i64(st, 2, after);
            db_bind_i64(st, 3, PAGE);
        }
        if (st == NULL || db_read_ids(st, PAGE, ids, &k) != DB_DONE) {
            fail(x, EXPORT_ERROR, "%s", "a database did not answer (listing the photos)");
            break;
        }
        for (int i = 0; i < k && x->rc == EXPORT_OK; i++) {
            int rc = media_get(x->db, ids[i], m);
            if (rc == MEDIA_NOT_FOUND)
                continue; /* deleted meanwhile */
            if (rc != MEDIA_OK) {
                fail(x, EXPORT_ERROR, "%s", "a database did not answer (reading a photo)");
                break;
            }
            media_item(x, &s, m);
            add_photo(x, m);
            x->n->media++;
        }
        if (k > 0)
            after = ids[k - 1];
        db_ctx_release(x->db);
    }
    free(m);
    section_add(x, &s, "media.json");
}

/* The comments the account made, on every database (comments live with
 * the photo they are on). */
static void write_comments(exporter_t *x)
{
    section_t s;
    if (!section_open(x, &s))
        return;
    comment_t *cm = xmalloc(sizeof(*cm));
    media_t *m = xmalloc(sizeof(*m));
    for (size_t d = 0; d < db_count(x->db) && x->rc == EXPORT_OK; d++) {
        int64_t after = 0, media[PAGE], ids[PAGE];
        int k = PAGE;
        while (k == PAGE && x->rc == EXPORT_OK) {
            if (social_comments_by_user(x->db, d, x->u->id, after, PAGE, media, ids, &k) != SOCIAL_OK) {
                fail(x, EXPORT_ERROR, "%s", "a database did not answer (listing the comments made)");
                break;
            }
            for (int i = 0; i < k && x->rc == EXPORT_OK; i++) {
                int rc = social_comment_get(x->db, media[i], ids[i], cm);
                int mrc = rc == SOCIAL_OK ? media_get(x->db, media[i], m) : MEDIA_NOT_FOUND;
                if (rc == SOCIAL_ERROR || mrc == MEDIA_ERROR) {
                    fail(x, EXPORT_ERROR, "%s", "a database did not answer (reading a comment)");
                    break;
                }
                if (rc != SOCIAL_OK)
                    continue; /* deleted meanwhile */
                buf_t *b = section_item(&s);
                buf_puts(b, "{\"id\":");
                buf_json_id(b, cm->id);
                put_time(b, "created_time", cm->created_at);
                buf_puts(b, ",\"text\":");
                buf_json_cstr(b, cm->text);
                put_media_ref(x, b, cm->media_id, mrc == MEDIA_OK ? m : NULL);
                buf_putc(b, '}');
                section_flush(x, &s);
                x->n->comments++;
            }
            if (k > 0)
                after = ids[k - 1];
            db_ctx_release(x->db);
        }
    }
    free(m);
    free(cm);
    section_add(x, &s, "comments.json");
}

static void write_likes(exporter_t *x)
{
    section_t s;
    if (!section_open(x, &s))
        return;
    media_t *m = xmalloc(sizeof(*m));
    int64_t like_ids[PAGE], media[PAGE], before = INT64_MAX;
    int k = PAGE;
    while (k == PAGE && x->rc == EXPORT_OK) {
        if (social_liked(x->db, x->u->id, before, PAGE, like_ids, media, &k) != SOCIAL_OK) {
            fail(x, EXPORT_ERROR, "%s", "a database did not answer (listing the likes)");
            break;
        }
        for (int i = 0; i < k && x->rc == EXPORT_OK; i++) {
            int rc = media_get(x->db, media[i], m);
            if (rc == MEDIA_ERROR) {
                fail(x, EXPORT_ERROR, "%s", "a database did not answer (reading a liked photo)");
                break;
            }
            buf_t *b = section_item(&s);
            buf_printf(b, "{\"created_time\":\"%lld\"", (long long)(ids_unix_ms(like_ids[i]) / 1000));
            put_media_ref(x, b, media[i], rc == MEDIA_OK ? m : NULL);
            buf_putc(b, '}');
            section_flush(x, &s);
            x->n->likes++;
        }
        if (k > 0)
            before = like_ids[k - 1];
        db_ctx_release(x->db);
    }
    free(m);
    section_add(x, &s, "likes.json");
}

static void write_edges(exporter_t *x, int which, const char *name, long long *count)
{
    section_t s;
    if (!section_open(x, &s))
        return;
    int64_t ids[PAGE], before = INT64_MAX;
    int k = PAGE;
    while (k == PAGE && x->rc == EXPORT_OK) {
        if (graph_list(x->db, which, x->u->id, before, PAGE, ids, &k) != GRAPH_OK) {
            fail(x, EXPORT_ERROR, "a database did not answer (listing %s)", name);
            break;
        }
        for (int i = 0; i < k && x->rc == EXPORT_OK; i++) {
            put_user(x, section_item(&s), ids[i]);
            section_flush(x, &s);
            (*count)++;
        }
        if (k > 0)
            before = ids[k - 1];
        db_ctx_release(x->db);
    }
    section_add(x, &s, name);
}

/* A small JSON file, made in memory; libzip frees the copy. */
static void add_small(exporter_t *x, const char *name, buf_t *b)
{
    if (x->rc != EXPORT_OK)
        return;
    size_t len;
    char *data = buf_steal(b, &len);
    zip_source_t *src = zip_source_buffer(x->za, data, len, 1);
    zip_int64_t i = src ? zip_file_add(x->za, name, src, ZIP_FL_ENC_UTF_8) : -1;
    if (src == NULL)
        free(data);
    else if (i < 0)
        zip_source_free(src);
    else
        zip_file_set_mtime(x->za, (zip_uint64_t)i, (time_t)x->now, 0);
    if (i < 0)
        fail(x, EXPORT_IO, "cannot add %s to the archive", name);
}

static void write_profile(exporter_t *x)
{
    const user_t *u = x->u;
    buf_t b;
    buf_init(&b, 1u << 20);
    buf_puts(&b, "{\"id\":");
    buf_json_id(&b, u->id);
    buf_puts(&b, ",\"username\":");
    buf_json_cstr(&b, u->username);
    buf_puts(&b, ",\"full_name\":");
    buf_json_cstr(&b, u->full_name);
    buf_puts(&b, ",\"bio\":");
    buf_json_cstr(&b, u->bio);
    buf_puts(&b, ",\"website\":");
    buf_json_cstr(&b, u->website);
    buf_puts(&b, ",\"email\":");
    buf_json_cstr(&b, u->email);
    buf_puts(&b, ",\"profile_picture\":");
    buf_json_cstr(&b, u->profile_picture);
    buf_printf(&b, ",\"is_private\":%s", u->is_private ? "true" : "false");
    put_time(&b, "created_time", u->created_at);
    buf_printf(&b, ",\"counts\":{\"media\":%lld,\"follows\":%lld,\"followed_by\":%lld}}\n", (long long)u->media_count,
               (long long)u->follows_count, (long long)u->followed_by_count);
    add_small(x, "profile.json", &b);
    buf_free(&b);
}

/* The manifest is the last entry, made when libzip reads it in zip_close:
 * after the photos, so it can name those the store did not have. */
static int make_manifest(made_src_t *p, buf_t *b)
{
    exporter_t *x = p->x;
    const export_counts_t *n = x->n;
    buf_printf(b, "{\"format\":\"%s\",\"version\":%d", EXPORT_FORMAT, EXPORT_VERSION);
    put_time(b, "exported_time", x->now);
    buf_puts(b, ",\"user\":");
    buf_puts(b, "{\"id\":");
    buf_json_id(b, x->u->id);
    buf_puts(b, ",\"username\":");
    buf_json_cstr(b, x->u->username);
    buf_printf(b,
               "},\"counts\":{\"media\":%lld,\"comments_received\":%lld,\"likes_received\":%lld,\"comments\":%lld,"
               "\"likes\":%lld,\"follows\":%lld,\"followers\":%lld,\"photos_missing\":%lld},\"photos_missing\":[",
               n->media, n->comments_received, n->likes_received, n->comments, n->likes, n->follows, n->followers,
               n->photos_missing);
    size_t shown = sizeof(x->missing) / sizeof(x->missing[0]);
    for (long long i = 0; i < n->photos_missing && i < (long long)shown; i++) {
        buf_puts(b, i ? "," : "");
        buf_json_id(b, x->missing[i]);
    }
    buf_puts(b, "]}\n");
    return 0;
}

static void add_manifest(exporter_t *x)
{
    if (x->rc != EXPORT_OK)
        return;
    made_src_t t = {.mtime = (time_t)x->now};
    add_made(x, "manifest.json", make_manifest, &t);
}

int export_user(db_ctx_t *db, blob_store_t *store, int64_t user, const char *path, export_counts_t *n, char *err,
                size_t errlen)
{
    memset(n, 0, sizeof(*n));
    exporter_t *x = xcalloc(1, sizeof(*x));
    x->db = db;
    x->store = store;
    x->n = n;
    x->err = err;
    x->errlen = errlen;
    x->now = (int64_t)time(NULL);
    x->u = xmalloc(sizeof(*x->u));
    x->scratch = xmalloc(sizeof(*x->scratch));
    if (errlen)
        err[0] = '\0';
    char dir[4096];
    fs_dirname(path, dir, sizeof(dir));
    x->dir = dir;
    int rc = users_get_any(db, user, x->u);
    if (rc != USERS_OK) {
        fail(x, rc == USERS_NOT_FOUND ? EXPORT_NOT_FOUND : EXPORT_ERROR, "%s",
             rc == USERS_NOT_FOUND ? "no such user" : "a database did not answer (reading the account)");
    } else {
        int zerr = 0;
        x->za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
        if (x->za == NULL)
            fail(x, EXPORT_IO, "cannot make an archive at %s", path);
    }
    if (x->za != NULL) {
        write_profile(x);
        write_media(x);
        write_comments(x);
        write_likes(x);
        write_edges(x, GRAPH_FOLLOWS, "follows.json", &n->follows);
        write_edges(x, GRAPH_FOLLOWED_BY, "followers.json", &n->followers);
        add_manifest(x);
        db_ctx_release(db);
        if (x->rc == EXPORT_OK && zip_close(x->za) != 0) {
            /* a photo the store would not give set x->rc already; else the disk */
            fail(x, EXPORT_IO, "cannot write the archive: %s", zip_strerror(x->za));
            zip_discard(x->za);
        } else if (x->rc != EXPORT_OK) {
            zip_discard(x->za);
        }
    }
    struct stat st;
    if (x->rc == EXPORT_OK && stat(path, &st) == 0)
        n->bytes = (long long)st.st_size;
    rc = x->rc;
    free(x->u);
    free(x->scratch);
    free(x);
    return rc;
}
