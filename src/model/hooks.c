#include "model/hooks.h"
#include "core/ids.h"
#include "geo/geo.h"
#include "jobs/jobs.h"
#include "model/media.h"
#include "model/users.h"
#include "obs/log.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netdb.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RESP_MAX (64 * 1024)

/* ---- callbacks: which addresses, and the exchange ---- */

static bool v4_public(uint32_t a)
{
    uint32_t b0 = a >> 24, b1 = (a >> 16) & 255;
    if (b0 == 0 || b0 == 10 || b0 == 127 || b0 >= 224)
        return false; /* this network, private, loopback, multicast, reserved and broadcast */
    if (b0 == 100 && (b1 & 0xc0) == 64)
        return false; /* shared address space (CGNAT) */
    if (b0 == 169 && b1 == 254)
        return false; /* link-local, the cloud metadata address among them */
    if (b0 == 172 && (b1 & 0xf0) == 16)
        return false;
    if (b0 == 192 && b1 == 168)
        return false;
    if (b0 == 192 && b1 == 0 && ((a >> 8) & 255) == 0)
        return false; /* IETF protocol assignments */
    if (b0 == 198 && (b1 & 0xfe) == 18)
        return false; /* benchmarking */
    return true;
}

static bool addr_public(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_public(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6)
        return false;
    const unsigned char *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0) /* an IPv4 address inside */
        return v4_public((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
    static const unsigned char zero[15] = {0};
    if (memcmp(b, zero, 15) == 0)
        return false; /* :: and ::1 */
    static const unsigned char compat[12] = {0};
    if (memcmp(b, compat, 12) == 0)
        return false; /* IPv4-compatible (deprecated): nothing public */
    if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) ||
        b[0] == 0xff)
        return false; /* unique local (fd00:ec2::254 too), link-local, site-local, multicast */
    if ((b[0] == 0x20 && b[1] == 0x02) || (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b))
        return false; /* 6to4 and local NAT64 (64:ff9b:1::/48): they reach IPv4 behind them */
    return true;
}

const char *hooks_url_check(const char *url, bool allow_private)
{
    size_t n = strlen(url);
    if (n == 0 || n > HOOK_CALL_URL_MAX)
        return "the URL must be an http:// or https:// URL of at most 512 characters";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return "the URL contains a character it may not";
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return "the URL must be an http:// or https:// URL";
    CURLU *u = curl_url();
    char *host = NULL, *user = NULL;
    const char *err = NULL;
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        err = "the URL is not a valid URL";
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
        err = "the URL may not carry a user name";
    if (err == NULL && !allow_private) {
        /* an address written out, or a name that is this machine, is refused
         * now; every other name is checked as it connects (hooks_call) */
        char name[256];
        size_t hl = strlen(host);
        if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']')
            snprintf(name, sizeof(name), "%.*s", (int)(hl - 2), host + 1);
        else
            snprintf(name, sizeof(name), "%s", host);
        size_t nl = strlen(name);
        while (nl && name[nl - 1] == '.')
            name[--nl] = '\0';
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        bool literal = false;
        if (inet_pton(AF_INET, name, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
            ss.ss_family = AF_INET, literal = true;
        else if (inet_pton(AF_INET6, name, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
            ss.ss_family = AF_INET6, literal = true;
        if ((literal && !addr_public((struct sockaddr *)&ss)) || strcasecmp(name, "localhost") == 0 ||
            (nl > 10 && strcasecmp(name + nl - 10, ".localhost") == 0))
            err = HOOK_PRIVATE_ERR;
    }
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(u);
    return err;
}

/* curl's socket maker: refuses an address that is not public (every one
 * curl tries for a name, as it connects: no second lookup to rebind). */
static curl_socket_t open_checked(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    bool *refused = arg;
    (void)purpose;
    if (!addr_public(&a->addr)) {
        *refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    buf_t *b = arg;
    size_t len = size * n;
    if (b->len + len > RESP_MAX)
        return 0; /* too long an answer: stop reading */
    buf_append(b, p, len);
    return len;
}

int hooks_call(const hooks_req_t *rq, long *status, buf_t *resp, char *err, size_t errlen)
{
    *status = 0;
    err[0] = '\0';
    const char *why = rq->trusted ? NULL : hooks_url_check(rq->url, rq->allow_private);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct curl_slist *headers = NULL;
    bool refused = false;
    curl_mime *mime = NULL;
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    if (!rq->trusted && !rq->allow_private) {
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_checked);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &refused);
    }
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "picogram/1");
    if (rq->http2)
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, strncasecmp(rq->url, "https:", 6) == 0
                                                      ? (long)CURL_HTTP_VERSION_2TLS
                                                      : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    for (const char *const *x = rq->headers; x && *x; x++)
        headers = curl_slist_append(headers, *x);
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (rq->fields || rq->file) {
        mime = curl_mime_init(h);
        for (const char *const *f = rq->fields; f && f[0]; f += 2) {
            curl_mimepart *part = curl_mime_addpart(mime);
            curl_mime_name(part, f[0]);
            curl_mime_data(part, f[1], CURL_ZERO_TERMINATED);
        }
        if (rq->file) {
            curl_mimepart *part = curl_mime_addpart(mime);
            curl_mime_name(part, rq->file_field);
            curl_mime_filename(part, rq->file_name);
            curl_mime_type(part, rq->file_type);
            curl_mime_data(part, rq->file, rq->file_len);
        }
        curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    } else if (rq->post) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)rq->len);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (refused)
        snprintf(err, errlen, "%s", HOOK_PRIVATE_ERR);
    else if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return *status ? 0 : -1;
}

