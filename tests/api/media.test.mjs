// Photos: POST /v1/media/upload with every fixture in tests/fixtures/photos (sizes,
// metadata stripping, orientation, colour, alpha), captions, locations and
// filters, the rendition files the server serves, media by id and shortcode,
// delete, private accounts, the recent-media list and its pagination,
// concurrent uploads, and "nothing is stored" after every refused upload.
//
// Pixels are measured with Pillow (tests/api/photo_check.py, run with
// /usr/bin/python3) and metadata with exiftool.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startServer, api, signup, uniqueName, show, external, rawRequest, photosDir, benchPhoto,
  uploadPhoto, mediaFiles, listFiles, assertOk, assertV1Error, assertShortUser, assertRateHeaders,
} from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';
const PHOTO_CHECK = path.join(here, 'photo_check.py');

const RENDITIONS = ['thumbnail', 'low_resolution', 'standard_resolution', 'high_resolution'];
const WIDTHS = { low_resolution: 320, standard_resolution: 640, high_resolution: 1080 };
const MEDIA_KEYS = ['id', 'type', 'filter', 'tags', 'link', 'created_time', 'attribution', 'user_has_liked',
  'users_in_photo', 'location', 'caption', 'likes', 'comments', 'user', 'images'];

let srv;
let url;
let work; // scratch directory: downloaded renditions, generated photos
let small = []; // paths of small generated JPEGs (320x240)
let smallNext = 0;
const nextSmall = () => small[smallNext++ % small.length];

before(async () => {
  // --max-upload 1m: every fixture fits (the largest is 400 KB), 413 is cheap.
  // --max-concurrent-uploads: the concurrency test sends 6 at once.
  srv = await startServer(['--max-upload', '1m', '--max-concurrent-uploads', '16', '--access-log', 'off']);
  url = srv.url;
  work = await mkdtemp(path.join(tmpdir(), 'picogram-media-'));
  const made = await run(PYTHON, [PHOTO_CHECK, 'make', work, '24']);
  assert.equal(made.code, 0, made.stderr);
  small = JSON.parse(made.stdout);
});

after(async () => {
  await srv?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

// --- helpers ----------------------------------------------------------------

function run(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => { stdout += c; });
    p.stderr.on('data', (c) => { stderr += c; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input ?? '');
  });
}

/** exiftool -j -G -a -u on files: one object per file, keys "Group:Tag". */
async function exif(files) {
  const r = await run('exiftool', ['-j', '-G', '-a', '-u', '-n', ...files]);
  assert.ok(r.code === 0 || r.stdout.trim().startsWith('['), `exiftool failed: ${r.stderr}`);
  const list = JSON.parse(r.stdout);
  const byFile = new Map(list.map((o) => [o.SourceFile, o]));
  return files.map((f) => byFile.get(f));
}

