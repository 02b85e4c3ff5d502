#include "images/images.h"
#include "images/jpegscale.h"
#include "obs/log.h"

#include <lcms2.h>
#include <math.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

const img_rendition_spec_t img_renditions[IMG_NRENDITIONS] = {
    [IMG_THUMBNAIL] = {"thumbnail", "t", 150, 1},
    [IMG_LOW] = {"low_resolution", "l", 320, 0},
    [IMG_STANDARD] = {"standard_resolution", "s", 640, 0},
    [IMG_HIGH] = {"high_resolution", "h", 1080, 0},
};

#ifndef RESIZE_KERNEL
#define RESIZE_KERNEL VIPS_KERNEL_LANCZOS3
#endif

/* No limit on height: renditions are "N wide". */
#define TALL 10000000

/* libvips warns on stderr about every bad tile of a corrupt upload; those
 * uploads already get a 400, so the warnings go to the debug log. */
static void on_vips_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
    log_debug("%s: %s", domain ? domain : "vips", message);
}

/* sRGB's red, green and blue colorants (the rXYZ, gXYZ and bXYZ tags), from
 * lcms's own sRGB profile, at images_init. */
static cmsCIEXYZ srgb_colorants[3];
static const cmsTagSignature colorant_tags[3] = {cmsSigRedColorantTag, cmsSigGreenColorantTag, cmsSigBlueColorantTag};

/* Whether an ICC profile is sRGB: its description says so and its
 * colorants are sRGB's (to 0.005, as profiles' rounding differs). Many
 * phones tag plain sRGB photos with one; the transform would change
 * nothing and cost as much as the resample (about 13 ms for a 12 MP
 * photo's 1080 base). */
static int is_srgb(const void *icc, size_t n)
{
    cmsHPROFILE p = cmsOpenProfileFromMem(icc, (cmsUInt32Number)n);
    if (p == NULL)
        return 0;
    char desc[256] = "";
    int yes = cmsGetProfileInfoASCII(p, cmsInfoDescription, "en", "US", desc, sizeof(desc)) > 0 &&
              strstr(desc, "sRGB") != NULL;
    for (int i = 0; i < 3 && yes; i++) {
        const cmsCIEXYZ *c = cmsReadTag(p, colorant_tags[i]), *r = &srgb_colorants[i];
        yes = c != NULL && fabs(c->X - r->X) < 0.005 && fabs(c->Y - r->Y) < 0.005 && fabs(c->Z - r->Z) < 0.005;
    }
    cmsCloseProfile(p);
    return yes;
}

/* images_process calls at once: one per core (images.h) */
static sem_t slots;

int images_init(const char *argv0)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (sem_init(&slots, 0, cores > 0 ? (unsigned)cores : 1) != 0)
        return -1;
    cmsHPROFILE srgb = cmsCreate_sRGBProfile();
    for (int i = 0; i < 3; i++) {
        const cmsCIEXYZ *c = srgb ? cmsReadTag(srgb, colorant_tags[i]) : NULL;
        if (c == NULL)
            return -1;
        srgb_colorants[i] = *c;
    }
    cmsCloseProfile(srgb);
    if (VIPS_INIT(argv0) != 0)
        return -1;
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, on_vips_log, NULL);
    vips_block_untrusted_set(TRUE);
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_leak_set(FALSE);
    return 0;
}

void images_shutdown(void)
{
    vips_shutdown();
}

void images_thread_done(void)
{
    vips_thread_shutdown();
}

