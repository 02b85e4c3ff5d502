#include "model/push.h"
#include "core/ids.h"
#include "jobs/jobs.h"
#include "model/graph.h"
#include "model/hooks.h"
#include "model/media.h"
#include "model/tokens.h"
#include "model/users.h"
#include "obs/log.h"

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct push_ctx {
    push_settings_t s;
    char *apns_endpoint, *apns_key_id, *apns_team_id, *apns_topic, *vapid_subject;
    EVP_PKEY *vapid;            /* derived from the server secret */
    unsigned char vapid_pub[65];
    char vapid_pub_b64[96];
    EVP_PKEY *apns;             /* NULL: APNs is off */
    pthread_mutex_t lock;       /* the APNs JWT below */
    char apns_jwt[512];
    int64_t apns_jwt_at;
};

/* ---- crypto pieces (OpenSSL 3) ---- */

static void b64url(const unsigned char *p, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* base64url, with or without padding, into out: its length, or -1. */
static long unb64url(const char *s, unsigned char *out, size_t cap)
{
    size_t n = 0;
    if (sodium_base642bin(out, cap, s, strlen(s), "=", &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    return (long)n;
}

/* An EC P-256 key from its parts: a key pair (priv set) or a public key. */
static EVP_PKEY *ec_key(const BIGNUM *priv, const unsigned char pub[65])
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM *ps = NULL;
    if (b && pc && OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
        (priv == NULL || OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, priv)) &&
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) && (ps = OSSL_PARAM_BLD_to_param(b)) &&
        EVP_PKEY_fromdata_init(pc) > 0)
        if (EVP_PKEY_fromdata(pc, &k, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, ps) <= 0)
            k = NULL;
    OSSL_PARAM_free(ps);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(pc);
    return k;
}

/* The VAPID key pair from the server secret: a scalar hashed from it
 * (again until it is a valid one), and its public point. */
static EVP_PKEY *vapid_derive(const unsigned char secret[32], unsigned char pub[65])
{
    static const unsigned char ctx[crypto_generichash_KEYBYTES] = "picogram vapid key, version 1..";
    unsigned char d[32];
    crypto_generichash(d, sizeof(d), secret, 32, ctx, sizeof(ctx));
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *priv = BN_new();
    EC_POINT *q = g ? EC_POINT_new(g) : NULL;
    EVP_PKEY *k = NULL;
    for (int tries = 0; g && q && tries < 16 && k == NULL; tries++) {
        BN_bin2bn(d, sizeof(d), priv);
        if (!BN_is_zero(priv) && BN_cmp(priv, EC_GROUP_get0_order(g)) < 0 && EC_POINT_mul(g, q, priv, NULL, NULL, NULL) &&
            EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, 65, NULL) == 65)
            k = ec_key(priv, pub);
        crypto_generichash(d, sizeof(d), d, sizeof(d), ctx, sizeof(ctx));
    }
    sodium_memzero(d, sizeof(d));
    BN_clear_free(priv);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    return k;
}

/* A JWT signed ES256 with key: header.claims.signature (base64url). */
static int jwt_es256(EVP_PKEY *key, const char *header, const char *claims, char *out, size_t cap)
{
    char h[256], c[512];
    b64url((const unsigned char *)header, strlen(header), h, sizeof(h));
    b64url((const unsigned char *)claims, strlen(claims), c, sizeof(c));
    char input[800];
    int n = snprintf(input, sizeof(input), "%s.%s", h, c);
    if (n < 0 || (size_t)n >= sizeof(input))
        return -1;
    unsigned char der[128], raw[64];
    size_t derlen = sizeof(der);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int rc = -1;
    if (m && EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, key) > 0 &&
        EVP_DigestSign(m, der, &derlen, (const unsigned char *)input, (size_t)n) > 0) {
        const unsigned char *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
        const BIGNUM *r = NULL, *s = NULL;
        if (sig) {
            ECDSA_SIG_get0(sig, &r, &s);
            if (BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32)
                rc = 0;
            ECDSA_SIG_free(sig);
        }
    }
    EVP_MD_CTX_free(m);
    if (rc == 0) {
        char sg[100];
        b64url(raw, sizeof(raw), sg, sizeof(sg));
        if (snprintf(out, cap, "%s.%s", input, sg) >= (int)cap)
            rc = -1;
    }
    return rc;
}

