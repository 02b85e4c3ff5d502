#include "core/text.h"
#include "core/validate.h"

#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

static locale_t utf8;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_locale(void)
{
    utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Decodes one code point of valid UTF-8; returns its length. */
static size_t decode(const char *s, size_t n, unsigned *cp)
{
    unsigned char c = (unsigned char)s[0];
    size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (len > n)
        len = n;
    unsigned v = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (size_t i = 1; i < len; i++)
        v = (v << 6) | ((unsigned char)s[i] & 0x3f);
    *cp = v;
    return len;
}

static size_t encode(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12)), out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18)), out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static bool is_word(unsigned cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') || cp == '_';
    if (utf8 == (locale_t)0)
        return false;
    /* letters and digits of every script; combining marks (U+0300..U+036F and
     * the general ranges iswalnum misses) keep "é" written as e + U+0301 whole */
    return iswalnum_l((wint_t)cp, utf8) || (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
           (cp >= 0x20d0 && cp <= 0x20ff) || (cp >= 0xfe20 && cp <= 0xfe2f);
}

static unsigned lower(unsigned cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return utf8 ? (unsigned)towlower_l((wint_t)cp, utf8) : cp;
}

static bool is_username_char(unsigned cp)
{
    return cp < 0x80 && (is_word(cp) || cp == '.');
}

/* Scans for sigil-prefixed words; calls add() with each lower-cased word. */
static size_t scan(const char *s, size_t n, char sigil, bool username, char *out, size_t stride, size_t max)
{
    pthread_once(&once, init_locale);
    size_t count = 0, i = 0;
    unsigned prev = ' ';
    while (i < n && count < max) {
        unsigned cp;
        size_t l = decode(s + i, n - i, &cp);
        if (cp != (unsigned char)sigil || is_word(prev) || (username && prev == '.')) {
            prev = cp;
            i += l;
            continue;
        }
        /* the word after the sigil */
        char word[TAG_MAX_BYTES + 1];
        size_t wl = 0, chars = 0, dots = 0, j = i + l;
        while (j < n) {
            unsigned c;
            size_t cl = decode(s + j, n - j, &c);
            if (!(username ? is_username_char(c) : is_word(c)))
                break;
            chars++;
            dots = c == '.' ? dots + 1 : 0; /* the run's trailing dots */
            /* room for the whole code point: usernames are ASCII (1 byte each) */
            if (wl + (username ? 1u : 4u) <= (username ? 30u : (size_t)TAG_MAX_BYTES))
                wl += encode(lower(c), word + wl);
            j += cl;
        }
        if (username) { /* trailing dots end the sentence, not the name (ASCII: a byte a character) */
            chars -= dots;
            wl = wl < chars ? wl : chars;
        }
        word[wl] = '\0';
        bool ok = chars > 0 && (username ? chars <= 30 : chars <= TAG_MAX_CHARS);
        if (!username) {
            bool all_digits = true; /* #1 is a number, not a tag */
            for (size_t k = 0; k < wl; k++)
                all_digits = all_digits && word[k] >= '0' && word[k] <= '9';
            ok = ok && !all_digits;
        }
        for (size_t k = 0; ok && k < count; k++)
            ok = strcmp(out + k * stride, word) != 0;
        if (ok)
            memcpy(out + count++ * stride, word, wl + 1);
        prev = 'x'; /* the word just read counts as a word character */
        i = j;
    }
    return count;
}

size_t text_hashtags(const char *s, size_t n, text_tag_t *out, size_t max)
{
    return scan(s, n, '#', false, (char *)out, sizeof(text_tag_t), max);
}

size_t text_mentions(const char *s, size_t n, text_mention_t *out, size_t max)
{
    return scan(s, n, '@', true, (char *)out, sizeof(text_mention_t), max);
}

bool text_tag_name(const char *s, size_t n, text_tag_t out)
{
    if (!utf8_valid(s, n))
        return false;
    if (n > 0 && s[0] == '#')
        s++, n--;
    if (n == 0 || n > TAG_MAX_BYTES || memchr(s, '#', n) != NULL)
        return false;
    char with[TAG_MAX_BYTES + 2];
    with[0] = '#';
    memcpy(with + 1, s, n);
    text_tag_t tags[2];
    if (text_hashtags(with, n + 1, tags, 2) != 1)
        return false;
    /* the tag must be the whole name: nothing left over after it */
    char lowered[TAG_MAX_BYTES * 2 + 1];
    size_t ll = text_lower(s, n, lowered, sizeof(lowered));
    if (ll != strlen(tags[0]) || memcmp(lowered, tags[0], ll) != 0)
        return false;
    memcpy(out, tags[0], ll + 1);
    return true;
}

size_t text_lower(const char *s, size_t n, char *out, size_t cap)
{
    pthread_once(&once, init_locale);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        i += decode(s + i, n - i, &cp);
        char enc[4];
        size_t l = encode(lower(cp), enc);
        if (o + l >= cap)
            break;
        memcpy(out + o, enc, l);
        o += l;
    }
    if (cap > 0)
        out[o] = '\0';
    return o;
}