int hooks_http(const char *url, bool allow_private, const char *body, size_t len, const char *sig, long *status,
               buf_t *resp, char *err, size_t errlen)
{
    char sighdr[96];
    snprintf(sighdr, sizeof(sighdr), "X-Hub-Signature: %s", sig ? sig : "");
    const char *post_headers[] = {"Content-Type: application/json", sighdr, NULL};
    hooks_req_t rq = {.url = url, .allow_private = allow_private, .post = body != NULL,
                      .headers = body ? post_headers : NULL, .body = body, .len = len};
    return hooks_call(&rq, status, resp, err, errlen);
}

/* ---- subscriptions ---- */

static atomic_llong subs_checked_ms; /* when the first database was last asked */
static atomic_bool subs_any;
/* A subscription noted by this process since a check began: the check's
 * answer, older, is not stored over it. */
static pthread_mutex_t subs_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned subs_noted;

void hooks_note_subscription(void)
{
    pthread_mutex_lock(&subs_lock);
    subs_noted++;
    atomic_store(&subs_any, true);
    atomic_store(&subs_checked_ms, ids_now_ms());
    pthread_mutex_unlock(&subs_lock);
}

/* Whether any subscription exists, as known within the last second. */
static bool any_subscription(db_ctx_t *db)
{
    int64_t now = ids_now_ms();
    if (now - atomic_load(&subs_checked_ms) < 1000)
        return atomic_load(&subs_any);
    pthread_mutex_lock(&subs_lock);
    unsigned noted = subs_noted;
    pthread_mutex_unlock(&subs_lock);
    db_conn_t *c = db_physical(db, 0);
    if (c == NULL)
        return true; /* unknown: the job finds out */
    db_stmt_t *s = db_q(c, Q_SUBS_ANY);
    int rc = db_step(s);
    bool any = rc != DB_ROW || db_col_i64(s, 0) > 0;
    db_reset(s);
    pthread_mutex_lock(&subs_lock);
    if (subs_noted == noted) {
        atomic_store(&subs_any, any);
        atomic_store(&subs_checked_ms, now);
    } else {
        any = true;
    }
    pthread_mutex_unlock(&subs_lock);
    return any;
}

int hooks_enqueue(db_ctx_t *db, db_conn_t *c, int64_t media)
{
    if (!any_subscription(db))
        return DB_DONE;
    char p[32];
    snprintf(p, sizeof(p), "%lld", (long long)media);
    return jobs_enqueue(c, ids_shard(media), "realtime", p);
}

static void read_sub(db_stmt_t *s, subscription_t *out)
{
    memset(out, 0, sizeof(*out));
    out->id = db_col_i64(s, 0);
    out->app = db_col_i64(s, 1);
    db_col_copy(s, 2, out->object, sizeof(out->object));
    db_col_copy(s, 3, out->object_id, sizeof(out->object_id));
    out->lat = (double)db_col_i64(s, 4) / 1e7;
    out->lng = (double)db_col_i64(s, 5) / 1e7;
    out->radius = (int)db_col_i64(s, 6);
    db_col_copy(s, 7, out->callback_url, sizeof(out->callback_url));
}