/** Pillow measurements (see photo_check.py). */
async function analyze(jobs) {
  const r = await run(PYTHON, [PHOTO_CHECK, 'analyze'], JSON.stringify(jobs));
  assert.equal(r.code, 0, `photo_check.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * The same URL on the server under test. Links and photo URLs are absolute
 * URLs built from --public-url / --photo-url; whether they point at this
 * server is checked once, in 'links, photo URLs and next_url point at this
 * server'. Everywhere else they are fetched from the server under test, so
 * that one wrong origin does not hide every other check.
 */
function local(u) {
  const p = new URL(u);
  return url + p.pathname + p.search;
}

const self = async (token) => assertOk(await api(url, 'GET', '/v1/users/self', { token }));

/** Every id in a user's recent list (walks the pages with count=100). */
async function recentIds(token, who = 'self') {
  const ids = [];
  let next = `${url}/v1/users/${who}/media/recent?count=100`;
  for (let pages = 0; next; pages++) {
    assert.ok(pages < 50, 'too many pages');
    const r = await api(local(next), 'GET', '', { token });
    ids.push(...assertOk(r).map((m) => m.id));
    next = r.body.pagination?.next_url;
  }
  return ids;
}

/** What "nothing stored" compares: counts.media, the recent list and the photo store's files. */
async function snapshot(token) {
  return {
    media: (await self(token)).counts.media,
    recent: await recentIds(token),
    files: external ? null : await mediaFiles(srv.dataDir),
  };
}

async function assertNothingStored(token, was, what) {
  assertSameSnapshot(await snapshot(token), was, what);
  if (!external) {
    const tmp = (await listFiles(srv.dataDir)).filter((f) => path.basename(f).includes('.tmp.'));
    assert.deepEqual(tmp, [], `temporary files left after ${what}`);
  }
}

function assertSameSnapshot(now, was, what) {
  assert.equal(now.media, was.media, `counts.media changed after ${what}`);
  assert.deepEqual(now.recent, was.recent, `the recent list changed after ${what}`);
  if (!external) assert.deepEqual(now.files, was.files, `files under photos/media changed after ${what}`);
}

async function upload(token, photo, fields = {}, extra = {}) {
  return uploadPhoto(url, { token, photo, fields, ...extra });
}

async function uploadOk(token, photo = nextSmall(), fields = {}, extra = {}) {
  const r = await upload(token, photo, fields, extra);
  return assertOk(r);
}

async function fetchBytes(u, init = {}) {
  const res = await fetch(local(u), init);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes };
}

/** A multipart/form-data body built by hand (exact bytes): parts are {name, value} or {name, filename, type, data}. */
function multipart(parts) {
  const boundary = `----picogram${Date.now().toString(16)}${Math.random().toString(16).slice(2)}`;
  const chunks = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"\r\nContent-Type: ${p.type ?? 'application/octet-stream'}`;
    chunks.push(Buffer.from(`${head}\r\n\r\n`), Buffer.from(p.data ?? p.value ?? ''), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { type: `multipart/form-data; boundary=${boundary}`, data: Buffer.concat(chunks) };
}

/** Asserts the v1 media object shape; returns it. */
function assertMedia(m, { owner, filter = 'Normal', caption, location, tags } = {}) {
  assert.ok(m && typeof m === 'object', `not a media object: ${JSON.stringify(m)}`);
  for (const k of MEDIA_KEYS) assert.ok(k in m, `media lacks ${k}: ${JSON.stringify(m)}`);
  assert.match(m.id, /^[1-9]\d*_[1-9]\d*$/);
  if (owner) assert.equal(m.id.split('_')[1], owner.id, 'the id ends with the owner id');
  assert.equal(m.type, 'image');
  assert.equal(m.filter, filter);
  assert.ok(Array.isArray(m.tags) && m.tags.every((t) => typeof t === 'string'), `tags: ${JSON.stringify(m.tags)}`);
  assert.equal(new Set(m.tags).size, m.tags.length, `tags repeat: ${JSON.stringify(m.tags)}`);
  if (tags) assert.deepEqual([...m.tags].sort(), [...tags].sort(), 'tags');
  assert.match(m.link, /^https?:\/\/[^/]+\/p\/[A-Za-z0-9_-]+\/$/, 'link');
  assert.match(m.created_time, /^\d+$/);
  assert.ok(Math.abs(Number(m.created_time) - Date.now() / 1000) < 600, `created_time ${m.created_time} is now`);
  assert.equal(m.attribution, null);
  assert.equal(m.user_has_liked, false);
  assert.deepEqual(m.users_in_photo, []);
  assert.deepEqual(m.likes, { count: 0, data: [] });
  assert.deepEqual(m.comments, { count: 0, data: [] });
  assertShortUser(m.user);
  if (owner) {
    for (const k of ['id', 'username', 'full_name', 'profile_picture']) assert.equal(m.user[k], owner[k], `user.${k}`);
  }
  if (caption === null) assert.equal(m.caption, null, 'caption is null');
  if (m.caption !== null) {
    assert.equal(typeof m.caption.id, 'string');
    assert.match(m.caption.created_time, /^\d+$/);
    assertShortUser(m.caption.from, owner ? { id: owner.id, username: owner.username } : {});
    if (caption !== undefined) assert.equal(m.caption.text, caption, 'caption text');
  }
  if (location === null) assert.equal(m.location, null, 'location is null');
  if (m.location !== null) {
    assert.deepEqual(Object.keys(m.location).sort(), ['id', 'latitude', 'longitude', 'name']);
    assert.equal(typeof m.location.id, 'string');
    assert.equal(typeof m.location.name, 'string');
    assert.equal(typeof m.location.latitude, 'number');
    assert.equal(typeof m.location.longitude, 'number');
    if (location) {
      if (location.name !== undefined) assert.equal(m.location.name, location.name, 'location name');
      assert.ok(Math.abs(m.location.latitude - location.latitude) < 1e-6, `latitude ${m.location.latitude}`);
      assert.ok(Math.abs(m.location.longitude - location.longitude) < 1e-6, `longitude ${m.location.longitude}`);
    }
  }
  assert.deepEqual(Object.keys(m.images).sort(), [...RENDITIONS].sort(), 'images has exactly the four renditions');
  for (const k of RENDITIONS) {
    const im = m.images[k];
    assert.deepEqual(Object.keys(im).sort(), ['height', 'url', 'width'], `images.${k}`);
    assert.match(im.url, /^https?:\/\/\S+\.jpe?g$/i, `images.${k}.url`);
    assert.ok(Number.isInteger(im.width) && im.width > 0, `images.${k}.width`);
    assert.ok(Number.isInteger(im.height) && im.height > 0, `images.${k}.height`);
  }
  assert.equal(new Set(RENDITIONS.map((k) => m.images[k].url)).size, 4, 'four distinct rendition URLs');
  return m;
}

/** Expected rendition sizes for an upright source of sw x sh: [w, h, tolerance of h]. */
function expectedSize(kind, sw, sh) {
  if (kind === 'thumbnail') {
    const s = Math.min(150, sw, sh);
    return [s, s, 0];
  }
  const w = Math.min(WIDTHS[kind], sw); // never upscaled
  return [w, Math.max(1, (sh * w) / sw), 1];
}

// --- fixtures -------------------------------------------------------------------

// The fixtures to accept. size: [width, height] once upright, where the README
// gives it (otherwise Pillow's word is taken); optional: the README lets the
// server refuse it with a clear 400 instead.
const ACCEPTED = {
  'landscape.jpg': { size: [1600, 1067] },
  'portrait-exif-orientation-6.jpg': { size: [900, 1200] },
  'square-1080.jpg': { size: [1080, 1080] },
  'progressive.jpg': {},
  'cmyk.jpg': {},
  'grayscale.jpg': {},
  'alpha.png': {},
  'photo.webp': {},
  'animated.gif': { optional: true },
  'panorama-8x1.jpg': { size: [4000, 500], optional: true },
  'tiny-1x1.jpg': { size: [1, 1], optional: true },
};
const METADATA_GROUPS_ALLOWED = new Set(['ExifTool', 'File', 'Composite', 'JFIF']);

// First, while the server is fresh, so that its peak memory says something.
describe('decompression bomb', () => {
  it('refuses bomb-20000x20000.png quickly, without decoding it, storing nothing', async () => {
    const owner = await signup(url, uniqueName('bomb'));
    const hwm = async () => Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${srv.proc.pid}/status`, 'utf8'))[1]);
    const peakBefore = external ? 0 : await hwm();
    const was = await snapshot(owner.token);
    const t0 = Date.now();
    const r = await upload(owner.token, 'bomb-20000x20000.png');
    const ms = Date.now() - t0;
    assertV1Error(r, 400, 'APIInvalidParametersError');
    assert.ok(ms < 3000, `answered in ${ms} ms`);
    await assertNothingStored(owner.token, was, 'the bomb');
    if (!external) {
      // 400 MP decoded would take ~1.2 GB: the server's peak RSS stays far below
      const peak = await hwm();
      assert.ok(peak < 300 * 1024, `peak RSS ${peak} kB`);
      assert.ok(peak - peakBefore < 100 * 1024, `peak RSS grew from ${peakBefore} kB to ${peak} kB`);
    }
  });
});

describe('upload of every fixture', () => {
  let owner;
  const results = {}; // name -> {response, refused?, was/now (snapshots), error?, media, delta, http, files, exif, pil}

  before(async () => {
    owner = await signup(url, uniqueName('fix'));
    for (const name of Object.keys(ACCEPTED)) {
      const res = {};
      results[name] = res;
      try {
        const was = await snapshot(owner.token);
        const r = await upload(owner.token, name);
        res.response = r;
        if (r.status !== 200) {
          res.refused = true;
          res.was = was;
          res.now = await snapshot(owner.token);
          continue;
        }
        const m = r.body.data;
        res.media = m;
        const now = await snapshot(owner.token);
        res.delta = { media: now.media - was.media, recent: now.recent.length - was.recent.length,
          files: external ? null : now.files.length - was.files.length };
        res.files = {};
        res.http = {};
        for (const kind of RENDITIONS) {
          const f = await fetchBytes(m.images[kind].url);
          res.http[kind] = f;
          const file = path.join(work, `${name}.${kind}.jpg`);
          await writeFile(file, f.bytes);
          res.files[kind] = file;
        }
      } catch (e) {
        res.error = e;
      }
    }
    // one exiftool and one Pillow run for all of them
    const done = Object.entries(results).filter(([, r]) => r.files);
    const files = done.flatMap(([, r]) => RENDITIONS.map((k) => r.files[k]));
    try {
      const [ex, pil] = await Promise.all([
        files.length ? exif(files) : [],
        analyze(done.map(([name, r]) => ({ source: path.join(photosDir, name), renditions: r.files }))),
      ]);
      done.forEach(([, r], i) => {
        r.pil = pil[i];
        r.exif = Object.fromEntries(RENDITIONS.map((k, j) => [k, ex[i * 4 + j]]));
      });
    } catch (e) {
      for (const [, r] of done) r.error = e;
    }
  });

  /** The checks every accepted photo gets. */
  function checkAccepted(name) {
    const res = results[name];
    if (res.error) throw res.error;
    assert.equal(res.response.status, 200, `${name}: ${show(res.response)}`);
    const m = assertMedia(res.media, { owner: owner.user, caption: null, location: null, tags: [] });
    assert.deepEqual(res.delta.media, 1, 'counts.media went up by one');
    assert.deepEqual(res.delta.recent, 1, 'the recent list grew by one');
    if (!external) assert.equal(res.delta.files, 4, 'four rendition files were stored');

    const src = res.pil.source;
    const want = ACCEPTED[name].size;
    if (want) assert.deepEqual([src.width, src.height], want, `${name} is ${want.join('x')} upright (Pillow)`);
    for (const kind of RENDITIONS) {
      const { width, height } = m.images[kind];
      const [ew, eh, tol] = expectedSize(kind, src.width, src.height);
      assert.equal(width, ew, `${name} ${kind} width`);
      assert.ok(Math.abs(height - eh) <= tol, `${name} ${kind} height ${height}, expected ${eh}`);

      // served as a JPEG, with the right length
      const h = res.http[kind];
      assert.equal(h.status, 200, `${name} ${kind} GET`);
      assert.equal(h.headers.get('content-type'), 'image/jpeg');
      assert.equal(Number(h.headers.get('content-length')), h.bytes.length);
      assert.ok(h.bytes[0] === 0xff && h.bytes[1] === 0xd8, 'starts with a JPEG SOI');
      assert.ok(h.bytes.at(-2) === 0xff && h.bytes.at(-1) === 0xd9, 'ends with a JPEG EOI');

      // the file is what the JSON says
      const p = res.pil.renditions[kind];
      assert.equal(p.error, undefined, `${name} ${kind}: Pillow cannot read it`);
      assert.equal(p.format, 'JPEG', `${name} ${kind} format`);
      assert.deepEqual([p.width, p.height], [width, height], `${name} ${kind}: file size (Pillow) = JSON`);
      const x = res.exif[kind];
      assert.equal(x['Composite:ImageSize'], `${width} ${height}`, `${name} ${kind}: exiftool ImageSize = JSON`);
      // sRGB: three channels (no grey, no CMYK)
      assert.equal(p.mode, 'RGB', `${name} ${kind} is 3-channel RGB`);
      assert.equal(x['File:ColorComponents'], 3, `${name} ${kind} has 3 colour components`);

      // no metadata at all
      const groups = new Set(Object.keys(x).filter((k) => k.includes(':')).map((k) => k.split(':')[0]));
      const extra = [...groups].filter((g) => !METADATA_GROUPS_ALLOWED.has(g));
      assert.deepEqual(extra, [], `${name} ${kind} carries metadata groups ${extra} (${JSON.stringify(x)})`);
      const bad = Object.keys(x).filter((k) => /GPS|Comment|XMP|ICC|Exif|IPTC|Orientation/i.test(k.split(':')[1] ?? '')
        && k !== 'ExifTool:ExifToolVersion');
      assert.deepEqual(bad, [], `${name} ${kind} carries ${bad}`);
      assert.equal(p.has_exif, false, `${name} ${kind}: Pillow finds EXIF`);
      const keys = p.info_keys.filter((k) => /exif|icc|comment|xmp|photoshop|adobe/i.test(k));
      assert.deepEqual(keys, [], `${name} ${kind}: Pillow finds ${keys}`);
    }
    return { m, src, pil: res.pil.renditions, exif: res.exif };
  }

  /** The rendition looks like the source (upright, same content, centre-cropped thumbnail). */
  function checkPixels(name, pil, limit = 12) {
    for (const kind of RENDITIONS) {
      const p = pil[kind];
      assert.ok(p.ref_diff < limit, `${name} ${kind} differs from the source by ${p.ref_diff.toFixed(1)} (limit ${limit})`);
      if (p.off_diff !== undefined) {
        assert.ok(p.off_diff > 2 * p.ref_diff, `${name} ${kind} is a centre crop: centre ${p.ref_diff.toFixed(1)}, start ${p.off_diff.toFixed(1)}`);
      }
    }
  }

  /** Handles the fixtures the README lets the server refuse; true if it refused (and that was right). */
  async function refusedClearly(name) {
    const res = results[name];
    if (res.error) throw res.error;
    if (!res.refused) return false;
    assert.ok(ACCEPTED[name].optional, `${name} must be accepted: ${show(res.response)}`);
    assertV1Error(res.response, 400, 'APIInvalidParametersError');
    assertSameSnapshot(res.now, res.was, `refusing ${name}`);
    return true;
  }

  it('landscape.jpg: accepted, scaled, GPS and all EXIF gone', async () => {
    // the fixture does carry GPS and camera EXIF, so the check means something
    const [srcExif] = await exif([path.join(photosDir, 'landscape.jpg')]);
    assert.ok(Object.keys(srcExif).some((k) => k.startsWith('EXIF:GPS')), 'the fixture has GPS');
    const { m, pil } = checkAccepted('landscape.jpg');
    assert.deepEqual([m.images.high_resolution.width, m.images.high_resolution.height], [1080, 720]);
    checkPixels('landscape.jpg', pil);
  });

  it('portrait-exif-orientation-6.jpg: upright portrait, arrow up, no EXIF', async () => {
    const { m, pil } = checkAccepted('portrait-exif-orientation-6.jpg');
    for (const kind of RENDITIONS.slice(1)) {
      assert.ok(m.images[kind].height > m.images[kind].width, `${kind} is portrait`);
    }
    assert.deepEqual([m.images.high_resolution.width, m.images.high_resolution.height], [900, 1200], 'not upscaled');
    for (const kind of RENDITIONS.slice(1)) {
      const p = pil[kind];
      // The white arrow: a triangle in the top part, horizontally centred,
      // narrow at its top and wide at its bottom once the photo is upright.
      const w = p.white;
      assert.ok(w && w.count > 0.003 * p.width * p.height, `${kind}: the white arrow is there (${JSON.stringify(w)})`);
      assert.ok(w.cx > 0.4 && w.cx < 0.6, `${kind}: the arrow is centred horizontally (${JSON.stringify(w)})`);
      assert.ok(w.cy < 0.35, `${kind}: the arrow is in the top part (${JSON.stringify(w)})`);
      assert.ok(w.bottom > 2 * w.top, `${kind}: the arrow points up (${JSON.stringify(w)})`);
      // and the whole picture matches the upright source far better than upside down
      assert.ok(p.ref_diff * 3 < p.ref_diff_180, `${kind} upright: ${p.ref_diff.toFixed(1)} vs turned ${p.ref_diff_180.toFixed(1)}`);
    }
    checkPixels('portrait-exif-orientation-6.jpg', pil);
  });

  it('square-1080.jpg: accepted at 1080, 640, 320 and 150', () => {
    const { m, pil } = checkAccepted('square-1080.jpg');
    assert.deepEqual(RENDITIONS.map((k) => [m.images[k].width, m.images[k].height]),
      [[150, 150], [320, 320], [640, 640], [1080, 1080]]);
    checkPixels('square-1080.jpg', pil);
  });

  it('progressive.jpg: accepted', () => {
    const { pil } = checkAccepted('progressive.jpg');
    checkPixels('progressive.jpg', pil);
  });

  it('cmyk.jpg: accepted as 3-channel sRGB', () => {
    const { pil } = checkAccepted('cmyk.jpg');
    // Pillow converts CMYK naively, without a profile: allow for that, but an
    // inverted or garbled conversion is far off.
    checkPixels('cmyk.jpg', pil, 40);
  });

  it('grayscale.jpg: accepted as 3-channel sRGB, still grey', () => {
    const { pil } = checkAccepted('grayscale.jpg');
    for (const kind of RENDITIONS) assert.ok(pil[kind].rgb_spread <= 8, `${kind} R=G=B (spread ${pil[kind].rgb_spread})`);
    checkPixels('grayscale.jpg', pil);
  });

  it('alpha.png: transparency flattened onto white', () => {
    const { pil } = checkAccepted('alpha.png');
    for (const kind of RENDITIONS) {
      for (const c of pil[kind].corners) assert.ok(c.every((v) => v >= 245), `${kind} corner ${c} is white`);
      assert.ok(pil[kind].centre.some((v) => v < 200), `${kind} centre ${pil[kind].centre} kept the opaque colour`);
    }
    checkPixels('alpha.png', pil);
  });

  it('photo.webp: accepted', () => {
    const { pil } = checkAccepted('photo.webp');
    checkPixels('photo.webp', pil);
  });

  it('animated.gif: accepted as its first frame, or refused with a clear 400', async () => {
    if (await refusedClearly('animated.gif')) return;
    const { pil } = checkAccepted('animated.gif');
    checkPixels('animated.gif', pil, 16);
  });

  it('panorama-8x1.jpg: accepted with a 150x150 centre-crop thumbnail (or a clear 400)', async () => {
    if (await refusedClearly('panorama-8x1.jpg')) return;
    const { m, pil } = checkAccepted('panorama-8x1.jpg');
    assert.deepEqual([m.images.thumbnail.width, m.images.thumbnail.height], [150, 150]);
    assert.ok(pil.thumbnail.off_diff !== undefined);
    checkPixels('panorama-8x1.jpg', pil);
  });

  it('tiny-1x1.jpg: accepted with 1x1 renditions, or refused with a clear 400', async () => {
    if (await refusedClearly('tiny-1x1.jpg')) return;
    const { m } = checkAccepted('tiny-1x1.jpg');
    for (const k of RENDITIONS) assert.deepEqual([m.images[k].width, m.images[k].height], [1, 1], k);
  });

  for (const [name, what] of [['truncated.jpg', 'truncated'], ['not-an-image.jpg', 'not an image'], ['empty.jpg', 'empty']]) {
    it(`refuses ${name} (${what}) with a 400, storing nothing`, async () => {
      const was = await snapshot(owner.token);
      for (const type of ['image/jpeg', 'application/octet-stream']) {
        const r = await upload(owner.token, name, { caption: 'refused #nope' }, { type });
        assertV1Error(r, 400, 'APIInvalidParametersError');
      }
      await assertNothingStored(owner.token, was, name);
    });
  }

  it('rendition URLs, links and ids are distinct per upload', () => {
    const ok = Object.values(results).filter((r) => r.media);
    const ids = ok.map((r) => r.media.id);
    const links = ok.map((r) => r.media.link);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(new Set(links).size, links.length);
    const urls = ok.flatMap((r) => RENDITIONS.map((k) => r.media.images[k].url));
    assert.equal(new Set(urls).size, urls.length);
  });
});

// --- captions, locations, filters, tokens --------------------------------------------------

describe('upload fields', () => {
  let owner;
  before(async () => {
    owner = await signup(url, uniqueName('fld'), 'password123', { full_name: 'Field Tester' });
  });

  it('parses hashtags from the caption: lower-cased, Unicode, without mentions', async () => {
    const caption = 'Sunset at the #Beach with @Friend and @other_one #café #ТЕСТ #beach, then #Snow_Day ' +
      'mail me@example.com #Café';
    const m = assertMedia(await uploadOk(owner.token, nextSmall(), { caption }), {
      owner: owner.user, caption, location: null, tags: ['beach', 'café', 'тест', 'snow_day'],
    });
    assert.ok(!m.tags.some((t) => /friend|other_one|example/i.test(t)), `mentions are not tags: ${m.tags}`);
    assert.equal(m.caption.from.id, owner.user.id);
    // the stored caption reads back the same
    const g = assertOk(await api(url, 'GET', `/v1/media/${m.id}`, { token: owner.token }));
    assert.equal(g.caption.text, caption);
    assert.deepEqual(g.tags, m.tags);
  });

  it('has a null caption and no tags without a caption', async () => {
    assertMedia(await uploadOk(owner.token), { owner: owner.user, caption: null, tags: [], location: null });
  });

  it('keeps a caption of exactly 2200 multi-byte characters', async () => {
    const caption = ('é ' + 'ж'.repeat(98)).repeat(22);
    assert.equal([...caption].length, 2200);
    assertMedia(await uploadOk(owner.token, nextSmall(), { caption }), { owner: owner.user, caption });
  });

  it('keeps newlines in captions (LF, and the CRLF that browsers and FormData send)', async () => {
    // bare LF, in a hand-built body
    const lf = 'first line #one\nsecond line #two';
    const body = multipart([{ name: 'photo', filename: 'a.jpg', type: 'image/jpeg', data: await readFile(nextSmall()) },
      { name: 'caption', value: lf }]);
    const r = await api(url, 'POST', '/v1/media/upload', { token: owner.token, headers: { 'content-type': body.type }, body: body.data });
    assertMedia(assertOk(r), { owner: owner.user, caption: lf, tags: ['one', 'two'] });
    // FormData (like an HTML form) turns every line break into CRLF on the
    // wire: a caption typed with line breaks must still be accepted. Stored
    // as sent or normalised to LF, it keeps its lines.
    const typed = 'first line #three\nsecond line #four\n\nlast';
    const m = await uploadOk(owner.token, nextSmall(), { caption: typed });
    assertMedia(m, { owner: owner.user, tags: ['three', 'four'] });
    assert.equal(m.caption.text.replace(/\r\n/g, '\n'), typed);
  });

  it('stores a location with lat, lng and location_name', async () => {
    const m = await uploadOk(owner.token, nextSmall(), { lat: '37.7749', lng: '-122.4194', location_name: 'San Francisco' });
    assertMedia(m, { owner: owner.user, location: { name: 'San Francisco', latitude: 37.7749, longitude: -122.4194 } });
    const edge = await uploadOk(owner.token, nextSmall(), { lat: '-90', lng: '180', location_name: 'ü'.repeat(100) });
    assertMedia(edge, { owner: owner.user, location: { name: 'ü'.repeat(100), latitude: -90, longitude: 180 } });
    const noName = await uploadOk(owner.token, nextSmall(), { lat: '90', lng: '-180' });
    assertMedia(noName, { owner: owner.user, location: { latitude: 90, longitude: -180 } });
  });

  it('stores the filter, "Normal" by default', async () => {
    assertMedia(await uploadOk(owner.token, nextSmall(), { filter: 'Valencia' }), { owner: owner.user, filter: 'Valencia' });
    assertMedia(await uploadOk(owner.token, nextSmall(), { filter: 'F'.repeat(40) }), { owner: owner.user, filter: 'F'.repeat(40) });
    // 40 characters of three bytes each: whole, never cut inside a character
    assertMedia(await uploadOk(owner.token, nextSmall(), { filter: '€'.repeat(40) }), { owner: owner.user, filter: '€'.repeat(40) });
    assertMedia(await uploadOk(owner.token, nextSmall(), { filter: 'X' }), { owner: owner.user, filter: 'X' });
    assertMedia(await uploadOk(owner.token), { owner: owner.user, filter: 'Normal' });
  });

  it('takes the token from the query, a Bearer header or an access_token field (before or after the photo)', async () => {
    const before = (await self(owner.token)).counts.media;
    for (const tokenIn of ['query', 'bearer', 'field']) {
      const r = await uploadPhoto(url, { token: owner.token, tokenIn, photo: nextSmall(), fields: { caption: tokenIn } });
      assertMedia(assertOk(r), { owner: owner.user, caption: tokenIn });
      assertRateHeaders(r);
    }
    // the field after the file part
    const fd = new FormData();
    fd.append('photo', new Blob([await readFile(nextSmall())], { type: 'image/jpeg' }), 'x.jpg');
    fd.append('access_token', owner.token);
    const res = await fetch(`${url}/v1/media/upload`, { method: 'POST', body: fd });
    assert.equal(res.status, 200, await res.clone().text());
    assertMedia((await res.json()).data, { owner: owner.user });
    assert.equal((await self(owner.token)).counts.media, before + 4);
  });
});

// --- validation and "nothing stored" ----------------------------------------------------

describe('upload validation stores nothing', () => {
  let owner;
  let was;
  before(async () => {
    owner = await signup(url, uniqueName('val'));
    await uploadOk(owner.token); // one existing photo, so "unchanged" is not just "empty"
    was = await snapshot(owner.token);
  });

  const jpeg = () => readFile(small[0]);

  it('answers 400 APIInvalidParametersError without a photo or without multipart', async () => {
    const cases = [
      ['multipart without a photo', () => uploadPhoto(url, { token: owner.token, fields: { caption: 'no photo' } })],
      ['the photo as a text field', async () => {
        const fd = new FormData();
        fd.append('photo', 'not a file');
        return fetchApi('POST', '/v1/media/upload', { token: owner.token, body: fd });
      }],
      ['a file field of another name', async () => {
        const fd = new FormData();
        fd.append('image', new Blob([await jpeg()], { type: 'image/jpeg' }), 'a.jpg');
        return fetchApi('POST', '/v1/media/upload', { token: owner.token, body: fd });
      }],
      ['form-urlencoded', () => api(url, 'POST', '/v1/media/upload', { token: owner.token, form: { caption: 'x', photo: 'abc' } })],
      ['JSON', () => api(url, 'POST', '/v1/media/upload', { token: owner.token, json: { caption: 'x' } })],
      ['no body', () => api(url, 'POST', '/v1/media/upload', { token: owner.token })],
      ['raw JPEG bytes', async () => api(url, 'POST', '/v1/media/upload', {
        token: owner.token, headers: { 'content-type': 'multipart/form-data; boundary=zzz' }, body: await jpeg(),
      })],
    ];
    for (const [what, f] of cases) {
      const r = await f();
      assertV1Error(r, 400, 'APIInvalidParametersError');
      await assertNothingStored(owner.token, was, what);
    }
  });

  it('answers 400 for bad captions, locations and filters', async () => {
    const bad = [
      { caption: 'a'.repeat(2201) },
      { caption: 'é'.repeat(2201) },
      { lat: '37.5' },
      { lng: '-122.1' },
      { lat: '91', lng: '0' },
      { lat: '-90.0001', lng: '0' },
      { lat: '0', lng: '180.5' },
      { lat: '0', lng: '-181' },
      { lat: 'abc', lng: '1' },
      { lat: '1', lng: '' },
      { lat: 'nan', lng: '1' },
      { lat: 'inf', lng: '1' },
      { lat: '1', lng: '2x' },
      { location_name: 'Nowhere' },
      { lat: '1', lng: '2', location_name: 'x'.repeat(101) },
      { filter: '' },
      { filter: 'f'.repeat(41) },
    ];
    for (const fields of bad) {
      const r = await upload(owner.token, small[1], { caption: 'valid #tag', ...fields });
      assertV1Error(r, 400, 'APIInvalidParametersError');
      await assertNothingStored(owner.token, was, JSON.stringify(fields).slice(0, 80));
    }
  });

  it('refuses uploads without a valid token', async () => {
    const none = await uploadPhoto(url, { photo: small[2] });
    assertV1Error(none, 400, 'OAuthParameterException');
    const badTok = await uploadPhoto(url, { photo: small[2], token: `${owner.user.id}.not-a-real-token` });
    assertV1Error(badTok, 400, 'OAuthAccessTokenException');
    await assertNothingStored(owner.token, was, 'unauthenticated uploads');
  });

  it('stores nothing for a multipart body cut short or without its closing boundary', async () => {
    const photo = await readFile(benchPhoto(6));
    const whole = multipart([{ name: 'photo', filename: 'a.jpg', type: 'image/jpeg', data: photo }, { name: 'caption', value: 'cut #short' }]);
    const head = (len) => `POST /v1/media/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${owner.token}\r\n` +
      `Content-Type: ${whole.type}\r\nContent-Length: ${len}\r\n\r\n`;
    // the client goes away half-way through the body
    const cut = await rawRequest(url, Buffer.concat([Buffer.from(head(whole.data.length)), whole.data.subarray(0, whole.data.length >> 1)]),
      { timeout: 300 });
    assert.ok(cut.status === null || cut.status >= 400, `a half-sent upload was answered ${cut.raw.slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 100));
    await assertNothingStored(owner.token, was, 'an upload the client abandoned');
    // a complete request whose multipart body lacks the closing boundary
    const open = whole.data.subarray(0, whole.data.lastIndexOf(Buffer.from('\r\n--')));
    const r = await rawRequest(url, Buffer.concat([Buffer.from(head(open.length)), open]));
    assert.equal(r.status, 400, r.raw.slice(0, 300));
    assert.equal(r.body?.meta?.error_type, 'APIInvalidParametersError');
    await assertNothingStored(owner.token, was, 'an unterminated multipart body');
  });

  it('answers 413 for an upload over --max-upload', async (t) => {
    if (external) return t.skip('needs --max-upload 1m');
    // Only the headers: the answer comes from Content-Length alone (sending
    // the body too races the server's close).
    const r = await rawRequest(url, `POST /v1/media/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${owner.token}\r\n` +
      `Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: ${2 << 20}\r\n\r\n--b0undary\r\n`);
    assert.equal(r.status, 413, r.raw.slice(0, 300));
    assert.match(r.headers['content-type'] || '', /^application\/json/);
    assert.equal(r.body?.meta?.code, 413);
    // a whole over-size body, sent: 413 or the connection closed on it, never a photo
    const big = Buffer.alloc((1 << 20) + 4096, 0x41);
    const r2 = await upload(owner.token, Buffer.concat([await jpeg(), big]), {}, { type: 'image/jpeg' }).catch((e) => e);
    if (!(r2 instanceof Error)) assertV1Error(r2, 413);
    await assertNothingStored(owner.token, was, 'the 413s');
  });

  async function fetchApi(method, p, { token, body }) {
    const res = await fetch(url + p, { method, headers: token ? { authorization: `Bearer ${token}` } : {}, body });
    const text = await res.text();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }
});

// --- serving the renditions --------------------------------------------------------------

describe('rendition files', () => {
  let owner;
  let media;
  before(async () => {
    owner = await signup(url, uniqueName('srv'));
    media = await uploadOk(owner.token, 'square-1080.jpg');
  });

  it('serves each rendition with long-lived caching, an ETag, 304s and HEAD', async () => {
    for (const kind of RENDITIONS) {
      const u = local(media.images[kind].url);
      const g = await fetch(u);
      const body = Buffer.from(await g.arrayBuffer());
      assert.equal(g.status, 200, `${kind}`);
      assert.equal(g.headers.get('content-type'), 'image/jpeg');
      assert.equal(Number(g.headers.get('content-length')), body.length);
      assert.equal(g.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      const etag = g.headers.get('etag');
      assert.ok(etag && /^(W\/)?"[^"]+"$/.test(etag), `etag ${etag}`);

      const h = await fetch(u, { method: 'HEAD' });
      assert.equal(h.status, 200);
      assert.equal(h.headers.get('content-type'), 'image/jpeg');
      assert.equal(h.headers.get('content-length'), g.headers.get('content-length'));
      assert.equal(h.headers.get('etag'), etag);
      assert.equal((await h.arrayBuffer()).byteLength, 0);

      const nm = await fetch(u, { headers: { 'if-none-match': etag } });
      assert.equal(nm.status, 304, `${kind} If-None-Match`);
      assert.equal((await nm.arrayBuffer()).byteLength, 0);
      assert.equal(nm.headers.get('etag'), etag);

      const other = await fetch(u, { headers: { 'if-none-match': '"not-this-one"' } });
      assert.equal(other.status, 200);
      assert.deepEqual(Buffer.from(await other.arrayBuffer()), body);
    }
  });

  // h2o 2.2's file handler compares If-None-Match with its ETag as one
  // string: the exact ETag gives 304; a weak tag, a list or * get the full
  // 200 (correct, only a missed cache hit). README lists this limitation.
  it('answers 304 to its exact ETag and never a wrong answer to other If-None-Match forms', async () => {
    const u = local(media.images.standard_resolution.url);
    const g = await fetch(u);
    const body = Buffer.from(await g.arrayBuffer());
    const etag = g.headers.get('etag');
    const strong = etag.replace(/^W\//, '');
    const exact = await fetch(u, { headers: { 'if-none-match': etag } });
    await exact.arrayBuffer();
    assert.equal(exact.status, 304);
    for (const inm of [`W/${strong}`, `"not-this-one", ${etag}`, `${etag}, "another"`, '*']) {
      const r = await fetch(u, { headers: { 'if-none-match': inm } });
      const b = Buffer.from(await r.arrayBuffer());
      assert.ok(r.status === 304 || (r.status === 200 && b.equals(body)), `If-None-Match: ${inm} -> ${r.status}`);
    }
    const other = await fetch(u, { headers: { 'if-none-match': '"not-this-one"' } });
    assert.equal(other.status, 200);
    assert.ok(Buffer.from(await other.arrayBuffer()).equals(body));
  });

  // h2o 2.2 answered 2,000 overlapping ranges with 2,000 parts (92 MB for
  // a 45 KB file) and wrapped 2^64 to 0 (1 byte): one range is served,
  // anything else gets the whole file (RFC 7233 lets a server ignore Range)
  it('serves one byte range, and the whole file for many ranges or numbers past 64 bits', async () => {
    const u = local(media.images.standard_resolution.url);
    const whole = Buffer.from(await (await fetch(u)).arrayBuffer());
    assert.ok(whole.length > 100);
    const ranged = async (range) => {
      const r = await fetch(u, { headers: { range } });
      return { status: r.status, body: Buffer.from(await r.arrayBuffer()), cr: r.headers.get('content-range') };
    };
    let r = await ranged('bytes=0-9');
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(whole.subarray(0, 10)));
    assert.equal(r.cr, `bytes 0-9/${whole.length}`);
    r = await ranged('bytes=-5');
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(whole.subarray(whole.length - 5)));
    r = await ranged(`bytes=10-${whole.length * 10}`); // past the end: up to the end
    assert.equal(r.status, 206);
    assert.ok(r.body.equals(whole.subarray(10)));
    const many = Array.from({ length: 500 }, () => '0-').join(',');
    for (const range of [`bytes=${many}`, 'bytes=0-1,1-2']) {
      r = await ranged(range);
      assert.equal(r.status, 200, `Range: ${range.slice(0, 40)} -> ${r.status}`);
      assert.ok(r.body.equals(whole), `Range: ${range.slice(0, 40)}: the whole file, once (${r.body.length} bytes)`);
    }
    // a number past 64 bits, or a malformed range: the whole file (picogram),
    // or 416 and no part of it (nginx in front of an S3 store), never a wrong part
    for (const range of ['bytes=0-18446744073709551616', 'bytes=18446744073709551617-', 'bytes=5-4', 'bytes=x']) {
      r = await ranged(range);
      assert.ok(r.status === 200 || r.status === 416, `Range: ${range} -> ${r.status}`);
      if (r.status === 200) assert.ok(r.body.equals(whole), `Range: ${range}: the whole file (${r.body.length} bytes)`);
      else assert.ok(r.body.length < 1000 && !r.body.includes(whole.subarray(0, 16)), `Range: ${range}: no bytes of the file`);
    }
  });

  it('answers 404 for files that do not exist', async () => {
    const p = new URL(media.images.thumbnail.url).pathname;
    for (const q of [p.replace(/(\d+)(_\w+\.jpe?g)$/, (_, id, rest) => String(BigInt(id) + 1n) + rest), '/media/nope.jpg',
      '/media/', p + '.tmp.00000000']) {
      const r = await fetch(url + q);
      await r.arrayBuffer();
      assert.equal(r.status, 404, q);
    }
  });

  it('cannot be used to read files outside the photo store', async () => {
    const paths = [
      '/media/../picogram.db', '/media/../../picogram.db', '/media/../../../picogram.db',
      '/media/%2e%2e/picogram.db', '/media/%2e%2e/%2e%2e/picogram.db', '/media/..%2fpicogram.db',
      '/media/..%2f..%2fpicogram.db', '/media/..%5c..%5cpicogram.db', '/media/%2e%2e%2f%2e%2e%2fpicogram.db',
      '/media/x/../../picogram.db', '/media/x/../../../picogram.db', '/media//etc/passwd', '/media/%2fetc%2fpasswd',
      '/media/../../../../../../../../etc/passwd', '/media/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/media/....//....//picogram.db', '/media/.%2e/.%2e/picogram.db', '/media/..;/picogram.db',
    ];
    for (const p of paths) {
      const r = await rawRequest(url, `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.ok(r.status !== null, `${p}: no answer`);
      assert.ok(!r.text.includes('SQLite format 3'), `${p} served the database: ${r.raw.slice(0, 200)}`);
      assert.ok(!/root:[^:]*:0:0:/.test(r.text), `${p} served /etc/passwd`);
      assert.notEqual(r.status, 200, `${p}: ${r.raw.slice(0, 200)}`);
    }
  });
});

// --- media by id and shortcode, delete, private ------------------------------------------

describe('GET /v1/media/{id} and /v1/media/shortcode/{code}', () => {
  let a;
  let b;
  let m;
  before(async () => {
    a = await signup(url, uniqueName('ida'));
    b = await signup(url, uniqueName('idb'));
    m = await uploadOk(a.token, nextSmall(), { caption: 'by id #one', lat: '1.5', lng: '2.5', location_name: 'Here' });
  });

  it('finds media by "MEDIAID_OWNERID", by the bare MEDIAID and with .json', async () => {
    const [mediaId] = m.id.split('_');
    for (const id of [m.id, mediaId, `${m.id}.json`, `${mediaId}.json`]) {
      for (const who of [a, b]) {
        const g = assertOk(await api(url, 'GET', `/v1/media/${id}`, { token: who.token }));
        assert.deepEqual(g, m, `GET /v1/media/${id} is the upload's answer`);
      }
    }
  });

  it('answers 404 for a wrong owner id or an unknown media', async () => {
    const [mediaId] = m.id.split('_');
    for (const id of [`${mediaId}_${b.user.id}`, `${mediaId}_1`, `${BigInt(mediaId) + 1n}`, `${BigInt(mediaId) + 1n}_${a.user.id}`,
      '1', '0', 'abc', `${mediaId}_`, `_${a.user.id}`]) {
      assertV1Error(await api(url, 'GET', `/v1/media/${id}`, { token: a.token }), 404, 'APINotFoundError');
    }
  });

  it('finds media by the shortcode of its link', async () => {
    const code = /\/p\/([^/]+)\/$/.exec(m.link)[1];
    assert.deepEqual(assertOk(await api(url, 'GET', `/v1/media/shortcode/${code}`, { token: b.token })), m);
    const other = code.slice(0, -1) + (code.endsWith('A') ? 'B' : 'A');
    assertV1Error(await api(url, 'GET', `/v1/media/shortcode/${other}`, { token: a.token }), 404, 'APINotFoundError');
    assertV1Error(await api(url, 'GET', '/v1/media/shortcode/zzzzzzzzzzzzzzzzzzzz', { token: a.token }), 404, 'APINotFoundError');
  });

  it('needs a token', async () => {
    assertV1Error(await api(url, 'GET', `/v1/media/${m.id}`), 400, 'OAuthParameterException');
  });
});

describe('DELETE /v1/media/{id}', () => {
  let a;
  let b;
  before(async () => {
    a = await signup(url, uniqueName('dela'));
    b = await signup(url, uniqueName('delb'));
  });

  it('refuses other users with APINotAllowedError and changes nothing', async () => {
    const m = await uploadOk(a.token);
    const was = await snapshot(a.token);
    assertV1Error(await api(url, 'DELETE', `/v1/media/${m.id}`, { token: b.token }), 400, 'APINotAllowedError');
    assertV1Error(await api(url, 'POST', `/v1/media/${m.id}`, { token: b.token, form: { _method: 'DELETE' } }), 400, 'APINotAllowedError');
    assertV1Error(await api(url, 'DELETE', `/v1/media/${m.id.split('_')[0]}`, { token: b.token }), 400, 'APINotAllowedError');
    assertV1Error(await api(url, 'DELETE', `/v1/media/${m.id}`), 400, 'OAuthParameterException');
    await assertNothingStored(a.token, was, 'refused deletes');
    assert.deepEqual(assertOk(await api(url, 'GET', `/v1/media/${m.id}`, { token: b.token })), m);
    for (const k of RENDITIONS) assert.equal((await fetchBytes(m.images[k].url)).status, 200);
  });

  for (const how of ['DELETE', 'DELETE with the bare id', 'POST _method=DELETE']) {
    it(`deletes the owner's media (${how}): gone from GET, files, lists and counts`, async () => {
      const keep = await uploadOk(a.token);
      const m = await uploadOk(a.token);
      const was = await snapshot(a.token);
      let r;
      if (how === 'DELETE') r = await api(url, 'DELETE', `/v1/media/${m.id}`, { token: a.token });
      else if (how === 'DELETE with the bare id') r = await api(url, 'DELETE', `/v1/media/${m.id.split('_')[0]}`, { token: a.token });
      else r = await api(url, 'POST', `/v1/media/${m.id}`, { form: { _method: 'DELETE', access_token: a.token } });
      assert.equal(assertOk(r), null);
      assertV1Error(await api(url, 'GET', `/v1/media/${m.id}`, { token: a.token }), 404, 'APINotFoundError');
      assertV1Error(await api(url, 'GET', `/v1/media/${m.id.split('_')[0]}`, { token: b.token }), 404, 'APINotFoundError');
      const code = /\/p\/([^/]+)\/$/.exec(m.link)[1];
      assertV1Error(await api(url, 'GET', `/v1/media/shortcode/${code}`, { token: a.token }), 404, 'APINotFoundError');
      for (const k of RENDITIONS) assert.equal((await fetchBytes(m.images[k].url)).status, 404, `${k} is gone`);
      const now = await snapshot(a.token);
      assert.equal(now.media, was.media - 1, 'counts.media went down by one');
      assert.deepEqual(now.recent, was.recent.filter((id) => id !== m.id));
      if (!external) assert.equal(now.files.length, was.files.length - 4, 'its four files are deleted');
      // again: 404
      assertV1Error(await api(url, 'DELETE', `/v1/media/${m.id}`, { token: a.token }), 404, 'APINotFoundError');
      // the other photo is untouched
      assert.deepEqual(assertOk(await api(url, 'GET', `/v1/media/${keep.id}`, { token: a.token })), keep);
      for (const k of RENDITIONS) assert.equal((await fetchBytes(keep.images[k].url)).status, 200);
    });
  }

  it('deletes once when the same delete arrives several times at once', async () => {
    const m = await uploadOk(a.token);
    const was = await snapshot(a.token);
    const rs = await Promise.all([0, 1, 2, 3].map(() => api(url, 'DELETE', `/v1/media/${m.id}`, { token: a.token })));
    assert.deepEqual(rs.map((r) => r.status).sort(), [200, 404, 404, 404], rs.map(show).join('\n'));
    const now = await snapshot(a.token);
    assert.equal(now.media, was.media - 1, 'counts.media went down by exactly one');
    assert.deepEqual(now.recent, was.recent.filter((id) => id !== m.id));
    if (!external) assert.equal(now.files.length, was.files.length - 4);
  });

  it('answers 404 for unknown media', async () => {
    assertV1Error(await api(url, 'DELETE', '/v1/media/12345_67890', { token: a.token }), 404, 'APINotFoundError');
  });
});

describe('private accounts', () => {
  let owner;
  let other;
  let m;
  before(async () => {
    owner = await signup(url, uniqueName('priv'));
    other = await signup(url, uniqueName('peek'));
    m = await uploadOk(owner.token, nextSmall(), { caption: 'secret #private' });
    assertOk(await api(url, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'true' } }));
  });

  it('hides the media and the recent list from other users', async () => {
    const code = /\/p\/([^/]+)\/$/.exec(m.link)[1];
    for (const p of [`/v1/media/${m.id}`, `/v1/media/${m.id.split('_')[0]}`, `/v1/media/shortcode/${code}`,
      `/v1/users/${owner.user.id}/media/recent`]) {
      assertV1Error(await api(url, 'GET', p, { token: other.token }), 400, 'APINotAllowedError');
    }
  });

  it('still shows them to the owner', async () => {
    assert.deepEqual(assertOk(await api(url, 'GET', `/v1/media/${m.id}`, { token: owner.token })), m);
    const code = /\/p\/([^/]+)\/$/.exec(m.link)[1];
    assert.deepEqual(assertOk(await api(url, 'GET', `/v1/media/shortcode/${code}`, { token: owner.token })), m);
    assert.deepEqual(await recentIds(owner.token, owner.user.id), [m.id]);
    assert.deepEqual(await recentIds(owner.token), [m.id]);
  });

  it('shows them again once the account is public', async () => {
    assertOk(await api(url, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'false' } }));
    assert.deepEqual(assertOk(await api(url, 'GET', `/v1/media/${m.id}`, { token: other.token })), m);
    assert.deepEqual(await recentIds(other.token, owner.user.id), [m.id]);
  });
});

