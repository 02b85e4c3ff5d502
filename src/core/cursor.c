#include "core/cursor.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAG_BYTES 16
#define RAW_BYTES (TAG_BYTES + 8)

void cursor_key_derive(cursor_key_t *k, const unsigned char secret[SECRET_BYTES])
{
    /* one subkey per use, so the secret can key other things too */
    crypto_kdf_derive_from_key(k->mac, sizeof(k->mac), 1, "pgcursor", secret);
    crypto_kdf_derive_from_key(k->enc, sizeof(k->enc), 2, "pgcursor", secret);
}

static void le64(unsigned char out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(v >> (8 * i));
}

static void make_tag(const cursor_key_t *k, const unsigned char pt[8], unsigned char tag[TAG_BYTES])
{
    crypto_generichash(tag, TAG_BYTES, pt, 8, k->mac, sizeof(k->mac));
}

/* XORs the 8 bytes with the keystream of the tag's first 12 bytes (the nonce). */
static void xor_stream(const cursor_key_t *k, const unsigned char tag[TAG_BYTES], unsigned char io[8])
{
    crypto_stream_chacha20_ietf_xor(io, io, 8, tag, k->enc);
}

void cursor_seal(const cursor_key_t *k, int64_t pos, char out[CURSOR_SEALED_LEN + 1])
{
    unsigned char raw[RAW_BYTES];
    le64(raw + TAG_BYTES, (uint64_t)pos);
    make_tag(k, raw + TAG_BYTES, raw);
    xor_stream(k, raw, raw + TAG_BYTES);
    out[0] = 's';
    sodium_bin2base64(out + 1, CURSOR_SEALED_LEN, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool cursor_is_sealed(const char *s, size_t n)
{
    if (n != CURSOR_SEALED_LEN || s[0] != 's')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!b64url_char(s[i]))
            return false;
    return true;
}

bool cursor_open(const cursor_key_t *k, const char *s, size_t n, int64_t *pos)
{
    if (!cursor_is_sealed(s, n))
        return false;
    unsigned char raw[RAW_BYTES], pt[8], tag[TAG_BYTES];
    size_t len = 0;
    if (sodium_base642bin(raw, sizeof(raw), s + 1, n - 1, NULL, &len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) !=
            0 ||
        len != sizeof(raw))
        return false;
    memcpy(pt, raw + TAG_BYTES, 8);
    xor_stream(k, raw, pt);
    make_tag(k, pt, tag);
    if (sodium_memcmp(tag, raw, TAG_BYTES) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | pt[i];
    if ((int64_t)v <= 0)
        return false;
    *pos = (int64_t)v;
    return true;
}

static int read_secret(const char *path, unsigned char out[SECRET_BYTES], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : (snprintf(err, errlen, "cannot read secret %s: %s", path, strerror(errno)), -1);
    unsigned char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < SECRET_BYTES) {
        snprintf(err, errlen, "secret %s must hold at least %d bytes (it has %zd)", path, SECRET_BYTES, n);
        return -1;
    }
    /* any length from 32 bytes: hashed down to the key */
    crypto_generichash(out, SECRET_BYTES, buf, (size_t)n, NULL, 0);
    sodium_memzero(buf, sizeof(buf));
    return 0;
}

int secret_load(const char *path, unsigned char out[SECRET_BYTES], char *err, size_t errlen)
{
    int rc = read_secret(path, out, err, errlen);
    if (rc <= 0)
        return rc;
    /* Make it: a temporary file, fsynced, then linked in place; link fails if
     * another process got there first, and then its secret is the one. */
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%08x", path, randombytes_random());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create secret %s: %s", path, strerror(errno));
        return -1;
    }
    unsigned char fresh[SECRET_BYTES];
    randombytes_buf(fresh, sizeof(fresh));
    bool ok = write(fd, fresh, sizeof(fresh)) == (ssize_t)sizeof(fresh) && fsync(fd) == 0;
    close(fd);
    sodium_memzero(fresh, sizeof(fresh));
    if (!ok || (link(tmp, path) != 0 && errno != EEXIST)) {
        snprintf(err, errlen, "cannot create secret %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    unlink(tmp);
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the link survives a power loss: a new secret would void every cursor */
        close(dfd);
    }
    return read_secret(path, out, err, errlen) == 0 ? 0 : -1;
}