/* Appends s's rows to *out. */
static int read_subs(db_stmt_t *s, subscription_t **out, int *n, int *cap)
{
    int rc;
    while ((rc = db_step(s)) == DB_ROW) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 8;
            *out = xrealloc(*out, (size_t)*cap * sizeof(**out));
        }
        read_sub(s, &(*out)[(*n)++]);
    }
    db_reset(s);
    return rc == DB_DONE ? 0 : -1;
}

int hooks_sub_create(db_ctx_t *db, subscription_t *sub, const char *verify_token)
{
    db_conn_t *c = db_physical(db, 0);
    if (c == NULL || db_begin(c) != DB_OK)
        return USERS_ERROR;
    int rc = db_lock(c, "subscriptions", sub->app, 0) == DB_OK ? USERS_OK : USERS_ERROR;
    db_stmt_t *s;
    if (rc == USERS_OK) {
        s = db_q(c, Q_SUBS_COUNT_APP);
        db_bind_i64(s, 1, sub->app);
        int r = db_step(s);
        if (r != DB_ROW)
            rc = USERS_ERROR;
        else if (db_col_i64(s, 0) >= HOOKS_PER_APP_MAX)
            rc = USERS_TAKEN;
        db_reset(s);
    }
    sub->id = ids_next(ids_global(), ids_shard(sub->app));
    if (rc == USERS_OK) {
        s = db_q(c, Q_SUB_INSERT);
        db_bind_i64(s, 1, sub->id);
        db_bind_i64(s, 2, sub->app);
        db_bind_cstr(s, 3, sub->object);
        db_bind_cstr(s, 4, sub->object_id);
        db_bind_i64(s, 5, (int64_t)(sub->lat * 1e7));
        db_bind_i64(s, 6, (int64_t)(sub->lng * 1e7));
        db_bind_i64(s, 7, sub->radius);
        db_bind_cstr(s, 8, sub->callback_url);
        db_bind_cstr(s, 9, verify_token ? verify_token : "");
        db_bind_i64(s, 10, (int64_t)time(NULL));
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
    }
    if (rc != USERS_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        return rc == USERS_OK ? USERS_ERROR : rc;
    }
    hooks_note_subscription();
    return USERS_OK;
}

int hooks_sub_get(db_ctx_t *db, int64_t id, subscription_t *out)
{
    db_conn_t *c = db_physical(db, 0);
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_SUB_GET);
    db_bind_i64(s, 1, id);
    int rc = db_step(s);
    if (rc == DB_ROW)
        read_sub(s, out);
    db_reset(s);
    return rc == DB_ROW ? USERS_OK : rc == DB_DONE ? USERS_NOT_FOUND : USERS_ERROR;
}

int hooks_subs_of(db_ctx_t *db, int64_t app, subscription_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    int cap = 0;
    db_conn_t *c = db_physical(db, 0);
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_SUBS_OF_APP);
    db_bind_i64(s, 1, app);
    if (read_subs(s, out, n, &cap) != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return USERS_ERROR;
    }
    return USERS_OK;
}

int hooks_sub_delete(db_ctx_t *db, int64_t app, int64_t id, const char *object, int *deleted)
{
    *deleted = 0;
    db_conn_t *c = db_physical(db, 0);
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, id ? Q_SUB_DELETE : Q_SUBS_DELETE_OBJECT);
    db_bind_i64(s, 1, app);
    if (id)
        db_bind_i64(s, 2, id);
    else
        db_bind_cstr(s, 2, object);
    if (db_exec_stmt(s) != DB_DONE)
        return USERS_ERROR;
    *deleted = (int)c->drv->changes(c);
    return USERS_OK;
}

void hooks_sub_json(buf_t *b, const subscription_t *s)
{
    buf_puts(b, "{\"object\":");
    buf_json_cstr(b, s->object);
    buf_puts(b, ",\"object_id\":");
    if (strcmp(s->object, "geography") == 0)
        buf_json_id(b, s->id); /* a geography is named by its subscription, as v1 did */
    else if (s->object_id[0])
        buf_json_cstr(b, s->object_id);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"aspect\":\"media\",\"callback_url\":");
    buf_json_cstr(b, s->callback_url);
    buf_puts(b, ",\"type\":\"subscription\",\"id\":");
    buf_json_id(b, s->id);
    if (strcmp(s->object, "geography") == 0)
        buf_printf(b, ",\"lat\":%.7f,\"lng\":%.7f,\"radius\":%d", s->lat, s->lng, s->radius);
    buf_putc(b, '}');
}

