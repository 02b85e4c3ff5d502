#!/usr/bin/python3
"""The same four renditions with Pillow (the seed stack's library), for
comparison with build/bench_images: 1080, 640 and 320 wide (aspect kept,
never upscaled) and a 150x150 centre crop, LANCZOS, JPEG quality 85, EXIF
orientation applied. Prints CPU time (user+system) per photo, per round and
the median round.

With --draft, Pillow's own advice for large JPEGs: Image.draft() first, so
that the decoder itself shrinks by 1/2, 1/4 or 1/8 as far as the largest
rendition allows (shrink-on-load), and resize(..., reducing_gap=3.0),
which shrinks by whole factors before the LANCZOS pass; the crop is a
resize of its box, with the same reducing_gap.

    /usr/bin/python3 bench/pillow_renditions.py [--draft] DIR [rounds=5]
"""
import io
import os
import resource
import statistics
import sys

from PIL import Image, ImageOps


def cpu_ms():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1000.0


WIDTHS = (1080, 640, 320)
TURNED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def renditions(data, draft=False):
    im = Image.open(io.BytesIO(data))
    gap = None
    if draft:
        gap = 3.0
        if im.format == "JPEG":
            turned = im.getexif().get(0x0112, 1) in TURNED
            w, h = (im.height, im.width) if turned else im.size  # as shown
            if w > WIDTHS[0]:
                need = (WIDTHS[0], round(h * WIDTHS[0] / w))
                im.draft("RGB", (need[1], need[0]) if turned else need)
    im = ImageOps.exif_transpose(im).convert("RGB")
    outs = []
    for w in WIDTHS:
        if im.width > w:
            r = im.resize((w, round(im.height * w / im.width)), Image.LANCZOS, reducing_gap=gap)
        else:
            r = im
        b = io.BytesIO()
        r.save(b, "JPEG", quality=85)
        outs.append(b.getvalue())
    if draft:
        side = min(im.size)
        box = ((im.width - side) / 2, (im.height - side) / 2, (im.width + side) / 2, (im.height + side) / 2)
        t = im.resize((150, 150), Image.LANCZOS, box=box, reducing_gap=gap)
    else:
        t = ImageOps.fit(im, (150, 150), Image.LANCZOS, centering=(0.5, 0.5))
    b = io.BytesIO()
    t.save(b, "JPEG", quality=85)
    outs.append(b.getvalue())
    return outs


def main():
    args = sys.argv[1:]
    draft = args[:1] == ["--draft"]
    if draft:
        args = args[1:]
    d = args[0]
    rounds = int(args[1]) if len(args) > 1 else 5
    photos = []
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            photos.append(f.read())
    per = []
    for k in range(rounds):
        t0 = cpu_ms()
        for p in photos:
            renditions(p, draft)
        per.append((cpu_ms() - t0) / len(photos))
        print(f"round {k + 1}: {per[-1]:.2f} ms CPU per photo ({len(photos)} photos)")
    print(f"median: {statistics.median(per):.2f} ms CPU per photo")


if __name__ == "__main__":
    main()
