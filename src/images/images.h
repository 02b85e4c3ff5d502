/*
 * images: the photo pipeline, on libvips.
 *
 * DESIGN
 * images_process() runs on a worker-pool thread, never on an event loop.
 *  1. The format is sniffed from the first bytes; only JPEG, PNG, WebP, GIF
 *     and HEIF/HEIC are accepted, each by its own loader (libvips's other
 *     loaders, ImageMagick and PDF among them, are blocked as untrusted).
 *  2. The header alone gives the pixel count, which is checked against the
 *     limit before anything is decoded, so a decompression bomb costs a few
 *     kilobytes.
 *  3. One decode, with shrink-on-load where the format allows, to the
 *     largest rendition: rotated upright by EXIF orientation, converted to
 *     sRGB through the embedded ICC profile (or a CMYK fallback), alpha
 *     flattened onto white, 8 bits per channel, held in memory. A truncated
 *     file is an error, not a grey half-photo. A YCbCr JPEG (what phones
 *     and cameras write) is decoded by libjpeg-turbo at the smallest N/8
 *     scale still big enough (jpegscale.h), then resampled once in memory;
 *     the rest go through vips_thumbnail (1/2, 1/4, 1/8 for other JPEGs).
 *     A profile that is sRGB already is not applied (it would change
 *     nothing, at the cost of a resample).
 *  4. The smaller renditions are resized from that one decoded image; none
 *     is ever upscaled. Each is encoded as a baseline JPEG with no metadata
 *     at all (EXIF, GPS, XMP, ICC, comments are stripped).
 * libvips runs single-threaded per call (vips_concurrency_set(1)): the
 * worker pool is the parallelism, one image per worker, and at most one
 * per core at once in the process (the work is all CPU, and each holds a
 * decoded photo: a 12 MP phone photo costs about 18 MiB in flight).
 * The worker pool is bigger than that for the writes' sake.
 */
#ifndef PICOGRAM_IMAGES_H
#define PICOGRAM_IMAGES_H

#include <stddef.h>

enum { IMG_THUMBNAIL = 0, IMG_LOW, IMG_STANDARD, IMG_HIGH, IMG_NRENDITIONS };

typedef struct img_rendition_spec {
    const char *name; /* "thumbnail", "low_resolution", ... as in the media object */
    const char *suffix; /* file key suffix: "t", "l", "s", "h" */
    int width;
    int square; /* centre crop to width x width */
} img_rendition_spec_t;

extern const img_rendition_spec_t img_renditions[IMG_NRENDITIONS];

typedef struct img_opts {
    long long max_pixels;
    int quality;
} img_opts_t;

typedef struct img_result {
    void *data[IMG_NRENDITIONS]; /* JPEG bytes, g_free'd by images_result_free */
    size_t len[IMG_NRENDITIONS];
    int width[IMG_NRENDITIONS], height[IMG_NRENDITIONS];
    int src_width, src_height;
    const char *format;
} img_result_t;

/* Once per process, before any worker starts. Returns 0 or -1. */
int images_init(const char *argv0);
void images_shutdown(void);
/* Call from each worker thread before it exits. */
void images_thread_done(void);

/* The format name of a buffer, or NULL if not one we accept. */
const char *images_sniff(const void *buf, size_t len);

/* Makes every rendition. Returns 0, or an HTTP status (400) with a message
 * for the client in *err. On error, out holds nothing to free. */
int images_process(const void *buf, size_t len, const img_opts_t *o, img_result_t *out, const char **err);
void images_result_free(img_result_t *r);

#endif