// --- the recent list ----------------------------------------------------------------------

describe('GET /v1/users/{id|self}/media/recent', () => {
  let owner;
  let viewer;
  let ids; // newest first
  let byId;

  before(async () => {
    owner = await signup(url, uniqueName('rec'));
    viewer = await signup(url, uniqueName('view'));
    const up = [];
    for (let i = 0; i < 7; i++) up.push(await uploadOk(owner.token, nextSmall(), { caption: `number ${i}` }));
    ids = up.map((m) => m.id).reverse();
    byId = new Map(up.map((m) => [m.id, m]));
  });

  /** Follows next_url from a first page; returns {ids, pages (sizes)}. */
  async function walk(first, { token, tokenInUrl = false, count } = {}) {
    const seen = [];
    const pages = [];
    let next = first;
    while (next) {
      assert.ok(pages.length < 20, 'too many pages');
      const r = await api(local(next), 'GET', '', { token: tokenInUrl ? undefined : token });
      const data = assertOk(r);
      assert.ok(Array.isArray(data));
      if (count) assert.ok(data.length <= count, `page of ${data.length} > count ${count}`);
      for (const m of data) assertMedia(m, { owner: owner.user });
      seen.push(...data.map((m) => m.id));
      pages.push(data.length);
      const p = r.body.pagination;
      if (p === undefined) break;
      assert.deepEqual(Object.keys(p).sort(), ['next_max_id', 'next_url'], `pagination ${JSON.stringify(p)}`);
      assert.equal(p.next_max_id, data.at(-1).id, 'next_max_id is the last item');
      const nu = new URL(p.next_url);
      assert.equal(nu.pathname, new URL(first).pathname, 'next_url is the same endpoint');
      assert.equal(nu.searchParams.get('max_id'), p.next_max_id, 'next_url carries max_id');
      const orig = new URL(first).searchParams;
      for (const [k, v] of orig) if (k !== 'max_id') assert.equal(nu.searchParams.get(k), v, `next_url keeps ${k}`);
      if (tokenInUrl) assert.equal(nu.searchParams.get('access_token'), token, 'next_url keeps the access_token');
      next = p.next_url;
    }
    return { ids: seen, pages };
  }

  it('walks 7 photos two at a time, newest first, each exactly once', async () => {
    const w = await walk(`${url}/v1/users/${owner.user.id}/media/recent?count=2`, { token: viewer.token, count: 2 });
    assert.deepEqual(w.ids, ids);
    assert.deepEqual(w.pages, [2, 2, 2, 1]);
    const q = await walk(`${url}/v1/users/self/media/recent?count=2&access_token=${encodeURIComponent(owner.token)}`,
      { token: owner.token, tokenInUrl: true, count: 2 });
    assert.deepEqual(q.ids, ids);
    const three = await walk(`${url}/v1/users/self/media/recent?count=3`, { token: owner.token, count: 3 });
    assert.deepEqual(three.ids, ids);
    assert.deepEqual(three.pages, [3, 3, 1]);
  });

  it('has no pagination when nothing more exists', async () => {
    for (const count of [7, 8, 100]) {
      const r = await api(url, 'GET', `/v1/users/${owner.user.id}/media/recent`, { token: viewer.token, query: { count } });
      assert.deepEqual(assertOk(r).map((m) => m.id), ids);
      assert.equal(r.body.pagination, undefined, `count=${count}`);
    }
    const six = await api(url, 'GET', '/v1/users/self/media/recent', { token: owner.token, query: { count: 6 } });
    assert.deepEqual(assertOk(six).map((m) => m.id), ids.slice(0, 6));
    assert.equal(six.body.pagination.next_max_id, ids[5]);
    // default count is 20
    const d = await api(url, 'GET', '/v1/users/self/media/recent', { token: owner.token });
    assert.deepEqual(assertOk(d).map((m) => m.id), ids);
    assert.equal(d.body.pagination, undefined);
  });

  it('lists the same media objects as GET /v1/media/{id}', async () => {
    const list = assertOk(await api(url, 'GET', '/v1/users/self/media/recent', { token: owner.token }));
    for (const m of list) assert.deepEqual(m, byId.get(m.id));
  });

  it('honours max_id and min_id as exclusive bounds, in either id form', async () => {
    const get = async (query) => assertOk(await api(url, 'GET', `/v1/users/${owner.user.id}/media/recent`,
      { token: viewer.token, query })).map((m) => m.id);
    const bare = (id) => id.split('_')[0];
    for (const f of [(x) => x, bare]) {
      assert.deepEqual(await get({ max_id: f(ids[2]) }), ids.slice(3));
      assert.deepEqual(await get({ min_id: f(ids[4]) }), ids.slice(0, 4));
      assert.deepEqual(await get({ min_id: f(ids[5]), max_id: f(ids[1]) }), ids.slice(2, 5));
      assert.deepEqual(await get({ max_id: f(ids[0]) }), ids.slice(1));
      assert.deepEqual(await get({ min_id: f(ids[0]) }), []);
      assert.deepEqual(await get({ max_id: f(ids[6]) }), []);
      assert.deepEqual(await get({ min_id: f(ids[6]), count: 2 }), ids.slice(0, 2));
    }
    // pages within min_id
    const w = await walk(`${url}/v1/users/${owner.user.id}/media/recent?count=2&min_id=${ids[5]}`, { token: viewer.token, count: 2 });
    assert.deepEqual(w.ids, ids.slice(0, 5));
  });

  it('honours min_timestamp and max_timestamp (inclusive unix seconds)', async () => {
    const times = ids.map((id) => Number(byId.get(id).created_time));
    const get = async (query) => assertOk(await api(url, 'GET', '/v1/users/self/media/recent',
      { token: owner.token, query })).map((m) => m.id);
    const t = times[3];
    assert.deepEqual(await get({ min_timestamp: t }), ids.filter((_, i) => times[i] >= t));
    assert.deepEqual(await get({ max_timestamp: t }), ids.filter((_, i) => times[i] <= t));
    assert.deepEqual(await get({ min_timestamp: t, max_timestamp: t }), ids.filter((_, i) => times[i] === t));
    assert.deepEqual(await get({ min_timestamp: Math.max(...times) + 1 }), []);
    assert.deepEqual(await get({ max_timestamp: Math.min(...times) - 1 }), []);
    assert.deepEqual(await get({ min_timestamp: Math.min(...times), max_timestamp: Math.max(...times) }), ids);
    const w = await walk(`${url}/v1/users/self/media/recent?count=2&min_timestamp=${Math.min(...times)}`,
      { token: owner.token, count: 2 });
    assert.deepEqual(w.ids, ids);
  });

  it('answers 400 for bad count, ids and timestamps', async () => {
    const bad = [
      { count: 0 }, { count: 101 }, { count: -1 }, { count: 'abc' }, { count: '2.5' }, { count: '1e1' },
      { max_id: 'abc' }, { min_id: 'abc' }, { max_id: '12_abc' }, { min_id: 'x_y' }, { max_id: '-5' },
      { min_timestamp: 'abc' }, { max_timestamp: 'yesterday' }, { min_timestamp: '1.5' }, { max_timestamp: '12abc' },
    ];
    for (const query of bad) {
      const r = await api(url, 'GET', '/v1/users/self/media/recent', { token: owner.token, query });
      assertV1Error(r, 400, 'APIInvalidParametersError');
    }
    for (const count of [1, 100]) {
      const r = await api(url, 'GET', '/v1/users/self/media/recent', { token: owner.token, query: { count } });
      assert.equal(assertOk(r).length, Math.min(count, 7));
    }
  });

  it('answers 404 for unknown users and needs a token', async () => {
    assertV1Error(await api(url, 'GET', `/v1/users/${BigInt(owner.user.id) + 99n}/media/recent`, { token: viewer.token }),
      404, 'APINotFoundError');
    assertV1Error(await api(url, 'GET', '/v1/users/self/media/recent'), 400, 'OAuthParameterException');
  });

  it('keeps a walk exact when the item its cursor names is deleted mid-walk', async () => {
    const o = await signup(url, uniqueName('walk'));
    const up = [];
    for (let i = 0; i < 6; i++) up.push((await uploadOk(o.token)).id);
    const all = up.reverse(); // newest first
    const first = await api(url, 'GET', '/v1/users/self/media/recent', { token: o.token, query: { count: 2 } });
    assert.deepEqual(assertOk(first).map((m) => m.id), all.slice(0, 2));
    // the cursor's own item goes away before the next page is asked for
    assert.equal(first.body.pagination.next_max_id, all[1]);
    assertOk(await api(url, 'DELETE', `/v1/media/${all[1]}`, { token: o.token }));
    const seen = assertOk(first).map((m) => m.id);
    let next = first.body.pagination.next_url;
    while (next) {
      const r = await api(local(next), 'GET', '', { token: o.token });
      seen.push(...assertOk(r).map((m) => m.id));
      next = r.body.pagination?.next_url;
    }
    assert.deepEqual(seen, all, 'every item once, newest first (the deleted one only on the page it was on)');
  });

  it('shows a post and a delete on the first page at once, for every count asked', async () => {
    // the first page's IDs are cached a while: a count above what was cached,
    // a post and a delete must each read them again
    const o = await signup(url, uniqueName('first'));
    const page = async (count) => assertOk(await api(url, 'GET', `/v1/users/${o.user.id}/media/recent`,
      { token: viewer.token, query: count ? { count } : {} })).map((m) => m.id);
    const up = [];
    for (let i = 0; i < 4; i++) up.unshift((await uploadOk(o.token)).id); // newest first
    assert.deepEqual(await page(1), up.slice(0, 1));
    assert.deepEqual(await page(3), up.slice(0, 3), 'more than the first page held');
    assert.deepEqual(await page(), up, 'all four (fewer than asked)');
    assert.deepEqual(await page(2), up.slice(0, 2));
    const fresh = (await uploadOk(o.token)).id;
    up.unshift(fresh);
    assert.deepEqual(await page(), up, 'a post, at once');
    assert.deepEqual(await page(1), [fresh]);
    assertOk(await api(url, 'DELETE', `/v1/media/${up[1]}`, { token: o.token }));
    up.splice(1, 1);
    assert.deepEqual(await page(2), up.slice(0, 2), 'a delete, at once: still a full page');
    assert.deepEqual(await page(), up);
  });

  it('links, photo URLs and next_url point at this server', async (t) => {
    if (external) return t.skip('an external server may have its own --public-url');
    // Its default public URL is http://LISTEN; listening on port 0, the links
    // must still name the port actually bound (what "listening on" prints).
    const origin = new URL(url).origin;
    const m = byId.get(ids[0]);
    assert.equal(new URL(m.link).origin, origin, `link ${m.link}`);
    for (const k of RENDITIONS) assert.equal(new URL(m.images[k].url).origin, origin, `${k} ${m.images[k].url}`);
    const r = await api(url, 'GET', '/v1/users/self/media/recent', { token: owner.token, query: { count: 2 } });
    assert.equal(new URL(r.body.pagination.next_url).origin, origin, `next_url ${r.body.pagination.next_url}`);
  });
});