/* HMAC-SHA-256 (HKDF's extract, and its expand's one block) */
static void hmac256(const unsigned char *key, size_t kl, const unsigned char *a, size_t al, const unsigned char *b,
                    size_t bl, unsigned char out[32])
{
    unsigned char msg[512];
    memcpy(msg, a, al);
    if (b)
        memcpy(msg + al, b, bl);
    unsigned int ol = 32;
    HMAC(EVP_sha256(), key, (int)kl, msg, al + (b ? bl : 0), out, &ol);
}

int push_encrypt(const unsigned char ua_public[65], const unsigned char auth[16], const void *msg, size_t len,
                 buf_t *out)
{
    EVP_PKEY *peer = ec_key(NULL, ua_public);
    EVP_PKEY *eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY_CTX *dc = eph ? EVP_PKEY_CTX_new(eph, NULL) : NULL;
    unsigned char as_public[65], shared[32];
    size_t publen = 0, sl = sizeof(shared);
    int rc = -1;
    if (peer && eph && dc &&
        EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, as_public, sizeof(as_public), &publen) > 0 &&
        publen == 65 && EVP_PKEY_derive_init(dc) > 0 && EVP_PKEY_derive_set_peer(dc, peer) > 0 &&
        EVP_PKEY_derive(dc, shared, &sl) > 0 && sl == 32 && len <= 3000) {
        /* RFC 8291, 3.3 and 3.4 */
        unsigned char prk_key[32], ikm[32], salt[16], prk[32], cek[32], nonce[32];
        unsigned char info[14 + 65 + 65 + 1];
        memcpy(info, "WebPush: info\0", 14);
        memcpy(info + 14, ua_public, 65);
        memcpy(info + 79, as_public, 65);
        info[144] = 1;
        hmac256(auth, 16, shared, 32, NULL, 0, prk_key);
        hmac256(prk_key, 32, info, sizeof(info), NULL, 0, ikm);
        randombytes_buf(salt, sizeof(salt));
        hmac256(salt, 16, ikm, 32, NULL, 0, prk);
        hmac256(prk, 32, (const unsigned char *)"Content-Encoding: aes128gcm\0\1", 29, NULL, 0, cek);
        hmac256(prk, 32, (const unsigned char *)"Content-Encoding: nonce\0\1", 25, NULL, 0, nonce);
        /* the one record: the message, its delimiter 0x02, sealed */
        unsigned char plain[3001], ct[3001 + 16];
        memcpy(plain, msg, len);
        plain[len] = 2;
        int cl = 0, fl = 0;
        EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
        if (cc && EVP_EncryptInit_ex(cc, EVP_aes_128_gcm(), NULL, cek, nonce) > 0 &&
            EVP_EncryptUpdate(cc, ct, &cl, plain, (int)len + 1) > 0 && EVP_EncryptFinal_ex(cc, ct + cl, &fl) > 0 &&
            EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_GET_TAG, 16, ct + cl + fl) > 0) {
            unsigned char rs[4] = {0, 0, 0x10, 0}; /* 4096 */
            buf_append(out, salt, 16);
            buf_append(out, rs, 4);
            buf_putc(out, 65);
            buf_append(out, as_public, 65);
            buf_append(out, ct, (size_t)(cl + fl + 16));
            rc = out->overflow ? -1 : 0;
        }
        EVP_CIPHER_CTX_free(cc);
        sodium_memzero(cek, sizeof(cek));
        sodium_memzero(prk, sizeof(prk));
        sodium_memzero(ikm, sizeof(ikm));
        sodium_memzero(prk_key, sizeof(prk_key));
    }
    sodium_memzero(shared, sizeof(shared));
    EVP_PKEY_CTX_free(dc);
    EVP_PKEY_free(eph);
    EVP_PKEY_free(peer);
    return rc;
}

