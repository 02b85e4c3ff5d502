#include "images/jpegscale.h"

#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <jpeglib.h>
#include <jerror.h>

/* libjpeg reports a fatal error by calling error_exit, which must not
 * return: it jumps back to the decode with the message kept. */
typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf back;
    int truncated;
    char msg[JMSG_LENGTH_MAX];
} jerr_t;

static void on_error(j_common_ptr c)
{
    jerr_t *e = (jerr_t *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->back, 1);
}

/* Warnings (corrupt data that libjpeg can carry on past) are not printed.
 * Running out of data is one: libjpeg then fills the rest with grey, so it
 * is counted, and the photo refused. */
static void on_message(j_common_ptr c, int level)
{
    jerr_t *e = (jerr_t *)c->err;
    if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF)
        e->truncated = 1;
}

static void free_pixels(VipsImage *img, void *pixels)
{
    (void)img;
    g_free(pixels);
}

int jpegscale_decode(const void *buf, size_t len, int min_w, int min_h, VipsImage **out)
{
    struct jpeg_decompress_struct c;
    jerr_t e = {0};
    unsigned char *volatile px = NULL;
    *out = NULL;
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = on_error;
    e.pub.emit_message = on_message;
    jpeg_create_decompress(&c);
    if (setjmp(e.back)) {
        jpeg_destroy_decompress(&c);
        g_free(px);
        vips_error("jpegscale", "%s", e.msg);
        return JPEGSCALE_BAD;
    }
    jpeg_mem_src(&c, buf, (unsigned long)len);
    jpeg_read_header(&c, TRUE);
    if (c.num_components != 3 || c.jpeg_color_space != JCS_YCbCr) {
        jpeg_destroy_decompress(&c);
        return JPEGSCALE_OTHER;
    }
    c.out_color_space = JCS_RGB;
    c.scale_denom = 8;
    for (c.scale_num = 1; c.scale_num < 8; c.scale_num++) {
        jpeg_calc_output_dimensions(&c);
        if ((int)c.output_width >= min_w && (int)c.output_height >= min_h)
            break;
    }
    jpeg_start_decompress(&c);
    size_t w = c.output_width, h = c.output_height, stride = w * 3;
    px = g_try_malloc(stride * h);
    if (px == NULL) {
        jpeg_destroy_decompress(&c);
        vips_error("jpegscale", "out of memory for %zux%zu", w, h);
        return JPEGSCALE_BAD;
    }
    while (c.output_scanline < c.output_height) {
        JSAMPROW rows[16];
        int n = 0;
        for (; n < 16 && c.output_scanline + n < c.output_height; n++)
            rows[n] = px + stride * (c.output_scanline + n);
        jpeg_read_scanlines(&c, rows, (JDIMENSION)n);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    if (e.truncated) {
        g_free(px);
        vips_error("jpegscale", "the JPEG data ends early");
        return JPEGSCALE_BAD;
    }
    VipsImage *img = vips_image_new_from_memory(px, stride * h, (int)w, (int)h, 3, VIPS_FORMAT_UCHAR);
    if (img == NULL) {
        g_free(px);
        return JPEGSCALE_BAD;
    }
    g_signal_connect(img, "postclose", G_CALLBACK(free_pixels), px);
    img->Type = VIPS_INTERPRETATION_sRGB;
    *out = img;
    return JPEGSCALE_OK;
}