const char *images_sniff(const void *buf, size_t len)
{
    const unsigned char *b = buf;
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return "jpeg";
    if (len >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "png";
    if (len >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0))
        return "gif";
    if (len >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return "webp";
    if (len >= 12 && memcmp(b + 4, "ftyp", 4) == 0) {
        static const char *const brands[] = {"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif"};
        for (size_t i = 0; i < sizeof(brands) / sizeof(brands[0]); i++)
            if (memcmp(b + 8, brands[i], 4) == 0)
                return "heif";
    }
    return NULL;
}

static const char *vips_err(void)
{
    const char *e = vips_error_buffer();
    log_debug("vips: %s", e);
    return e;
}

/* Applies op to *img, replacing it with the result (unref'ing the input). */
#define STEP(img, call)                                                                                                \
    do {                                                                                                               \
        VipsImage *out_ = NULL;                                                                                        \
        if ((call) != 0) {                                                                                             \
            g_object_unref(img);                                                                                       \
            return NULL;                                                                                               \
        }                                                                                                              \
        g_object_unref(img);                                                                                           \
        img = out_;                                                                                                    \
    } while (0)

/* Through the ICC profile it carries, if any, to sRGB: what phones shoot in
 * Display P3 (or a camera in Adobe RGB) keeps its colours once the profile
 * is stripped. vips_thumbnail alone leaves the profile on the image for a
 * saver to embed, and the renditions embed none. A profile libvips can't
 * use leaves *img as it is, as it always did. */
static void to_srgb(VipsImage **img)
{
    VipsImage *c = NULL;
    const void *icc = NULL;
    size_t n = 0;
    if (!vips_image_get_typeof(*img, VIPS_META_ICC_NAME) ||
        vips_image_get_blob(*img, VIPS_META_ICC_NAME, &icc, &n) != 0 || is_srgb(icc, n))
        return;
    if (vips_icc_transform(*img, &c, "srgb", "embedded", TRUE, NULL) != 0) {
        vips_error_clear();
        return;
    }
    g_object_unref(*img);
    *img = c;
}

/* Flattened onto white, sRGB, 8-bit, in memory, no metadata. Takes img. */
static VipsImage *finish_base(VipsImage *img)
{
    to_srgb(&img);
    if (vips_image_hasalpha(img)) {
        VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
        int rc;
        VipsImage *out_ = NULL;
        rc = vips_flatten(img, &out_, "background", white, NULL);
        vips_area_unref(VIPS_AREA(white));
        g_object_unref(img);
        if (rc != 0)
            return NULL;
        img = out_;
    }
    if (vips_image_guess_interpretation(img) != VIPS_INTERPRETATION_sRGB || img->Bands != 3)
        STEP(img, vips_colourspace(img, &out_, VIPS_INTERPRETATION_sRGB, NULL));
    if (img->BandFmt != VIPS_FORMAT_UCHAR)
        STEP(img, vips_cast_uchar(img, &out_, NULL));
    STEP(img, ((out_ = vips_image_copy_memory(img)) == NULL ? -1 : 0));
    /* Nothing of the source's metadata travels on. */
    char **fields = vips_image_get_fields(img);
    for (char **f = fields; *f; f++)
        if (strcmp(*f, "width") && strcmp(*f, "height") && strcmp(*f, "bands") && strcmp(*f, "format") &&
            strcmp(*f, "coding") && strcmp(*f, "interpretation") && strcmp(*f, "xres") && strcmp(*f, "yres") &&
            strcmp(*f, "xoffset") && strcmp(*f, "yoffset") && strcmp(*f, "filename"))
            vips_image_remove(img, *f);
    g_strfreev(fields);
    return img;
}

/* Computes img into memory (once, so later steps read pixels, not a pipeline). */
static VipsImage *mem(VipsImage *img)
{
    VipsImage *m = vips_image_copy_memory(img);
    g_object_unref(img);
    return m;
}

/* A YCbCr JPEG, `width` wide upright (or as it is if no wider): decoded by
 * jpegscale at the smallest N/8 that is still big enough, resampled once in
 * memory to the exact size and turned by its EXIF orientation, as
 * vips_thumbnail would (jpegscale.h); its ICC profile goes with it, for
 * finish_base.
 * Returns 1 if it is some other JPEG, for the caller's vips_thumbnail; -1
 * if it is corrupt. */
static int decode_jpeg(const void *buf, size_t len, VipsImage *head, int width, VipsImage **out)
{
    int orient = vips_image_get_orientation(head);
    int turned = orient >= 5 && orient <= 8;
    int uw = turned ? head->Ysize : head->Xsize, uh = turned ? head->Xsize : head->Ysize;
    int tw = uw, th = uh;
    if (uw > width) {
        tw = width;
        th = (int)((double)uh * width / uw + 0.5);
        th = th > 0 ? th : 1;
    }
    int sw = turned ? th : tw, sh = turned ? tw : th; /* as stored */
    VipsImage *img = NULL;
    int rc = jpegscale_decode(buf, len, sw, sh, &img);
    if (rc != JPEGSCALE_OK)
        return rc == JPEGSCALE_OTHER ? 1 : -1;
    if (img->Xsize != sw || img->Ysize != sh) {
        VipsImage *r = NULL;
        if (vips_resize(img, &r, (double)sw / img->Xsize, "vscale", (double)sh / img->Ysize, "kernel", RESIZE_KERNEL,
                        NULL) != 0 ||
            (r = mem(r)) == NULL) {
            g_object_unref(img);
            return -1;
        }
        g_object_unref(img);
        img = r;
    }
    const void *icc = NULL; /* for finish_base's to_srgb */
    size_t n = 0;
    if (vips_image_get_typeof(head, VIPS_META_ICC_NAME) &&
        vips_image_get_blob(head, VIPS_META_ICC_NAME, &icc, &n) == 0 && n > 0)
        vips_image_set_blob_copy(img, VIPS_META_ICC_NAME, icc, n);
    if (orient > 1 && orient <= 8) {
        VipsImage *r = NULL;
        vips_image_set_int(img, VIPS_META_ORIENTATION, orient);
        rc = vips_autorot(img, &r, NULL);
        g_object_unref(img);
        if (rc != 0)
            return -1;
        img = r;
    }
    *out = img;
    return 0;
}

/* Upright, sRGB, flattened, 8-bit, in memory: the base for every rendition. */
static VipsImage *decode_base(const void *buf, size_t len, VipsImage *head, const char *format, int width)
{
    VipsImage *img = NULL;
    if (strcmp(format, "jpeg") == 0) {
        int rc = decode_jpeg(buf, len, head, width, &img);
        if (rc == 0)
            return finish_base(img);
        if (rc < 0)
            return NULL;
    }
    /* thumbnail_buffer: shrink-on-load, EXIF autorotate (the ICC profile: finish_base) */
    if (vips_thumbnail_buffer((void *)(uintptr_t)buf, len, &img, width, "height", TALL, "size", VIPS_SIZE_DOWN,
                              "option_string", "fail_on=truncated", NULL) != 0)
        return NULL;
    return finish_base(img);
}

static int encode(VipsImage *img, int quality, void **data, size_t *len)
{
    return vips_jpegsave_buffer(img, data, len, "Q", quality, "strip", TRUE, NULL);
}

/* Resizes to `width` wide (aspect kept), or takes a reference if already
 * no wider: renditions are never upscaled. */
static int to_width(VipsImage *in, int width, VipsImage **out)
{
    if (in->Xsize <= width) {
        *out = in;
        g_object_ref(in);
        return 0;
    }
    double h = (double)width / in->Xsize;
    int oh = (int)((double)in->Ysize * h + 0.5);
    double v = (double)(oh > 0 ? oh : 1) / in->Ysize;
    return vips_resize(in, out, h, "vscale", v, "kernel", RESIZE_KERNEL, NULL);
}

/* The centre square. Cut from the smallest image that still has a short
 * side of `size` pixels; if even the 1080-wide base is too thin (a
 * panorama), from the original file again, with shrink-on-load. */
/* The centre size x size square of img (which has both sides >= size):
 * cut the centre square of the short side, then scale it down. */
static int centre_square(VipsImage *img, int size, VipsImage **out)
{
    int side = img->Xsize < img->Ysize ? img->Xsize : img->Ysize;
    VipsImage *sq = NULL;
    if (vips_extract_area(img, &sq, (img->Xsize - side) / 2, (img->Ysize - side) / 2, side, side, NULL) != 0)
        return -1;
    if (side == size) {
        *out = sq;
        return 0;
    }
    int rc = vips_resize(sq, out, (double)size / side, "kernel", RESIZE_KERNEL, NULL);
    g_object_unref(sq);
    return rc;
}

/* The centre square. Cut from the smallest image that still has a short
 * side of `size` pixels; if even the 1080-wide base is too thin (a
 * panorama), from the original file again, with shrink-on-load. If the
 * original itself is smaller, the square is as big as it can be (never
 * upscaled). */
static int square(const void *buf, size_t len, VipsImage *const *from, int nfrom, int size, VipsImage **out)
{
    for (int i = 0; i < nfrom; i++) {
        VipsImage *f = from[i];
        if (f->Xsize >= size && f->Ysize >= size)
            return centre_square(f, size, out);
    }
    VipsImage *t = NULL;
    if (vips_thumbnail_buffer((void *)(uintptr_t)buf, len, &t, size, "height", size, "crop", VIPS_INTERESTING_CENTRE,
                              "size", VIPS_SIZE_DOWN, "option_string", "fail_on=truncated", NULL) != 0)
        return -1;
    *out = finish_base(t); /* the same flattening and colour as the base */
    return *out ? 0 : -1;
}

void images_result_free(img_result_t *r)
{
    for (int i = 0; i < IMG_NRENDITIONS; i++) {
        g_free(r->data[i]);
        r->data[i] = NULL;
    }
}

static int process(const void *buf, size_t len, const img_opts_t *o, img_result_t *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    if (len == 0) {
        *err = "the photo is empty";
        return 400;
    }
    out->format = images_sniff(buf, len);
    if (out->format == NULL) {
        *err = "the photo is not a JPEG, PNG, WebP, GIF or HEIC image";
        return 400;
    }
    /* Header only: the decoder has not run yet. */
    VipsImage *head = vips_image_new_from_buffer((void *)(uintptr_t)buf, len, "", NULL);
    if (head == NULL) {
        vips_err();
        vips_error_clear();
        *err = "the photo could not be read (corrupt or unsupported)";
        return 400;
    }
    out->src_width = head->Xsize, out->src_height = head->Ysize;
    if ((long long)out->src_width * out->src_height > o->max_pixels) {
        g_object_unref(head);
        *err = "the photo has too many pixels";
        return 400;
    }
    VipsImage *base = decode_base(buf, len, head, out->format, img_renditions[IMG_HIGH].width);
    g_object_unref(head);
    if (base == NULL) {
        vips_err();
        vips_error_clear();
        *err = "the photo could not be decoded (corrupt or truncated)";
        return 400;
    }
    /* high = base; standard from high; low from standard; the square from
     * the smallest one that is big enough. */
    VipsImage *img[IMG_NRENDITIONS] = {NULL};
    int rc = 0;
    img[IMG_HIGH] = base;
    g_object_ref(base);
    if (to_width(img[IMG_HIGH], img_renditions[IMG_STANDARD].width, &img[IMG_STANDARD]) != 0 ||
        (img[IMG_STANDARD] = mem(img[IMG_STANDARD])) == NULL ||
        to_width(img[IMG_STANDARD], img_renditions[IMG_LOW].width, &img[IMG_LOW]) != 0 ||
        (img[IMG_LOW] = mem(img[IMG_LOW])) == NULL) {
        rc = -1;
    } else {
        VipsImage *from[3] = {img[IMG_LOW], img[IMG_STANDARD], img[IMG_HIGH]};
        int size = img_renditions[IMG_THUMBNAIL].width;
        if (square(buf, len, from, 3, size, &img[IMG_THUMBNAIL]) != 0)
            rc = -1;
    }
    for (int i = 0; i < IMG_NRENDITIONS && rc == 0; i++) {
        if (encode(img[i], o->quality, &out->data[i], &out->len[i]) != 0)
            rc = -1;
        out->width[i] = img[i]->Xsize, out->height[i] = img[i]->Ysize;
    }
    for (int i = 0; i < IMG_NRENDITIONS; i++)
        if (img[i])
            g_object_unref(img[i]);
    g_object_unref(base);
    if (rc != 0) {
        log_error("image encode failed: %s", vips_err());
        vips_error_clear();
        images_result_free(out);
        *err = "the photo could not be processed";
        return 400;
    }
    return 0;
}

int images_process(const void *buf, size_t len, const img_opts_t *o, img_result_t *out, const char **err)
{
    while (sem_wait(&slots) != 0) /* EINTR */
        ;
    int rc = process(buf, len, o, out, err);
    sem_post(&slots);
    return rc;
}