/* ---- the context ---- */

static char *dup_or_empty(const char *s)
{
    return xstrdup(s ? s : "");
}

push_ctx_t *push_new(const push_settings_t *s, char *err, size_t errlen)
{
    push_ctx_t *p = xcalloc(1, sizeof(*p));
    p->s = *s;
    p->apns_endpoint = dup_or_empty(s->apns_endpoint);
    p->apns_key_id = dup_or_empty(s->apns_key_id);
    p->apns_team_id = dup_or_empty(s->apns_team_id);
    p->apns_topic = dup_or_empty(s->apns_topic);
    p->vapid_subject = dup_or_empty(s->vapid_subject);
    pthread_mutex_init(&p->lock, NULL);
    if ((p->vapid = vapid_derive(s->secret, p->vapid_pub)) == NULL) {
        snprintf(err, errlen, "cannot make the Web Push (VAPID) key");
        push_free(p);
        return NULL;
    }
    b64url(p->vapid_pub, 65, p->vapid_pub_b64, sizeof(p->vapid_pub_b64));
    if (s->apns_key_file && *s->apns_key_file && strcmp(s->apns_key_file, "off") != 0) {
        FILE *f = fopen(s->apns_key_file, "r");
        p->apns = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
        if (f)
            fclose(f);
        if (p->apns == NULL || !EVP_PKEY_is_a(p->apns, "EC") || !*p->apns_key_id || !*p->apns_team_id ||
            !*p->apns_topic) {
            snprintf(err, errlen,
                     "apns_key_file %s: not a readable .p8 (EC P-256) key, or apns_key_id, apns_team_id or "
                     "apns_topic is missing",
                     s->apns_key_file);
            push_free(p);
            return NULL;
        }
    }
    push_set_window(s->window_ms);
    return p;
}

void push_free(push_ctx_t *p)
{
    if (p == NULL)
        return;
    EVP_PKEY_free(p->vapid);
    EVP_PKEY_free(p->apns);
    free(p->apns_endpoint);
    free(p->apns_key_id);
    free(p->apns_team_id);
    free(p->apns_topic);
    free(p->vapid_subject);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const char *push_vapid_public(const push_ctx_t *p)
{
    return p->vapid_pub_b64;
}

/* ---- devices and settings ---- */

const char *push_device_check(const device_t *d, bool allow_private)
{
    size_t n = strlen(d->token);
    if (strcmp(d->platform, "apns") == 0) {
        if (n < 32 || n > 200 || strspn(d->token, "0123456789abcdefABCDEF") != n)
            return "an APNs token is 32 to 200 hex digits";
        return NULL;
    }
    if (strcmp(d->platform, "webpush") != 0)
        return "platform must be apns or webpush";
    if (n == 0 || n > HOOK_URL_MAX)
        return "endpoint must be the subscription's https:// URL";
    bool https = strncasecmp(d->token, "https://", 8) == 0;
    if (!https && !(allow_private && strncasecmp(d->token, "http://", 7) == 0))
        return "endpoint must be the subscription's https:// URL";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)d->token[i] <= 0x20 || (unsigned char)d->token[i] >= 0x7f)
            return "endpoint contains a character it may not";
    unsigned char k[80];
    if (unb64url(d->p256dh, k, sizeof(k)) != 65 || k[0] != 4)
        return "p256dh must be the subscription's P-256 public key (base64url)";
    if (unb64url(d->auth, k, sizeof(k)) != 16)
        return "auth must be the subscription's 16-byte secret (base64url)";
    return NULL;
}