// --- concurrency ----------------------------------------------------------------------------

describe('concurrent uploads', () => {
  it('all succeed and counts.media is exact', async () => {
    const owner = await signup(url, uniqueName('conc'));
    await uploadOk(owner.token);
    const was = await snapshot(owner.token);
    const photos = [0, 1, 2, 3, 4, 5].map(benchPhoto);
    const results = await Promise.all(photos.map(async (p, i) => {
      for (let attempt = 0; ; attempt++) {
        const r = await upload(owner.token, p, { caption: `together #n${i}` });
        // an external server may have a lower --max-concurrent-uploads
        if (external && r.status === 503 && attempt < 20) {
          await new Promise((res) => setTimeout(res, 200));
          continue;
        }
        return r;
      }
    }));
    const media = results.map((r) => assertMedia(assertOk(r), { owner: owner.user }));
    const ids = media.map((m) => m.id);
    assert.equal(new Set(ids).size, 6);
    const now = await snapshot(owner.token);
    assert.equal(now.media, was.media + 6, 'counts.media is exact');
    assert.equal(now.recent.length, was.recent.length + 6);
    assert.deepEqual(new Set(now.recent.slice(0, 6)), new Set(ids), 'the six are the newest');
    if (!external) assert.equal(now.files.length, was.files.length + 24);
    for (const m of media) {
      assert.deepEqual([m.images.high_resolution.width, m.images.high_resolution.height], [1080, 1350]);
      for (const k of RENDITIONS) assert.equal((await fetchBytes(m.images[k].url)).status, 200);
    }
  });
});