/* ---- the log ---- */

static void log_outcome(db_conn_t *c, int64_t app, const char *url, const char *outcome, long status,
                        const char *error, int items, int attempts)
{
    db_stmt_t *s = db_q(c, Q_HOOK_LOG_INSERT);
    db_bind_i64(s, 1, ids_next(ids_global(), ids_shard(app)));
    db_bind_i64(s, 2, app);
    db_bind_cstr(s, 3, url);
    db_bind_cstr(s, 4, outcome);
    db_bind_i64(s, 5, status);
    db_bind_cstr(s, 6, error ? error : "");
    db_bind_i64(s, 7, items);
    db_bind_i64(s, 8, attempts);
    db_bind_i64(s, 9, (int64_t)time(NULL));
    if (db_exec_stmt(s) != DB_DONE)
        log_warn("cannot log a delivery to %s", url);
    s = db_q(c, Q_HOOK_LOG_TRIM);
    db_bind_i64(s, 1, app);
    db_exec_stmt(s);
}

int hooks_log_json(db_ctx_t *db, int64_t app, buf_t *b)
{
    db_conn_t *c = db_physical(db, 0);
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_HOOK_LOG_OF);
    db_bind_i64(s, 1, app);
    buf_putc(b, '[');
    int rc, i = 0;
    while ((rc = db_step(s)) == DB_ROW) {
        size_t n = 0;
        if (i++)
            buf_putc(b, ',');
        buf_puts(b, "{\"id\":");
        buf_json_id(b, db_col_i64(s, 0));
        const char *t = db_col_text(s, 1, &n);
        buf_puts(b, ",\"callback_url\":");
        buf_json_str(b, t ? t : "", t ? n : 0);
        t = db_col_text(s, 2, &n);
        buf_puts(b, ",\"outcome\":");
        buf_json_str(b, t ? t : "", t ? n : 0);
        buf_printf(b, ",\"http_status\":%lld,\"error\":", (long long)db_col_i64(s, 3));
        t = db_col_text(s, 4, &n);
        buf_json_str(b, t ? t : "", t ? n : 0);
        buf_printf(b, ",\"updates\":%lld,\"attempt\":%lld,\"time\":\"%lld\"}", (long long)db_col_i64(s, 5),
                   (long long)db_col_i64(s, 6), (long long)db_col_i64(s, 7));
    }
    db_reset(s);
    buf_putc(b, ']');
    return rc == DB_DONE ? USERS_OK : USERS_ERROR;
}

/* ---- the realtime job: a new photo, matched ---- */

/* Whether user authorised app (holds a token of it): -1 on error. */
static int authorized(db_ctx_t *db, int64_t user, int64_t app)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return -1;
    db_stmt_t *s = db_q(c, Q_APP_AUTHORIZED_BY);
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, app);
    int rc = db_step(s);
    db_reset(s);
    return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

/* Queues item for sub's callback on c (the first database), in a batch
 * whose delivery is scheduled once. */
static int queue_update(const hooks_ctx_t *h, db_conn_t *c, const subscription_t *sub, int64_t media,
                        const char *item, size_t len)
{
    if (db_begin(c) != DB_OK)
        return -1;
    int rc = db_lock(c, "hook", sub->app, 0) == DB_OK ? 0 : -1;
    int64_t batch = 0;
    db_stmt_t *s;
    if (rc == 0) {
        s = db_q(c, Q_HOOK_BATCH_FIND);
        db_bind_i64(s, 1, sub->app);
        db_bind_cstr(s, 2, sub->callback_url);
        int r = db_step(s);
        batch = r == DB_ROW ? db_col_i64(s, 0) : 0;
        db_reset(s);
        rc = r == DB_ROW || r == DB_DONE ? 0 : -1;
    }
    if (rc == 0 && batch == 0) { /* the first update: the delivery waits for more a moment */
        batch = ids_next(ids_global(), ids_shard(sub->app));
        s = db_q(c, Q_HOOK_BATCH_INSERT);
        db_bind_i64(s, 1, batch);
        db_bind_i64(s, 2, sub->app);
        db_bind_cstr(s, 3, sub->callback_url);
        char p[32];
        snprintf(p, sizeof(p), "%lld", (long long)batch);
        if (db_exec_stmt(s) != DB_DONE || jobs_enqueue_at(c, "hook_deliver", p, ids_now_ms() + h->batch_ms) != DB_DONE)
            rc = -1;
    }
    if (rc == 0) {
        s = db_q(c, Q_HOOK_ITEM_INSERT);
        db_bind_i64(s, 1, ids_next(ids_global(), ids_shard(sub->app)));
        db_bind_i64(s, 2, batch);
        db_bind_i64(s, 3, sub->id);
        db_bind_i64(s, 4, media);
        db_bind_text(s, 5, item, len);
        if (db_exec_stmt(s) != DB_DONE)
            rc = -1;
    }
    if (rc != 0 || db_commit(c) != DB_OK) {
        db_rollback(c);
        return -1;
    }
    jobs_kick();
    return 0;
}