int push_device_add(db_ctx_t *db, int64_t user, device_t *d, const unsigned char by[TOKEN_HASH_BYTES])
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL || db_begin(c) != DB_OK)
        return USERS_ERROR;
    int rc = db_lock(c, "devices", user, 0) == DB_OK ? USERS_OK : USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_DEVICE_FIND);
    db_bind_i64(s, 1, user);
    db_bind_cstr(s, 2, d->token);
    int r = rc == USERS_OK ? db_step(s) : DB_ERROR;
    int64_t found = r == DB_ROW ? db_col_i64(s, 0) : 0;
    db_reset(s);
    if (r != DB_ROW && r != DB_DONE)
        rc = USERS_ERROR;
    d->created_at = (int64_t)time(NULL);
    if (rc == USERS_OK && found) {
        d->id = found;
        s = db_q(c, Q_DEVICE_UPDATE);
        db_bind_i64(s, 1, found);
        db_bind_cstr(s, 2, d->platform);
        db_bind_cstr(s, 3, d->p256dh);
        db_bind_cstr(s, 4, d->auth);
        db_bind_blob(s, 5, by, TOKEN_HASH_BYTES);
        if (db_exec_stmt(s) != DB_DONE)
            rc = USERS_ERROR;
    } else if (rc == USERS_OK) {
        s = db_q(c, Q_DEVICE_COUNT);
        db_bind_i64(s, 1, user);
        r = db_step(s);
        int64_t count = r == DB_ROW ? db_col_i64(s, 0) : -1;
        db_reset(s);
        rc = count < 0 ? USERS_ERROR : count >= PUSH_DEVICES_MAX ? USERS_TAKEN : USERS_OK;
        d->id = ids_next(ids_global(), ids_shard(user));
        if (rc == USERS_OK) {
            s = db_q(c, Q_DEVICE_INSERT);
            db_bind_i64(s, 1, d->id);
            db_bind_i64(s, 2, user);
            db_bind_cstr(s, 3, d->platform);
            db_bind_cstr(s, 4, d->token);
            db_bind_cstr(s, 5, d->p256dh);
            db_bind_cstr(s, 6, d->auth);
            db_bind_i64(s, 7, d->created_at);
            db_bind_blob(s, 8, by, TOKEN_HASH_BYTES);
            if (db_exec_stmt(s) != DB_DONE)
                rc = USERS_ERROR;
        }
    }
    if (rc != USERS_OK || db_commit(c) != DB_OK) {
        db_rollback(c);
        return rc == USERS_OK ? USERS_ERROR : rc;
    }
    return USERS_OK;
}

int push_devices_of(db_ctx_t *db, int64_t user, device_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_DEVICES_OF);
    db_bind_i64(s, 1, user);
    int rc, cap = 0;
    while ((rc = db_step(s)) == DB_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            *out = xrealloc(*out, (size_t)cap * sizeof(**out));
        }
        device_t *d = &(*out)[(*n)++];
        memset(d, 0, sizeof(*d));
        d->id = db_col_i64(s, 0);
        db_col_copy(s, 1, d->platform, sizeof(d->platform));
        db_col_copy(s, 2, d->token, sizeof(d->token));
        db_col_copy(s, 3, d->p256dh, sizeof(d->p256dh));
        db_col_copy(s, 4, d->auth, sizeof(d->auth));
        d->created_at = db_col_i64(s, 5);
    }
    db_reset(s);
    if (rc != DB_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return USERS_ERROR;
    }
    return USERS_OK;
}

int push_device_delete(db_ctx_t *db, int64_t user, int64_t id)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_DEVICE_DELETE);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, user);
    if (db_exec_stmt(s) != DB_DONE)
        return USERS_ERROR;
    return c->drv->changes(c) == 1 ? USERS_OK : USERS_NOT_FOUND;
}

int push_off_get(db_ctx_t *db, int64_t user, unsigned *off)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_USER_PUSH_OFF);
    db_bind_i64(s, 1, user);
    int rc = db_step(s);
    *off = rc == DB_ROW ? (unsigned)db_col_i64(s, 0) : 0;
    db_reset(s);
    return rc == DB_ROW ? USERS_OK : rc == DB_DONE ? USERS_NOT_FOUND : USERS_ERROR;
}

