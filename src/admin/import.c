/* An account back from its archive: see import.h. */
#include "admin/import.h"
#include "core/buf.h"
#include "core/ids.h"
#include "core/jsonstream.h"
#include "core/text.h"
#include "core/validate.h"
#include "images/images.h"
#include "model/discovery.h"
#include "model/export.h"
#include "model/media.h"
#include "model/social.h"

#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#define SMALL_MAX (1u << 20) /* manifest.json, profile.json */
#define IMPORT_ITEM_MAX (32u << 20) /* a photo's item, its comments in it (jansson's tree of it is ~10x) */

typedef struct importer {
    db_ctx_t *db;
    blob_store_t *store;
    const import_opts_t *o;
    zip_t *za;
    import_counts_t *n;
    char *err;
    size_t errlen;
    char old_id[24]; /* the account's ID in the archive: its own comments are from it */
    int64_t now;
} importer_t;

static int say(importer_t *im, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(importer_t *im, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->err, im->errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* Text from the archive, fit for a terminal: at most 60 bytes, control
 * characters (escape sequences) as '?'. */
static const char *printable(const char *s, char out[64])
{
    size_t n = 0;
    for (; s && s[n] && n < 60; n++)
        out[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
    out[n] = '\0';
    return out;
}

/* ---- reading the archive ---- */

/* The whole of a small entry, parsed; NULL after saying why. */
static json_t *read_small(importer_t *im, const char *name)
{
    zip_stat_t st;
    if (zip_stat(im->za, name, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
        say(im, IMPORT_BAD, "the archive has no %s: not a picogram export", name);
        return NULL;
    }
    if (st.size > SMALL_MAX) {
        say(im, IMPORT_BAD, "%s is larger than a picogram export's", name);
        return NULL;
    }
    zip_file_t *zf = zip_fopen(im->za, name, 0);
    char *data = xmalloc(st.size + 1);
    zip_int64_t got = zf ? zip_fread(zf, data, st.size) : -1;
    if (zf)
        zip_fclose(zf);
    json_error_t e;
    json_t *v = got == (zip_int64_t)st.size ? json_loadb(data, st.size, 0, &e) : NULL;
    free(data);
    if (v == NULL || !json_is_object(v)) {
        json_decref(v);
        say(im, IMPORT_BAD, "%s is damaged or not JSON", name);
        return NULL;
    }
    return v;
}

static ssize_t zip_read(void *zf, void *buf, size_t n)
{
    return (ssize_t)zip_fread(zf, buf, n);
}

/* ---- checking an item ---- */

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A time as the archive gives it ("unix seconds", or a number): 0 if it is not one. */
static int64_t time_of(json_t *o, const char *key, int64_t now)
{
    json_t *v = json_object_get(o, key);
    long long t = 0;
    if (json_is_integer(v))
        t = json_integer_value(v);
    else if (json_is_string(v) && strlen(json_string_value(v)) < 20 &&
             strspn(json_string_value(v), "0123456789") == strlen(json_string_value(v)))
        t = strtoll(json_string_value(v), NULL, 10);
    return t > 0 && t <= now + 86400 ? (int64_t)t : 0; /* a day ahead: clocks differ */
}

/* Text (a caption or comment) into out, checked as the API checks it. */
static const char *text_of(const char *s, char *out, size_t cap, const char *(*check)(const char *, size_t))
{
    if (strlen(s) >= cap)
        return "is longer than 2200 characters";
    memcpy(out, s, strlen(s) + 1);
    text_normalize_newlines(out);
    return check(out, strlen(out));
}

typedef struct item {
    media_t m;
    bool placed;
    char photo[48];
    json_t *comments; /* borrowed from the item: those from old_id are its own */
    long long nown;
    char scratch[CAPTION_MAX * 4 + 1];
} item_t;

static bool own_comment(importer_t *im, json_t *c)
{
    json_t *from = json_object_get(c, "from");
    const char *fid = json_is_object(from) ? str_of(from, "id") : NULL;
    return fid != NULL && strcmp(fid, im->old_id) == 0;
}

/* Checks one item of media.json into it; NULL, or why it does not pass. */
static const char *check_item(importer_t *im, json_t *o, item_t *it)
{
    memset(it, 0, sizeof(*it));
    media_t *m = &it->m;
    const char *why;
    const char *caption = str_of(o, "caption");
    if (caption && *caption) {
        if ((why = text_of(caption, m->caption, sizeof(m->caption), validate_caption)) != NULL)
            return "its caption does not pass";
        m->has_caption = true;
        text_tag_t tags[TEXT_MAX_TAGS];
        size_t ntags = text_hashtags(m->caption, strlen(m->caption), tags, TEXT_MAX_TAGS);
        buf_t t;
        buf_init(&t, sizeof(m->tags_json) - 1);
        tags_json(&t, tags, ntags);
        bool over = t.overflow;
        if (!over) {
            memcpy(m->tags_json, t.data, t.len);
            m->tags_json[t.len] = '\0';
        }
        buf_free(&t);
        if (over)
            return "its caption has too many long hashtags";
    } else {
        snprintf(m->tags_json, sizeof(m->tags_json), "[]");
    }
    const char *filter = str_of(o, "filter");
    if (filter && validate_filter(filter, strlen(filter)) != NULL)
        return "its filter does not pass";
    snprintf(m->filter, sizeof(m->filter), "%s", filter ? filter : "Normal");
    if ((m->created_at = time_of(o, "created_time", im->now)) == 0)
        return "its created_time is not a time";
    json_t *loc = json_object_get(o, "location");
    if (json_is_object(loc)) {
        json_t *la = json_object_get(loc, "latitude"), *ln = json_object_get(loc, "longitude");
        const char *name = str_of(loc, "name");
        if (!json_is_number(la) || !json_is_number(ln) || fabs(json_number_value(la)) > 90 ||
            fabs(json_number_value(ln)) > 180)
            return "its location has no latitude and longitude in range";
        if (name == NULL || utf8_len(name, strlen(name)) > LOCATION_NAME_MAX ||
            validate_full_name(name, strlen(name)) != NULL)
            return "its location's name does not pass";
        snprintf(m->location_name, sizeof(m->location_name), "%s", name);
        m->lat = json_number_value(la);
        m->lng = json_number_value(ln);
        it->placed = true;
    } else if (loc != NULL && !json_is_null(loc)) {
        return "its location is not an object";
    }
    /* the photo's entry: exactly photos/DIGITS.jpg, never a path of the archive's choosing */
    const char *photo = str_of(o, "photo");
    size_t pl = photo ? strlen(photo) : 0;
    if (photo == NULL || pl >= sizeof(it->photo) || pl < 12 || strncmp(photo, "photos/", 7) != 0 ||
        strcmp(photo + pl - 4, ".jpg") != 0 || strspn(photo + 7, "0123456789") != pl - 11)
        return "its photo is not named photos/ID.jpg";
    memcpy(it->photo, photo, pl + 1);
    zip_stat_t st;
    if (zip_stat(im->za, it->photo, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return "its photo is not in the archive";
    if (st.size > (zip_uint64_t)im->o->cfg->max_upload)
        return "its photo is larger than max_upload";
    json_t *cs = json_object_get(o, "comments"), *c;
    size_t i;
    if (cs != NULL && !json_is_array(cs))
        return "its comments are not a list";
    it->comments = cs;
    json_array_foreach(cs, i, c)
    {
        if (!own_comment(im, c))
            continue; /* another's: counted, not made */
        const char *text = str_of(c, "text");
        if (text == NULL || text_of(text, it->scratch, sizeof(it->scratch), validate_comment) != NULL)
            return "one of its own comments does not pass";
        if (time_of(c, "created_time", im->now) == 0)
            return "one of its own comments has no time";
        it->nown++;
    }
    return NULL;
}

/* ---- making it ---- */

/* The photo's bytes, from the archive; NULL if they cannot be read whole. */
static void *read_photo(importer_t *im, const char *name, size_t *len)
{
    zip_stat_t st;
    zip_file_t *zf = zip_stat(im->za, name, 0, &st) == 0 ? zip_fopen(im->za, name, 0) : NULL;
    void *data = zf ? xmalloc(st.size ? st.size : 1) : NULL;
    zip_int64_t got = zf ? zip_fread(zf, data, st.size) : -1;
    char past;
    if (got == (zip_int64_t)st.size && zip_fread(zf, &past, 1) != 0) /* libzip checks the CRC at the end */
        got = -1;
    if (zf)
        zip_fclose(zf);
    if (got != (zip_int64_t)st.size) {
        free(data);
        return NULL;
    }
    *len = st.size;
    return data;
}

static int make_item(importer_t *im, item_t *it, user_t *u)
{
    size_t len = 0;
    void *photo = read_photo(im, it->photo, &len);
    if (photo == NULL) {
        im->n->photos_bad++;
        fprintf(stderr, "picogram admin: %s is damaged in the archive: left out\n", it->photo);
        return IMPORT_OK;
    }
    if (len == 0) { /* missing from the store when exported (its manifest says so) */
        free(photo);
        im->n->photos_bad++;
        fprintf(stderr, "picogram admin: %s is empty in the archive (it was missing when exported): left out\n",
                it->photo);
        return IMPORT_OK;
    }
    img_opts_t opts = {.max_pixels = im->o->cfg->max_pixels, .quality = (int)im->o->cfg->jpeg_quality};
    img_result_t r;
    const char *why = NULL;
    int st = images_process(photo, len, &opts, &r, &why);
    free(photo);
    if (st != 0) {
        im->n->photos_bad++;
        fprintf(stderr, "picogram admin: %s is not a photo picogram takes (%s): left out\n", it->photo,
                why ? why : "?");
        return IMPORT_OK;
    }
    media_t *m = &it->m;
    m->user_id = u->id;
    m->id = ids_next(ids_global(), ids_shard(u->id)); /* on the owner's shard */
    m->file_key = blob_new_file_key();
    int64_t place_id = it->placed ? ids_next(ids_global(), place_shard(im->db, m->location_name)) : 0;
    st = media_post(im->db, im->store, m, &r, place_id, im->o->cfg->celebrity, NULL, 0, u);
    images_result_free(&r);
    if (st != 0)
        return say(im, IMPORT_ERROR, "%s could not be stored (%s)", it->photo,
                   st == 503 ? "the photo store failed" : "a database failed");
    im->n->media++;
    comment_t *cm = xmalloc(sizeof(*cm));
    json_t *c;
    size_t i;
    json_array_foreach(it->comments, i, c)
    {
        if (!own_comment(im, c))
            continue;
        memset(cm, 0, sizeof(*cm));
        text_of(str_of(c, "text"), cm->text, sizeof(cm->text), validate_comment);
        cm->created_at = time_of(c, "created_time", im->now);
        cm->media_id = m->id;
        cm->user_id = u->id;
        cm->id = ids_next(ids_global(), ids_shard(m->id)); /* on the media's shard */
        if (social_comment_add(im->db, cm, u->id, NULL, 0) != SOCIAL_OK) {
            free(cm);
            return say(im, IMPORT_ERROR, "a comment on %s could not be stored (a database failed)", it->photo);
        }
        im->n->comments++;
    }
    free(cm);
    return IMPORT_OK;
}

/* Pass 1 (make false): checks every item. Pass 2: makes them. */
static int each_item(importer_t *im, bool make, user_t *u)
{
    zip_file_t *zf = zip_fopen(im->za, "media.json", 0);
    if (zf == NULL)
        return say(im, IMPORT_BAD, "%s", "the archive has no media.json: not a picogram export");
    jstream_t js;
    jstream_init(&js, zip_read, zf, IMPORT_ITEM_MAX);
    item_t *it = xmalloc(sizeof(*it));
    int rc = IMPORT_OK;
    long long k = 0;
    for (;;) {
        json_t *o;
        int got = jstream_next(&js, &o);
        if (got == 0)
            break;
        if (got < 0) {
            rc = say(im, IMPORT_BAD, "media.json is damaged after %lld item(s), or not a list of photos", k);
            break;
        }
        k++;
        const char *why = check_item(im, o, it);
        if (why != NULL) {
            char idp[64];
            rc = say(im, IMPORT_BAD, "media.json item %lld (%s): %s", k, printable(str_of(o, "id"), idp), why);
        } else if (make) {
            rc = make_item(im, it, u);
            db_ctx_release(im->db);
        } else {
            json_t *cs = json_object_get(o, "comments"), *ls = json_object_get(o, "likes");
            im->n->others_comments += (long long)json_array_size(cs) - it->nown;
            im->n->others_likes += (long long)json_array_size(ls);
        }
        json_decref(o);
        if (rc != IMPORT_OK)
            break;
    }
    free(it);
    jstream_free(&js);
    zip_fclose(zf);
    return rc;
}

static const char *profile_str(json_t *p, const char *key, const char *(*check)(const char *, size_t), int *bad)
{
    const char *s = str_of(p, key);
    if (s == NULL)
        return "";
    if (check(s, strlen(s)) != NULL)
        *bad = 1;
    return s;
}

static long long count_of(json_t *manifest, const char *key)
{
    json_t *v = json_object_get(json_object_get(manifest, "counts"), key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

int import_archive(db_ctx_t *db, blob_store_t *store, const char *file, const import_opts_t *o, user_t *u,
                   import_counts_t *n, char *err, size_t errlen)
{
    memset(n, 0, sizeof(*n));
    memset(u, 0, sizeof(*u));
    importer_t im = {.db = db, .store = store, .o = o, .n = n, .err = err, .errlen = errlen};
    im.now = (int64_t)time(NULL);
    int zerr = 0;
    im.za = zip_open(file, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (im.za == NULL) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        say(&im, IMPORT_BAD, "cannot open %s as a zip archive: %s", file, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return IMPORT_BAD;
    }
    json_t *manifest = read_small(&im, "manifest.json"), *profile = NULL;
    int rc = manifest ? IMPORT_OK : IMPORT_BAD;
    const char *format = manifest ? str_of(manifest, "format") : NULL;
    json_t *version = manifest ? json_object_get(manifest, "version") : NULL;
    if (rc == IMPORT_OK && (format == NULL || strcmp(format, EXPORT_FORMAT) != 0 || !json_is_integer(version)))
        rc = say(&im, IMPORT_BAD, "%s is not a picogram export (its manifest says otherwise)", file);
    else if (rc == IMPORT_OK && json_integer_value(version) != EXPORT_VERSION)
        rc = say(&im, IMPORT_BAD, "%s is a picogram export of version %lld; this picogram reads version %d", file,
                 (long long)json_integer_value(version), EXPORT_VERSION);
    if (rc == IMPORT_OK && (profile = read_small(&im, "profile.json")) == NULL)
        rc = IMPORT_BAD;
    user_new_t in = {0};
    user_t *want = xcalloc(1, sizeof(*want));
    if (rc == IMPORT_OK) {
        const char *id = str_of(profile, "id"), *name = o->as ? o->as : str_of(profile, "username");
        int bad = 0;
        in.full_name = profile_str(profile, "full_name", validate_full_name, &bad);
        in.email = profile_str(profile, "email", validate_email, &bad);
        snprintf(want->bio, sizeof(want->bio), "%s", profile_str(profile, "bio", validate_bio, &bad));
        snprintf(want->website, sizeof(want->website), "%s", profile_str(profile, "website", validate_website, &bad));
        want->is_private = json_is_true(json_object_get(profile, "is_private"));
        if (id == NULL || strlen(id) >= sizeof(im.old_id) || strspn(id, "0123456789") != strlen(id))
            rc = say(&im, IMPORT_BAD, "%s", "profile.json has no account ID");
        else if (name == NULL || validate_new_username(name, strlen(name)) != NULL) {
            char np[64];
            rc = say(&im, IMPORT_BAD, "the username '%s' cannot be taken here (%s)%s", printable(name, np),
                     name ? validate_new_username(name, strlen(name)) : "none given", o->as ? "" : "; give --as NAME");
        } else if (bad)
            rc = say(&im, IMPORT_BAD, "%s",
                     "profile.json has a field that does not pass (full name, bio, website or e-mail)");
        else
            snprintf(im.old_id, sizeof(im.old_id), "%s", id);
        in.username = name;
    }
    n->comments_made = manifest ? count_of(manifest, "comments") : 0;
    n->likes_made = manifest ? count_of(manifest, "likes") : 0;
    n->follows = manifest ? count_of(manifest, "follows") : 0;
    n->followers = manifest ? count_of(manifest, "followers") : 0;
    if (rc == IMPORT_OK)
        rc = each_item(&im, false, NULL); /* everything checked before anything is made */
    if (rc == IMPORT_OK) {
        in.password_hash = o->password_hash;
        in.suspended = true; /* hidden until the last photo is in */
        int urc = users_create(db, ids_next(ids_global(), randombytes_uniform(IDS_NSHARDS)), &in, u);
        if (urc == USERS_TAKEN)
            rc = say(&im, IMPORT_TAKEN, "the username '%s' is taken here%s", in.username,
                     o->as ? "" : "; give --as NAME");
        else if (urc != USERS_OK)
            rc = say(&im, IMPORT_ERROR, "%s", "the account could not be made (a database failed); nothing was made");
    }
    if (rc == IMPORT_OK) {
        snprintf(u->bio, sizeof(u->bio), "%s", want->bio);
        snprintf(u->website, sizeof(u->website), "%s", want->website);
        u->is_private = want->is_private;
        if (users_update(db, u) != USERS_OK)
            rc = say(&im, IMPORT_ERROR, "%s", "the profile could not be written (a database failed)");
    }
    if (rc == IMPORT_OK)
        rc = each_item(&im, true, u);
    if (rc == IMPORT_OK && users_set_suspended(db, u->id, false) != USERS_OK)
        rc = say(&im, IMPORT_ERROR, "%s", "the account could not be unsuspended (a database failed)");
    if (rc == IMPORT_OK)
        u->suspended = false;
    free(want);
    json_decref(manifest);
    json_decref(profile);
    zip_discard(im.za); /* read only: nothing to write */
    return rc;
}
