/*
 * The S3 photo store: "s3:http(s)://HOST[:PORT]/BUCKET" (path-style, so any
 * S3-compatible server works), through libcurl with its built-in AWS
 * Signature V4 (CURLOPT_AWS_SIGV4).
 *
 * DESIGN
 * Each thread keeps one curl handle (a pthread key), so its connection to
 * the store is reused from request to request. put is a PUT of the whole
 * object with Cache-Control immutable (a key's bytes never change: the
 * CDN in front may keep them for good); S3 makes an object durable before
 * it answers 200, which is blob_put's contract. del is a DELETE (an absent
 * key is fine); copy a server-side copy (x-amz-copy-source). sweep lists
 * the bucket (ListObjectsV2, 1000 keys a page), leaves alone every object
 * younger than the threshold (an upload in flight on any server puts its
 * objects before its row commits) and deletes the media keys keep()
 * refuses. Timeouts: 2 s to connect, 30 s per request.
 */
#include "blob/blob.h"
#include "blob/s3list.h"
#include "core/buf.h"
#include "obs/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct s3_store {
    blob_store_t super;
    char *base;    /* ENDPOINT/BUCKET, no trailing slash */
    char *bucket;
    char *userpwd; /* ACCESS:SECRET */
    char sigv4[96];
    pthread_key_t handle; /* this thread's CURL * */
} s3_store_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void free_handle(void *h)
{
    curl_easy_cleanup(h);
}

static blob_store_t *s3_open(const char *target, const blob_options_t *opt, char *err, size_t errlen)
{
    /* target: http(s)://HOST[:PORT]/BUCKET */
    const char *scheme_end = strstr(target, "://");
    bool http = strncmp(target, "http://", 7) == 0 || strncmp(target, "https://", 8) == 0;
    const char *slash = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
    const char *bucket = slash ? slash + 1 : NULL;
    if (!http || slash == NULL || slash == scheme_end + 3 || *bucket == '\0' ||
        strspn(bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(bucket)) {
        snprintf(err, errlen, "bad value for photo_store: 's3:%s' (expected s3:http(s)://HOST[:PORT]/BUCKET)", target);
        return NULL;
    }
    const char *ak = opt && opt->access_key && *opt->access_key ? opt->access_key : getenv("AWS_ACCESS_KEY_ID");
    const char *sk = opt && opt->secret_key && *opt->secret_key ? opt->secret_key : getenv("AWS_SECRET_ACCESS_KEY");
    const char *region = opt && opt->region && *opt->region ? opt->region : "us-east-1";
    if (ak == NULL || sk == NULL || *ak == '\0' || *sk == '\0' || strchr(ak, ':') != NULL) {
        snprintf(err, errlen,
                 "photo_store s3: no credentials (set s3_access_key and s3_secret_key, or AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY)");
        return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    s3_store_t *s = xcalloc(1, sizeof(*s));
    s->super.be = &blob_backend_s3;
    s->base = xstrdup(target);
    s->bucket = xstrdup(bucket);
    size_t n = strlen(ak) + strlen(sk) + 2;
    s->userpwd = xmalloc(n);
    snprintf(s->userpwd, n, "%s:%s", ak, sk);
    snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", region);
    pthread_key_create(&s->handle, free_handle);
    return &s->super;
}

static void s3_close(blob_store_t *b)
{
    s3_store_t *s = (s3_store_t *)b;
    CURL *h = pthread_getspecific(s->handle);
    if (h)
        curl_easy_cleanup(h);
    pthread_key_delete(s->handle);
    free(s->base);
    free(s->bucket);
    free(s->userpwd);
    free(s);
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    buf_append(arg, p, size * n);
    return size * n;
}

/* One request: method on url (with body, if any), extra headers; the
 * status (0 if none came) and the reply body in out (at most 16 MiB). */
static long request(s3_store_t *s, const char *method, const char *url, const void *body, size_t len,
                    struct curl_slist *headers, buf_t *out)
{
    CURL *h = pthread_getspecific(s->handle);
    if (h == NULL) {
        h = curl_easy_init();
        if (h == NULL)
            return 0;
        pthread_setspecific(s->handle, h);
    }
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L); /* no body will come: do not wait for one */
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    /* (no "Expect:" here to turn 100-continue off: libcurl 7.88 would sign
     * it as an empty header it never sends) */
    struct curl_slist *all = headers;
    /* the payload's hash, which S3 requires and SigV4 signs (libcurl 7.88
     * signs this header when it is given, but does not add it itself) */
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, body ? body : (const void *)"", body ? len : 0);
    char hdr[32 + 2 * crypto_hash_sha256_BYTES + 1] = "x-amz-content-sha256: ";
    sodium_bin2hex(hdr + strlen(hdr), 2 * crypto_hash_sha256_BYTES + 1, hash, sizeof(hash));
    all = curl_slist_append(all, hdr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, all);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        log_error("photo store: %s %s: %s", method, url, curl_easy_strerror(rc));
    curl_slist_free_all(all);
    return status;
}

static void key_url(s3_store_t *s, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", s->base, key); /* keys are [a-z0-9/_.]: nothing to escape */
}

static int s3_probe(blob_store_t *b, char *why, size_t whylen)
{
    s3_store_t *s = (s3_store_t *)b;
    buf_t out;
    buf_init(&out, 1 << 16);
    long st = request(s, "HEAD", s->base, NULL, 0, NULL, &out);
    buf_free(&out);
    if (st == 200)
        return 0;
    snprintf(why, whylen, st ? "bucket %s answered HEAD with %ld" : "bucket %s did not answer", s->bucket, st);
    return -1;
}