int push_off_change(db_ctx_t *db, int64_t user, unsigned off, unsigned on)
{
    db_conn_t *c = db_shard(db, ids_shard(user));
    if (c == NULL)
        return USERS_ERROR;
    db_stmt_t *s = db_q(c, Q_USER_CHANGE_PUSH_OFF); /* one statement: two changes at once both count */
    db_bind_i64(s, 1, user);
    db_bind_i64(s, 2, off & PUSH_ALL);
    db_bind_i64(s, 3, on & PUSH_ALL);
    return db_exec_stmt(s) == DB_DONE ? USERS_OK : USERS_ERROR;
}

/* ---- news, coalesced ---- */

static atomic_int window_ms = 60000;

void push_set_window(int ms)
{
    atomic_store(&window_ms, ms);
}

static unsigned kind_bit(const char *kind)
{
    if (strcmp(kind, "like") == 0)
        return PUSH_LIKES;
    if (strcmp(kind, "comment") == 0)
        return PUSH_COMMENTS;
    if (strcmp(kind, "follow") == 0 || strcmp(kind, "request") == 0 || strcmp(kind, "approved") == 0)
        return PUSH_FOLLOWS;
    if (strcmp(kind, "mention") == 0)
        return PUSH_MENTIONS;
    return 0;
}

int push_note(db_conn_t *c, int64_t recipient, int64_t actor, const char *kind, int64_t media, const char *text)
{
    if (kind_bit(kind) == 0)
        return 0;
    db_stmt_t *s = db_q(c, Q_DEVICE_ANY);
    db_bind_i64(s, 1, recipient);
    int rc = db_step(s);
    db_reset(s);
    if (rc != DB_ROW)
        return rc == DB_DONE ? 0 : -1; /* no device: nothing to send */
    /* news from a user the recipient blocks is neither pushed nor counted
     * in a window (push_job judges a window by its last actor) */
    bool blocked = false;
    if (actor != 0 && graph_blocks_conn(c, recipient, actor, &blocked) != GRAPH_OK)
        return -1;
    if (blocked)
        return 0;
    int64_t id = ids_next(ids_global(), ids_shard(recipient));
    s = db_q(c, Q_PUSH_PENDING_INSERT);
    db_bind_i64(s, 1, id);
    db_bind_i64(s, 2, recipient);
    db_bind_cstr(s, 3, kind);
    db_bind_i64(s, 4, media);
    db_bind_i64(s, 5, actor);
    db_bind_cstr(s, 6, text ? text : "");
    if (db_exec_stmt(s) != DB_DONE)
        return -1;
    if (c->drv->changes(c) == 1) { /* the first: the window starts */
        char p[32];
        snprintf(p, sizeof(p), "%lld", (long long)id);
        int64_t job;
        return jobs_enqueue_ex(c, "push", p, ids_now_ms() + atomic_load(&window_ms), ids_shard(recipient), &job) ==
                       DB_DONE
                   ? 0
                   : -1;
    }
    s = db_q(c, Q_PUSH_PENDING_BUMP); /* one more in the window: counted */
    db_bind_i64(s, 1, recipient);
    db_bind_cstr(s, 2, kind);
    db_bind_i64(s, 3, media);
    db_bind_i64(s, 4, actor);
    db_bind_cstr(s, 5, text ? text : "");
    return db_exec_stmt(s) == DB_DONE ? 0 : -1;
}

/* ---- sending ---- */

/* The APNs provider token, made again every 50 minutes (Apple refuses one
 * older than an hour, and one made more often than every 20). */
static int apns_jwt(push_ctx_t *p, char *out, size_t cap)
{
    pthread_mutex_lock(&p->lock);
    int64_t now = (int64_t)time(NULL);
    int rc = 0;
    if (p->apns_jwt[0] == '\0' || now - p->apns_jwt_at > 50 * 60) {
        char header[128], claims[128];
        snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", p->apns_key_id);
        snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"iat\":%lld}", p->apns_team_id, (long long)now);
        rc = jwt_es256(p->apns, header, claims, p->apns_jwt, sizeof(p->apns_jwt));
        p->apns_jwt_at = now;
        if (rc != 0)
            p->apns_jwt[0] = '\0';
    }
    snprintf(out, cap, "%s", p->apns_jwt);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* Sends to one device: 1 sent, 0 the device is gone (remove it), -1 failed. */