int hooks_realtime_job(db_ctx_t *db, char *payload, void *ctx)
{
    const hooks_ctx_t *h = ctx;
    int64_t id = strtoll(payload, NULL, 10);
    media_t *m = xmalloc(sizeof(*m));
    user_t *u = xmalloc(sizeof(*u));
    subscription_t *subs = NULL;
    int n = 0, cap = 0, result = JOB_DONE;
    int rc = media_get(db, id, m);
    if (rc != MEDIA_OK) {
        result = rc == MEDIA_NOT_FOUND ? JOB_DONE : JOB_RETRY; /* deleted meanwhile: nothing to tell */
        goto out;
    }
    rc = users_get_any(db, m->user_id, u);
    if (rc != USERS_OK || u->suspended) {
        result = rc == USERS_ERROR ? JOB_RETRY : JOB_DONE;
        goto out;
    }
    db_conn_t *c = db_physical(db, 0);
    if (c == NULL) {
        result = JOB_RETRY;
        goto out;
    }
    char loc[24];
    snprintf(loc, sizeof(loc), "%lld", (long long)m->location_id);
    db_stmt_t *s = db_q(c, Q_SUBS_MATCHING);
    db_bind_cstr(s, 1, m->location_id ? loc : "");
    int bad = read_subs(s, &subs, &n, &cap);
    json_t *tags = json_loads(m->tags_json, 0, NULL);
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        if (bad || !json_is_string(t))
            continue;
        s = db_q(c, Q_SUBS_OF_TAG);
        db_bind_cstr(s, 1, json_string_value(t));
        bad = read_subs(s, &subs, &n, &cap);
    }
    json_decref(tags);
    if (bad) {
        result = JOB_RETRY;
        goto out;
    }
    /* who of the apps the owner authorised, asked once each */
    int64_t asked[16];
    int answer[16], nasked = 0;
    for (int k = 0; k < n; k++) {
        subscription_t *sub = &subs[k];
        bool want = true;
        if (strcmp(sub->object, "user") == 0)
            want = true; /* the owner must have authorised it: below */
        else if (strcmp(sub->object, "geography") == 0)
            want = m->location_id && geo_distance(m->lat, m->lng, sub->lat, sub->lng) <= sub->radius;
        if (!want)
            continue;
        if (strcmp(sub->object, "user") == 0 || u->is_private) {
            int a = -1;
            for (int j = 0; j < nasked; j++)
                if (asked[j] == sub->app)
                    a = answer[j];
            if (a < 0) {
                a = authorized(db, u->id, sub->app);
                if (a < 0) {
                    result = JOB_RETRY;
                    goto out;
                }
                if (nasked < 16) {
                    asked[nasked] = sub->app;
                    answer[nasked++] = a;
                }
            }
            if (!a)
                continue; /* a private photo, or a user, the app was never let see */
        }
        buf_t b;
        buf_init(&b, 1024);
        buf_puts(&b, "{\"subscription_id\":");
        buf_json_id(&b, sub->id);
        buf_puts(&b, ",\"object\":");
        buf_json_cstr(&b, sub->object);
        buf_puts(&b, ",\"object_id\":");
        if (strcmp(sub->object, "user") == 0)
            buf_json_id(&b, u->id);
        else if (strcmp(sub->object, "geography") == 0)
            buf_json_id(&b, sub->id);
        else
            buf_json_cstr(&b, sub->object_id);
        buf_printf(&b, ",\"changed_aspect\":\"media\",\"time\":%lld,\"data\":{\"media_id\":\"%lld_%lld\"}}",
                   (long long)m->created_at, (long long)m->id, (long long)m->user_id);
        int q = queue_update(h, c, sub, m->id, b.data, b.len);
        buf_free(&b);
        if (q != 0) {
            result = JOB_RETRY; /* those queued stay once (an update is unique per subscription and photo) */
            goto out;
        }
    }
