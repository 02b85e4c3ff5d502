#!/usr/bin/python3
"""The same four renditions with Pillow (the seed stack's library), for
comparison with build/bench_images: 1080, 640 and 320 wide (aspect kept,
never upscaled) and a 150x150 centre crop, LANCZOS, JPEG quality 85, EXIF
orientation applied. Prints CPU time (user+system) per photo, per round and
the median round.

    /usr/bin/python3 bench/pillow_renditions.py DIR [rounds=5]
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


def renditions(data):
    im = Image.open(io.BytesIO(data))
    im = ImageOps.exif_transpose(im).convert("RGB")
    outs = []
    for w in (1080, 640, 320):
        if im.width > w:
            r = im.resize((w, round(im.height * w / im.width)), Image.LANCZOS)
        else:
            r = im
        b = io.BytesIO()
        r.save(b, "JPEG", quality=85)
        outs.append(b.getvalue())
    t = ImageOps.fit(im, (150, 150), Image.LANCZOS, centering=(0.5, 0.5))
    b = io.BytesIO()
    t.save(b, "JPEG", quality=85)
    outs.append(b.getvalue())
    return outs


def main():
    d = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    photos = []
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            photos.append(f.read())
    per = []
    for k in range(rounds):
        t0 = cpu_ms()
        for p in photos:
            renditions(p)
        per.append((cpu_ms() - t0) / len(photos))
        print(f"round {k + 1}: {per[-1]:.2f} ms CPU per photo ({len(photos)} photos)")
    print(f"median: {statistics.median(per):.2f} ms CPU per photo")


if __name__ == "__main__":
    main()
