/*
 * jsonstream: the objects of a JSON array, an object at a time, from a
 * stream of any length (an archive's media.json, in picogram admin import).
 *
 * The array may be any valid JSON array of objects, laid out any way; one
 * object is held at a time (the bytes of the one being read, at most
 * JSTREAM_ITEM_MAX), so memory stays flat however long the array. Anything
 * else (not an array, an item that is not an object, bytes after the
 * array, a read error, an item too large) ends the stream with -1.
 */
#ifndef PICOGRAM_JSONSTREAM_H
#define PICOGRAM_JSONSTREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define JSTREAM_ITEM_MAX (256u << 20)

/* Reads up to n bytes into buf: how many, 0 at the end, -1 on an error. */
typedef ssize_t (*jstream_read_fn)(void *arg, void *buf, size_t n);

typedef struct jstream {
    jstream_read_fn read;
    void *arg;
    char *buf;
    size_t len, off, cap, max;
    bool eof, failed;
    int state; /* 0: before '['; 1: an item or ']'; 2: ',' or ']'; 3: an item; 4: ended */
} jstream_t;

/* max: the largest item in bytes (0: JSTREAM_ITEM_MAX). */
void jstream_init(jstream_t *js, jstream_read_fn read, void *arg, size_t max);
void jstream_free(jstream_t *js);
/* 1: the next object in *out (the caller's to json_decref); 0: the array
 * ended, and nothing but white space came after it; -1: see above. */
int jstream_next(jstream_t *js, json_t **out);

#endif