out:
    free(subs);
    free(m);
    free(u);
    return result;
}

/* ---- the deliver job: a batch, POSTed ---- */

/* Ends the batch if nothing is left in it (under the app's lock, so an
 * update queued meanwhile either sees the batch or makes a new one). */
static int end_if_empty(db_conn_t *c, int64_t batch, int64_t app, bool *ended)
{
    *ended = false;
    if (db_begin(c) != DB_OK)
        return -1;
    int rc = db_lock(c, "hook", app, 0) == DB_OK ? 0 : -1;
    db_stmt_t *s = db_q(c, Q_HOOK_ITEMS_LEFT);
    db_bind_i64(s, 1, batch);
    int r = rc == 0 ? db_step(s) : DB_ERROR;
    int64_t left = r == DB_ROW ? db_col_i64(s, 0) : -1;
    db_reset(s);
    if (left == 0) {
        s = db_q(c, Q_HOOK_BATCH_DELETE);
        db_bind_i64(s, 1, batch);
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
        *ended = rc == 0;
    } else if (left < 0) {
        rc = -1;
    }
    if (rc != 0 || db_commit(c) != DB_OK) {
        db_rollback(c);
        *ended = false;
        return -1;
    }
    return 0;
}

/* How a delivery ends its try. */
enum { SETTLE_SENT, SETTLE_AGAIN, SETTLE_DROP };

/* In one transaction, with a log line: SENT drops exactly the items sent
 * (ids: an update committed meanwhile may have a smaller ID, and is not
 * among them); AGAIN counts the attempt and schedules the next try itself
 * after a backoff (1 s, 2 s, 4 s ... at most 5 min: never the runner's
 * retries, whose limit would leave the batch without a job); DROP drops
 * every item of the batch (given up, or the app is gone). */
static int settle(db_conn_t *c, int64_t batch, const int64_t *ids, int n, int how, int64_t app, const char *url,
                  const char *outcome, long status, const char *error, int attempt)
{
    if (db_begin(c) != DB_OK)
        return -1;
    int rc = 0;
    db_stmt_t *s;
    for (int i = 0; how == SETTLE_SENT && i < n && rc == 0; i++) {
        s = db_q(c, Q_HOOK_ITEM_DONE);
        db_bind_i64(s, 1, ids[i]);
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    }
    if (rc == 0 && how == SETTLE_DROP) {
        s = db_q(c, Q_HOOK_ITEMS_DROP);
        db_bind_i64(s, 1, batch);
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    }
    if (rc == 0) {
        s = db_q(c, Q_HOOK_BATCH_ATTEMPT);
        db_bind_i64(s, 1, batch);
        db_bind_i64(s, 2, how == SETTLE_AGAIN ? attempt : 0);
        rc = db_exec_stmt(s) == DB_DONE ? 0 : -1;
    }
    if (rc == 0 && how == SETTLE_AGAIN) {
        char p[32];
        snprintf(p, sizeof(p), "%lld", (long long)batch);
        int64_t wait = attempt >= 9 ? 300000 : 1000LL << (attempt - 1);
        rc = jobs_enqueue_at(c, "hook_deliver", p, ids_now_ms() + (wait < 300000 ? wait : 300000)) == DB_DONE ? 0 : -1;
    }
    if (rc == 0)
        log_outcome(c, app, url, outcome, status, error, n, attempt);
    if (rc != 0 || db_commit(c) != DB_OK) {
        db_rollback(c);
        return -1;
    }
    return 0;
}