static int send_apns(push_ctx_t *p, const device_t *d, const char *msg, int64_t media, const char *kind)
{
    if (p->apns == NULL)
        return -1; /* APNs is not set up here: kept for when it is */
    char jwt[512], auth[560], topic[300], url[700];
    if (apns_jwt(p, jwt, sizeof(jwt)) != 0)
        return -1;
    snprintf(auth, sizeof(auth), "authorization: bearer %s", jwt);
    snprintf(topic, sizeof(topic), "apns-topic: %s", p->apns_topic);
    snprintf(url, sizeof(url), "%s/3/device/%s", p->apns_endpoint, d->token);
    const char *headers[] = {auth, topic, "apns-push-type: alert", "apns-priority: 10", "content-type: application/json",
                             NULL};
    buf_t body;
    buf_init(&body, 8192);
    buf_puts(&body, "{\"aps\":{\"alert\":{\"title\":\"picogram\",\"body\":");
    buf_json_cstr(&body, msg);
    buf_printf(&body, "},\"sound\":\"default\",\"thread-id\":\"%s-%lld\"},\"kind\":", kind, (long long)media);
    buf_json_cstr(&body, kind);
    buf_puts(&body, ",\"media_id\":");
    if (media)
        buf_json_id(&body, media);
    else
        buf_puts(&body, "null");
    buf_putc(&body, '}');
    buf_t resp;
    buf_init(&resp, 8192);
    char err[256] = "";
    long status = 0;
    hooks_req_t rq = {.url = url, .trusted = true, .http2 = true, .post = true, .headers = headers,
                      .body = body.data, .len = body.len};
    hooks_call(&rq, &status, &resp, err, sizeof(err));
    bool bad_token = status == 400 && resp.len && memmem(resp.data, resp.len, "BadDeviceToken", 14) != NULL;
    if (status != 200 && status != 410 && !bad_token)
        log_warn("APNs answered %ld for a device: %.*s%s", status, (int)resp.len, resp.data ? resp.data : "", err);
    buf_free(&body);
    buf_free(&resp);
    return status == 200 ? 1 : status == 410 || bad_token ? 0 : -1;
}