// GET /v1/media/{id} answers from the object cache once the media's template
// is there (no row read): each answer below is asked twice, the second from
// the cache, and must be the rows' answer.
describe('a media read from the object cache', () => {
  it('says what the rows say: likes, a wrong owner, privacy, blocks', async () => {
    const owner = await signup(url, uniqueName('mc'));
    const viewer = await signup(url, uniqueName('mv'));
    const m = await uploadOk(owner.token);
    const get = async (id = m.id, who = viewer) => api(url, 'GET', `/v1/media/${id}`, { token: who.token });
    const twice = async (check, ...args) => { for (let i = 0; i < 2; i++) check(await get(...args), i); };

    await twice((r) => assert.equal(assertOk(r).user_has_liked, false));
    assertOk(await api(url, 'POST', `/v1/media/${m.id}/likes`, { token: viewer.token }));
    await twice((r) => {
      const d = assertOk(r);
      assert.equal(d.user_has_liked, true);
      assert.equal(d.likes.count, 1);
    });
    // the viewer's likes cached by a page, then a read of the one photo from them
    assertOk(await api(url, 'GET', `/v1/users/${owner.user.id}/media/recent`, { token: viewer.token }));
    await twice((r) => assert.equal(assertOk(r).user_has_liked, true));
    await twice((r) => assert.equal(assertOk(r).user_has_liked, false), m.id, owner);
    assertOk(await api(url, 'DELETE', `/v1/media/${m.id}/likes`, { token: viewer.token }));
    await twice((r) => assert.equal(assertOk(r).user_has_liked, false));

    // an ID naming another owner is not this media
    await twice((r) => assertV1Error(r, 404, 'APINotFoundError'), `${m.id.split('_')[0]}_${viewer.user.id}`);

    // private: a stranger may not see it, its owner may
    assertOk(await api(url, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'true' } }));
    await twice((r) => assertV1Error(r, 400, 'APINotAllowedError'));
    await twice((r) => assert.equal(assertOk(r).id, m.id), m.id, owner);
    assertOk(await api(url, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'false' } }));
    await twice((r) => assert.equal(assertOk(r).id, m.id));

    // blocked by its owner: not there
    assertOk(await api(url, 'POST', `/v1/users/${viewer.user.id}/relationship`,
      { token: owner.token, form: { action: 'block' } }));
    await twice((r) => assertV1Error(r, 404, 'APINotFoundError'));

    // deleted: not there, to its owner either
    assertOk(await api(url, 'DELETE', `/v1/media/${m.id}`, { token: owner.token }));
    await twice((r) => assertV1Error(r, 404, 'APINotFoundError'), m.id, owner);
  });
});