int hooks_deliver_job(db_ctx_t *db, char *payload, void *ctx)
{
    const hooks_ctx_t *h = ctx;
    int64_t batch = strtoll(payload, NULL, 10);
    db_conn_t *c = db_physical(db, 0);
    if (c == NULL)
        return JOB_RETRY;
    db_stmt_t *s = db_q(c, Q_HOOK_BATCH_GET);
    db_bind_i64(s, 1, batch);
    int r = db_step(s);
    int64_t app = r == DB_ROW ? db_col_i64(s, 0) : 0;
    char url[HOOK_URL_MAX + 1] = "";
    if (r == DB_ROW)
        db_col_copy(s, 1, url, sizeof(url));
    int attempts = r == DB_ROW ? (int)db_col_i64(s, 2) : 0;
    db_reset(s);
    if (r != DB_ROW)
        return r == DB_DONE ? JOB_DONE : JOB_RETRY; /* delivered and ended already */

    /* the body: the batch's oldest updates, as one JSON array */
    buf_t body;
    buf_init(&body, (size_t)HOOKS_BATCH_ITEMS * 1024 + 16);
    buf_putc(&body, '[');
    s = db_q(c, Q_HOOK_ITEMS);
    db_bind_i64(s, 1, batch);
    db_bind_i64(s, 2, HOOKS_BATCH_ITEMS);
    int items = 0;
    int64_t ids[HOOKS_BATCH_ITEMS];
    while ((r = db_step(s)) == DB_ROW && items < HOOKS_BATCH_ITEMS) {
        size_t n = 0;
        const char *item = db_col_text(s, 1, &n);
        if (items)
            buf_putc(&body, ',');
        buf_append(&body, item ? item : "null", item ? n : 4);
        ids[items++] = db_col_i64(s, 0);
    }
    db_reset(s);
    buf_putc(&body, ']');
    if (r != DB_DONE && r != DB_ROW) {
        buf_free(&body);
        return JOB_RETRY;
    }
    bool ended;
    if (items == 0) {
        buf_free(&body);
        return end_if_empty(c, batch, app, &ended) == 0 ? (ended ? JOB_DONE : JOB_CONTINUE) : JOB_RETRY;
    }
    app_t a;
    r = apps_get_id(db, h->key, app, &a);
    if (r != USERS_OK || a.secret[0] == '\0') { /* the app is gone: so is what it was owed */
        app_free(&a);
        buf_free(&body);
        if (r == USERS_ERROR)
            return JOB_RETRY;
        if (settle(c, batch, ids, items, SETTLE_DROP, app, url, "dropped", 0, "the app no longer exists", attempts) != 0)
            return JOB_RETRY;
        return end_if_empty(c, batch, app, &ended) == 0 ? (ended ? JOB_DONE : JOB_CONTINUE) : JOB_RETRY;
    }
    unsigned char mac[20];
    unsigned int maclen = sizeof(mac);
    HMAC(EVP_sha1(), a.secret, (int)strlen(a.secret), (const unsigned char *)body.data, body.len, mac, &maclen);
    app_free(&a);
    char sig[41];
    sodium_bin2hex(sig, sizeof(sig), mac, 20);
    long status = 0;
    char err[256] = "";
    buf_t resp;
    buf_init(&resp, RESP_MAX);
    hooks_http(url, h->allow_private, body.data, body.len, sig, &status, &resp, err, sizeof(err));
    buf_free(&resp);
    buf_free(&body);
    int attempt = attempts + 1;
    if (status >= 200 && status < 300) {
        if (settle(c, batch, ids, items, SETTLE_SENT, app, url, "delivered", status, "", attempt) != 0)
            return JOB_RETRY; /* sent, not settled: sent again (at least once) */
        return end_if_empty(c, batch, app, &ended) == 0 ? (ended ? JOB_DONE : JOB_CONTINUE) : JOB_RETRY;
    }
    if (status && !err[0])
        snprintf(err, sizeof(err), "the callback answered HTTP %ld", status);
    if (attempt < h->max_attempts) /* again after a backoff, as a job of its own */
        return settle(c, batch, ids, items, SETTLE_AGAIN, app, url, "retrying", status, err, attempt) == 0 ? JOB_DONE
                                                                                                           : JOB_RETRY;
    /* given up: everything waiting for this callback goes, so a dead
     * callback holds no growing queue */
    log_warn("real-time updates to %s given up after %d attempts: %s", url, attempt, err);
    if (settle(c, batch, ids, items, SETTLE_DROP, app, url, "failed", status, err, attempt) != 0)
        return JOB_RETRY;
    return end_if_empty(c, batch, app, &ended) == 0 ? (ended ? JOB_DONE : JOB_CONTINUE) : JOB_RETRY;
}