static int send_webpush(push_ctx_t *p, const device_t *d, const char *msg, int64_t media, const char *kind)
{
    unsigned char ua[80], auth[32];
    if (unb64url(d->p256dh, ua, sizeof(ua)) != 65 || unb64url(d->auth, auth, sizeof(auth)) != 16)
        return 0; /* a registration that cannot be used: removed */
    const char *why = hooks_url_check(d->token, p->s.allow_private);
    if (why) {
        log_warn("a Web Push endpoint is refused: %s", why);
        return 0;
    }
    buf_t m, body, resp;
    buf_init(&m, 4096);
    buf_puts(&m, "{\"title\":\"picogram\",\"body\":");
    buf_json_cstr(&m, msg);
    buf_puts(&m, ",\"kind\":");
    buf_json_cstr(&m, kind);
    if (media)
        buf_printf(&m, ",\"media_id\":\"%lld\",\"url\":\"/#/m/%lld\"}", (long long)media, (long long)media);
    else
        buf_puts(&m, ",\"media_id\":null,\"url\":\"/#/activity\"}");
    buf_init(&body, 8192);
    buf_init(&resp, 8192);
    int result = -1;
    if (!m.overflow && push_encrypt(ua, auth, m.data, m.len, &body) == 0) {
        /* VAPID: a JWT for the push service's origin */
        char aud[HOOK_URL_MAX + 1];
        const char *hs = strstr(d->token, "://");
        size_t al = hs ? (size_t)(hs + 3 - d->token) + strcspn(hs + 3, "/?") : strlen(d->token);
        snprintf(aud, sizeof(aud), "%.*s", (int)al, d->token);
        char claims[HOOK_URL_MAX + 200], jwt[1200], authz[1400];
        buf_t cl;
        buf_init(&cl, sizeof(claims) - 1);
        buf_puts(&cl, "{\"aud\":");
        buf_json_cstr(&cl, aud);
        buf_printf(&cl, ",\"exp\":%lld,\"sub\":", (long long)time(NULL) + 12 * 3600);
        buf_json_cstr(&cl, p->vapid_subject);
        buf_putc(&cl, '}');
        snprintf(claims, sizeof(claims), "%.*s", (int)cl.len, cl.data);
        buf_free(&cl);
        if (jwt_es256(p->vapid, "{\"typ\":\"JWT\",\"alg\":\"ES256\"}", claims, jwt, sizeof(jwt)) == 0) {
            snprintf(authz, sizeof(authz), "Authorization: vapid t=%s, k=%s", jwt, p->vapid_pub_b64);
            const char *headers[] = {authz, "Content-Encoding: aes128gcm", "Content-Type: application/octet-stream",
                                     "TTL: 86400", "Urgency: normal", NULL};
            /* a URL a browser gave: the callbacks' address rules, the connection pinned */
            hooks_req_t rq = {.url = d->token, .allow_private = p->s.allow_private, .post = true, .headers = headers,
                              .body = (const char *)body.data, .len = body.len};
            char err[256] = "";
            long status = 0;
            hooks_call(&rq, &status, &resp, err, sizeof(err));
            result = status >= 200 && status < 300                                   ? 1
                     : status == 404 || status == 410 || strcmp(err, HOOK_PRIVATE_ERR) == 0 ? 0
                                                                                            : -1;
            if (result < 0)
                log_warn("a Web Push service answered %ld%s%s", status, err[0] ? ": " : "", err);
        }
    }
    buf_free(&m);
    buf_free(&body);
    buf_free(&resp);
    return result;
}

/* Cuts s to at most max bytes, on a character's boundary (valid UTF-8 in
 * stays valid out). */
static void utf8_cut(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    s[max] = '\0';
}

#define SAID_MAX 240 /* bytes of a comment or caption in a push */

/* The line a person reads. */
static void message(char *out, size_t cap, const char *kind, const char *actor, int64_t count, const char *text)
{
    char who[96], said[400];
    snprintf(said, sizeof(said), "%.399s", text);
    utf8_cut(said, SAID_MAX); /* (so the %.*s below cut nothing: they bound the line for the compiler) */
    if (count > 1)
        snprintf(who, sizeof(who), "%s and %lld other%s", actor, (long long)(count - 1), count > 2 ? "s" : "");
    else
        snprintf(who, sizeof(who), "%s", actor);
    if (strcmp(kind, "like") == 0)
        snprintf(out, cap, "%s liked your photo.", who);
    else if (strcmp(kind, "comment") == 0 && count == 1 && said[0] != '\0')
        snprintf(out, cap, "%s commented: %.*s", who, SAID_MAX, said);
    else if (strcmp(kind, "comment") == 0)
        snprintf(out, cap, "%s commented on your photo.", who);
    else if (strcmp(kind, "follow") == 0)
        snprintf(out, cap, "%s started following you.", who);
    else if (strcmp(kind, "request") == 0)
        snprintf(out, cap, "%s asked to follow you.", who);
    else if (strcmp(kind, "approved") == 0)
        snprintf(out, cap, "%s accepted your follow request.", who);
    else if (said[0] == '\0') /* in a photo the recipient may not see: push_allowed */
        snprintf(out, cap, "%s mentioned you.", who);
    else
        snprintf(out, cap, "%s mentioned you: %.*s", who, SAID_MAX, said);
}

/* What a push may tell its recipient, as their activity list shows it
 * (api/social.c, activity_emit): nothing of a user blocked either way, and
 * neither the photo nor its text when the recipient may not see it (a
 * mention in a private account's caption, a block with its owner, a photo
 * gone). 1: send (*media and text cleared if need be), 0: not, -1: error. */
