#!/usr/bin/python3
"""Pixel-level measurements of photo renditions for the API tests (Pillow).

  photo_check.py analyze   < [{"source": PATH, "renditions": {NAME: PATH}}, ...]
  photo_check.py make DIR N

`analyze` prints one JSON object per job; it only measures, the tests decide.
For each rendition: its size, mode, format and the metadata Pillow sees,
and how far its pixels are from a reference made by Pillow from the source
(made upright per EXIF, transparency flattened onto white, RGB; a centre
crop for square renditions of non-square sources): `ref_diff` is the mean
absolute difference per channel (0..255), `ref_diff_180` the same against
the reference turned upside down, `off_diff` against a crop from the
start (left or top) instead of the centre. Also the corner pixels, the
largest R/G/B spread (0 for grey), and where the near-white pixels are
(`white`: bounding box, centre and the white-pixel counts of its top and
bottom thirds, for the arrow of portrait-exif-orientation-6.jpg).

`make` writes N small distinct JPEGs (320x240, no metadata) into DIR.
"""
import json
import sys

from PIL import Image, ImageChops, ImageOps, ImageStat

RESAMPLE = Image.LANCZOS


def upright_rgb(path):
    im = Image.open(path)
    im.seek(0)
    im = ImageOps.exif_transpose(im)
    if im.mode in ('RGBA', 'LA', 'PA') or (im.mode == 'P' and 'transparency' in im.info):
        rgba = im.convert('RGBA')
        white = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert('RGB')
    return im.convert('RGB')


def mean_diff(a, b):
    d = ImageChops.difference(a.convert('RGB'), b.convert('RGB'))
    return sum(ImageStat.Stat(d).mean) / 3.0


def square_crop(im, centre=True):
    w, h = im.size
    side = min(w, h)
    x = (w - side) // 2 if centre else 0
    y = (h - side) // 2 if centre else 0
    return im.crop((x, y, x + side, y + side))


def white_mask(im):
    r, g, b = im.convert('RGB').split()
    low = ImageChops.darker(r, ImageChops.darker(g, b))
    return low.point(lambda v: 255 if v >= 235 else 0)


def white_stats(im):
    m = white_mask(im)
    w, h = m.size
    bb = m.getbbox()
    if not bb:
        return None
    x0, y0, x1, y1 = bb
    third = max(1, (y1 - y0) // 3)
    return {
        'bbox': [x0, y0, x1, y1],
        'cx': (x0 + x1) / 2.0 / w,
        'cy': (y0 + y1) / 2.0 / h,
        'count': m.histogram()[255],
        'top': m.crop((x0, y0, x1, y0 + third)).histogram()[255],
        'bottom': m.crop((x0, y1 - third, x1, y1)).histogram()[255],
    }


def analyze_one(job):
    src = upright_rgb(job['source'])
    sw, sh = src.size
    out = {'source': {'width': sw, 'height': sh, 'mode': Image.open(job['source']).mode}, 'renditions': {}}
    for name, path in job['renditions'].items():
        try:
            out['renditions'][name] = analyze_rendition(src, path)
        except Exception as e:  # not an image: the test reports it
            out['renditions'][name] = {'error': '%s: %s' % (type(e).__name__, e)}
    return out


def analyze_rendition(src, path):
    sw, sh = src.size
    raw = Image.open(path)
    info = {
        'width': raw.size[0], 'height': raw.size[1], 'mode': raw.mode, 'format': raw.format,
        'bands': len(raw.getbands()),
        'info_keys': sorted(k for k in raw.info.keys()
                        if k not in ('jfif', 'jfif_version', 'jfif_unit', 'jfif_density', 'dpi', 'progressive', 'progression')),
        'has_exif': bool(raw.getexif()),
    }
    im = raw.convert('RGB')
    square = im.size[0] == im.size[1] and sw != sh
    ref_src = square_crop(src) if square else src
    ref = ref_src.resize(im.size, RESAMPLE)
    info['ref_diff'] = mean_diff(im, ref)
    info['ref_diff_180'] = mean_diff(im, ref.rotate(180))
    if square:
        info['off_diff'] = mean_diff(im, square_crop(src, centre=False).resize(im.size, RESAMPLE))
    w, h = im.size
    info['corners'] = [list(im.getpixel(p)) for p in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]
    info['centre'] = list(im.getpixel((w // 2, h // 2)))
    r, g, b = im.split()
    spread = max(ImageStat.Stat(ImageChops.difference(r, g)).extrema[0][1],
                 ImageStat.Stat(ImageChops.difference(g, b)).extrema[0][1])
    info['rgb_spread'] = spread
    info['white'] = white_stats(im)
    return info


def make(directory, n):
    import os
    paths = []
    for i in range(n):
        im = Image.new('RGB', (320, 240), ((i * 37) % 256, (i * 91 + 40) % 256, (i * 53 + 80) % 256))
        im.paste((255 - (i * 37) % 256, 128, (i * 17) % 256), (20 + i * 7 % 200, 30, 120 + i * 7 % 200, 130))
        p = os.path.join(directory, 'small-%02d.jpg' % i)
        im.save(p, 'JPEG', quality=85)
        paths.append(p)
    return paths


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == 'analyze':
        jobs = json.load(sys.stdin)
        json.dump([analyze_one(j) for j in jobs], sys.stdout)
    elif len(sys.argv) == 4 and sys.argv[1] == 'make':
        json.dump(make(sys.argv[2], int(sys.argv[3])), sys.stdout)
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == '__main__':
    main()
