/* Fuzzes the photo checks an upload goes through (images_process): the
 * format sniff, the header read and its pixel limit, then the decode and
 * the renditions of what passes. The limit is small (PIXELS), so a run
 * stays quick and a header that lies about its size is the common case.
 * What is accepted has the sniffed format, a size within the limit, and
 * renditions that are JPEGs no wider than their spec nor than the source;
 * what is refused is a 400 with a message. */
#include <stdint.h>
#include <stdlib.h>

#include "images/images.h"

#define PIXELS (96 * 96)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    if (images_init((*argv)[0]) != 0)
        abort();
    return 0;
}

static void check_accepted(const img_result_t *r, const char *sniffed)
{
    int longest = r->src_width > r->src_height ? r->src_width : r->src_height; /* EXIF may turn it */
    if (sniffed == NULL || r->format != sniffed || r->src_width <= 0 || r->src_height <= 0 ||
        (long long)r->src_width * r->src_height > PIXELS)
        abort();
    for (int i = 0; i < IMG_NRENDITIONS; i++) {
        if (r->data[i] == NULL || r->width[i] <= 0 || r->height[i] <= 0 || r->width[i] > img_renditions[i].width ||
            r->width[i] > longest || r->height[i] > longest)
            abort();
        const char *f = images_sniff(r->data[i], r->len[i]);
        if (f == NULL || f[0] != 'j') /* "jpeg" */
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    img_opts_t o = {.max_pixels = PIXELS, .quality = 80};
    img_result_t r;
    const char *err = NULL;
    const char *sniffed = images_sniff(data, size);
    int rc = images_process(data, size, &o, &r, &err);
    if (rc == 0) {
        check_accepted(&r, sniffed);
        images_result_free(&r);
    } else if (rc != 400 || err == NULL || err[0] == '\0') {
        abort();
    }
    return 0;
}