static int push_allowed(db_ctx_t *db, int64_t user, int64_t actor, int64_t *media, char *text)
{
    if (actor != 0 && actor != user) { /* (a block made since push_note looked) */
        bool blocks = false, blocked = false;
        if (graph_blocks(db, user, actor, &blocks) != GRAPH_OK || graph_blocks(db, actor, user, &blocked) != GRAPH_OK)
            return -1;
        if (blocks || blocked)
            return 0;
    }
    if (*media == 0)
        return 1;
    media_t *m = xmalloc(sizeof(*m));
    int mrc = media_get(db, *media, m);
    int64_t owner = m->user_id;
    free(m);
    if (mrc == MEDIA_ERROR)
        return -1;
    bool ok = mrc == MEDIA_OK && owner == user;
    if (mrc == MEDIA_OK && owner != user) {
        user_t *o = xmalloc(sizeof(*o));
        int urc = users_get(db, owner, o); /* a suspended owner's photos are not shown */
        bool priv = o->is_private;
        free(o);
        if (urc == USERS_ERROR || (urc == USERS_OK && graph_can_view(db, user, owner, priv, &ok) != GRAPH_OK))
            return -1;
    }
    if (!ok) {
        *media = 0;
        text[0] = '\0';
    }
    return 1;
}

int push_job(db_ctx_t *db, char *payload, void *ctx)
{
    push_ctx_t *p = ctx;
    int64_t id = strtoll(payload, NULL, 10);
    db_conn_t *c = db_shard(db, ids_shard(id));
    if (c == NULL)
        return JOB_RETRY;
    db_stmt_t *s = db_q(c, Q_PUSH_PENDING_GET);
    db_bind_i64(s, 1, id);
    int r = db_step(s);
    int64_t user = 0, media = 0, actor = 0, count = 0;
    char kind[16] = "", text[1024] = "";
    if (r == DB_ROW) {
        user = db_col_i64(s, 0);
        db_col_copy(s, 1, kind, sizeof(kind));
        media = db_col_i64(s, 2);
        actor = db_col_i64(s, 3);
        count = db_col_i64(s, 4);
        db_col_copy(s, 5, text, sizeof(text));
        utf8_cut(text, sizeof(text) - 1); /* a copy cut short may end inside a character */
    }
    db_reset(s);
    if (r != DB_ROW)
        return r == DB_DONE ? JOB_DONE : JOB_RETRY;
    int allowed = push_allowed(db, user, actor, &media, text);
    if (allowed < 0)
        return JOB_RETRY;
    unsigned off = 0;
    device_t *devs = NULL;
    int n = 0;
    user_t *a = xmalloc(sizeof(*a));
    r = push_off_get(db, user, &off);
    int ar = r == USERS_ERROR ? USERS_ERROR : users_get_any(db, actor, a);
    if (r == USERS_ERROR || ar == USERS_ERROR || (r == USERS_OK && push_devices_of(db, user, &devs, &n) != USERS_OK)) {
        free(a);
        return JOB_RETRY;
    }
    bool wanted = allowed == 1 && r == USERS_OK && !(off & kind_bit(kind));
    char msg[400];
    message(msg, sizeof(msg), kind, ar == USERS_OK ? a->username : "Someone", count, text);
    free(a);
    /* each call is bounded (10 s); all of them well inside the job's lease */
    int64_t until = ids_now_ms() + 45000;
    for (int i = 0; i < n && wanted && ids_now_ms() < until; i++) {
        int sent = strcmp(devs[i].platform, "apns") == 0 ? send_apns(p, &devs[i], msg, media, kind)
                                                        : send_webpush(p, &devs[i], msg, media, kind);
        if (sent == 0 && push_device_delete(db, user, devs[i].id) == USERS_ERROR)
            log_warn("cannot remove a device the push service no longer knows");
    }
    free(devs);
    /* sent (at least once): the next like of this photo starts a new window */
    s = db_q(c, Q_PUSH_PENDING_DELETE);
    db_bind_i64(s, 1, id);
    return db_exec_stmt(s) == DB_DONE ? JOB_DONE : JOB_RETRY;
}
