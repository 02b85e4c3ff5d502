/*
 * jpegscale: a JPEG decoded by libjpeg-turbo straight to nearly the size it
 * is wanted at.
 *
 * DESIGN
 * libjpeg-turbo can scale while it decodes by any N/8 (N = 1..8): the
 * inverse DCT of each 8x8 block is computed at NxN, so the pixels it never
 * makes cost nothing past their entropy decoding. libvips exposes only 1/2,
 * 1/4 and 1/8 of that ("shrink"), so a 4032-wide phone photo wanted 1080
 * wide was decoded at 2016 and then resampled by 1.87; at 3/8 it is decoded
 * at 1512 and resampled by 1.4, from 44% of the pixels.
 *
 * This module does the decode only. Colour (the ICC profile), orientation
 * and the final resample stay libvips's (images.c), on the image returned.
 * It handles 3-component YCbCr JPEGs, baseline or progressive: what phones
 * and cameras write. Anything else (greyscale, CMYK, YCCK, odd sampling) is
 * answered JPEGSCALE_OTHER, and the caller decodes it with libvips as before.
 */
#ifndef PICOGRAM_JPEGSCALE_H
#define PICOGRAM_JPEGSCALE_H

#include <stddef.h>
#include <vips/vips.h>

enum {
    JPEGSCALE_OK = 0,
    JPEGSCALE_OTHER = 1, /* not a 3-component YCbCr JPEG: decode it some other way */
    JPEGSCALE_BAD = -1,  /* corrupt or truncated: refuse it */
};

/* Decodes buf at the smallest N/8 whose result is at least min_w x min_h
 * (as stored, before any EXIF turn), or at full size if no N/8 below 8/8
 * reaches it. On JPEGSCALE_OK, *out is a 3-band 8-bit sRGB image in memory,
 * owned by the caller; it carries no metadata. A truncated file is
 * JPEGSCALE_BAD, as libvips's fail_on=truncated. */
int jpegscale_decode(const void *buf, size_t len, int min_w, int min_h, VipsImage **out);

#endif