static int s3_put(blob_store_t *b, const char *key, const void *data, size_t len)
{
    s3_store_t *s = (s3_store_t *)b;
    char url[1024];
    key_url(s, key, url, sizeof(url));
    struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: image/jpeg");
    hs = curl_slist_append(hs, "Cache-Control: public, max-age=31536000, immutable");
    buf_t out;
    buf_init(&out, 1 << 16);
    long st = request(s, "PUT", url, len ? data : "", len, hs, &out);
    if (st != 200)
        log_error("photo store: PUT %s answered %ld: %.*s", key, st, (int)(out.len < 300 ? out.len : 300),
                  out.data ? out.data : "");
    buf_free(&out);
    return st == 200 ? 0 : -1;
}

static int s3_del(blob_store_t *b, const char *key)
{
    s3_store_t *s = (s3_store_t *)b;
    char url[1024];
    key_url(s, key, url, sizeof(url));
    buf_t out;
    buf_init(&out, 1 << 16);
    long st = request(s, "DELETE", url, NULL, 0, NULL, &out);
    buf_free(&out);
    if (st == 204 || st == 200 || st == 404)
        return 0;
    log_error("photo store: DELETE %s answered %ld", key, st);
    return -1;
}

static int s3_get(blob_store_t *b, const char *key, buf_t *out)
{
    s3_store_t *s = (s3_store_t *)b;
    char url[1024];
    key_url(s, key, url, sizeof(url));
    size_t before = out->len;
    long st = request(s, "GET", url, NULL, 0, NULL, out);
    if (st == 200 && !out->overflow)
        return BLOB_OK;
    out->len = before; /* not the object: an error page, or a part */
    if (st == 404)
        return BLOB_ABSENT;
    log_error("photo store: GET %s answered %ld%s", key, st, out->overflow ? " (larger than allowed)" : "");
    return BLOB_ERROR;
}

static int s3_copy(blob_store_t *b, const char *from, const char *to)
{
    s3_store_t *s = (s3_store_t *)b;
    char url[1024], src[1100];
    key_url(s, to, url, sizeof(url));
    snprintf(src, sizeof(src), "x-amz-copy-source: /%s/%s", s->bucket, from);
    struct curl_slist *hs = curl_slist_append(NULL, src);
    hs = curl_slist_append(hs, "Cache-Control: public, max-age=31536000, immutable");
    hs = curl_slist_append(hs, "x-amz-metadata-directive: REPLACE");
    hs = curl_slist_append(hs, "Content-Type: image/jpeg");
    buf_t out;
    buf_init(&out, 1 << 16);
    long st = request(s, "PUT", url, "", 0, hs, &out);
    /* a copy may fail after its 200, with an <Error> body */
    bool ok = st == 200 && (out.data == NULL || memmem(out.data, out.len, "<Error>", 7) == NULL);
    if (!ok && st != 404)
        log_error("photo store: copy %s to %s answered %ld", from, to, st);
    buf_free(&out);
    return ok ? 0 : -1;
}

static long s3_sweep(blob_store_t *b, int64_t older_than_s, bool (*keep)(const char *key, void *arg), void *arg)
{
    s3_store_t *s = (s3_store_t *)b;
    CURL *esc = curl_easy_init();
    char token[S3_KEY_MAX + 1] = "";
    long deleted = 0;
    int64_t now = (int64_t)time(NULL);
    for (;;) {
        char url[2048];
        char *t = token[0] ? curl_easy_escape(esc, token, 0) : NULL;
        /* the query in SigV4's canonical form, sorted by name and escaped as
         * curl_easy_escape does (all but A-Z a-z 0-9 - . _ ~): libcurl 7.88
         * signs the query as it is written, where AWS sorts it first */
        snprintf(url, sizeof(url), "%s?%s%s%slist-type=2&max-keys=1000&prefix=media%%2F", s->base,
                 t ? "continuation-token=" : "", t ? t : "", t ? "&" : "");
        curl_free(t);
        buf_t out;
        buf_init(&out, 16u << 20);
        long st = request(s, "GET", url, NULL, 0, NULL, &out);
        s3_list_t list;
        if (st != 200 || out.overflow || s3_list_parse(out.data, out.len, &list) != 0) {
            log_error("photo store: listing the bucket answered %ld; the sweep stops", st);
            buf_free(&out);
            deleted = deleted ? deleted : -1;
            break;
        }
        for (size_t i = 0; i < list.n; i++) {
            const s3_entry_t *e = &list.entries[i];
            if (e->modified < 0 || now - e->modified < older_than_s)
                continue; /* young (or of unknown age): maybe an upload in flight */
            if (!keep(e->key, arg) && s3_del(b, e->key) == 0)
                deleted++;
        }
        bool more = list.truncated && list.next[0] != '\0';
        memcpy(token, list.next, sizeof(token) < sizeof(list.next) ? sizeof(token) : sizeof(list.next));
        s3_list_free(&list);
        buf_free(&out);
        if (!more)
            break;
    }
    curl_easy_cleanup(esc);
    return deleted;
}

const blob_backend_t blob_backend_s3 = {
    .scheme = "s3",
    .open = s3_open,
    .close = s3_close,
    .put = s3_put,
    .del = s3_del,
    .get = s3_get,
    .copy = s3_copy,
    .sweep = s3_sweep,
    .local_dir = NULL,
    .probe = s3_probe,
};
