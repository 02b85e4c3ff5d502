/*
 * text: what picogram reads out of captions and comments: #hashtags and
 * @mentions.
 *
 * A hashtag is '#' followed by letters, digits, marks or '_' in any script
 * (#café, #тест, #東京), not preceded by a word character; it is stored
 * lower-cased (Unicode simple case mapping, from the C.UTF-8 locale).
 * A mention is '@' followed by a valid username, not preceded by a word
 * character, less any dots it ends with ("@alice." is alice: usernames
 * taken since cannot end with one); it is stored lower-cased. Duplicates are dropped; at most
 * `max` of each are returned, in order of appearance. Thread safe.
 */
#ifndef PICOGRAM_TEXT_H
#define PICOGRAM_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#define TAG_MAX_CHARS 100
#define TAG_MAX_BYTES (TAG_MAX_CHARS * 4)
#define TEXT_MAX_TAGS 30
#define TEXT_MAX_MENTIONS 30

typedef char text_tag_t[TAG_MAX_BYTES + 1];
typedef char text_mention_t[31];

/* Input must be valid UTF-8. */
size_t text_hashtags(const char *s, size_t n, text_tag_t *out, size_t max);
size_t text_mentions(const char *s, size_t n, text_mention_t *out, size_t max);

/* A tag name as a client writes it (an optional leading '#', any case)
 * into its stored form in out. False if s is not exactly one valid tag. */
bool text_tag_name(const char *s, size_t n, text_tag_t out);

/* Lower-cases valid UTF-8 s into out (NUL-terminated, at most cap-1 bytes,
 * never cutting a code point). Returns the length written. */
size_t text_lower(const char *s, size_t n, char *out, size_t cap);

#endif
