// Account export and import: GET /v1/users/self/export and picogram admin
// export give the same zip (profile, photos at full size, captions, tags,
// places, comments and likes made and received, follows and followers), and
// picogram admin import makes the account again on another server, photos
// included. Every topology: on pg each server has databases of its own in
// the cluster, so the second server is another picogram.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile, unlink, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startServer, api, signup, login, uniqueName, uploadPhoto, assertOk, assertV1Error, external, show, runAdmin,
  sqlExec, topology, mediaFiles, launchOn, runPicogram, photoDisagreement, serverBinary, topologyArgs,
} from './lib.mjs';
import { poll } from './feed_util.mjs';

const PY_READ = `
import sys, json, zipfile, io
from PIL import Image
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, 'a damaged entry'
out = {'names': z.namelist(), 'photos': {}}
for n in ['manifest.json', 'profile.json', 'media.json', 'comments.json', 'likes.json', 'follows.json', 'followers.json']:
    out[n.split('.')[0]] = json.loads(z.read(n))
for n in z.namelist():
    if n.startswith('photos/'):
        data = z.read(n)
        info = z.getinfo(n)
        if not data:
            out['photos'][n] = {'size': 0}
            continue
        im = Image.open(io.BytesIO(data))
        out['photos'][n] = {'size': len(data), 'format': im.format, 'w': im.size[0], 'h': im.size[1],
                            'stored': info.compress_type == zipfile.ZIP_STORED}
print(json.dumps(out))
`;

/** What an archive holds: its lists parsed, and each photo's format and size. */
function readArchive(file) {
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', PY_READ, file], { encoding: 'utf8' }));
}

/** A copy of archive with entries replaced ({name: text}) or, for null, removed. */
function rewriteArchive(src, dst, changes) {
  execFileSync('/usr/bin/python3', ['-c', `
import sys, json, zipfile
src, dst, changes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, 'w') as b:
    for n in a.namelist():
        if n in changes:
            continue
        b.writestr(n, a.read(n))
    for n, v in changes.items():
        if v is not None:
            b.writestr(n, v)
`, src, dst, JSON.stringify(changes)]);
}

async function download(url, token, file) {
  const res = await fetch(`${url}/v1/users/self/export`, { headers: { authorization: `Bearer ${token}` } });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status === 200) await writeFile(file, bytes);
  return { status: res.status, headers: res.headers, bytes };
}

const bare = (id) => id.split('_')[0];
const PASSWORD = 'moving house 42';

describe('account export and import', { skip: external && 'needs the servers\' data directories' }, () => {
  let a;
  let b;
  let dir;
  let alice;
  let bob;
  let carol;
  let p1;
  let p2;
  let pb;
  let archive;
  before(async () => {
    a = await startServer(['--access-log', 'off']);
    b = await startServer(['--access-log', 'off']);
    dir = await mkdtemp(path.join(tmpdir(), 'picogram-export-'));
    alice = await signup(a.url, uniqueName('alice'), 'password123', { full_name: 'Alice Export', email: 'alice@example.com' });
    bob = await signup(a.url, uniqueName('bob'));
    carol = await signup(a.url, uniqueName('carol'));
    assertOk(await api(a.url, 'POST', '/v1/users/self', { token: alice.token, form: { bio: 'I move my photos', website: 'https://alice.example' } }));
    p1 = assertOk(await uploadPhoto(a.url, { token: alice.token, photo: 'landscape.jpg', fields: { caption: 'Sunset over the #harbour with @nobody', lat: 48.8566, lng: 2.3522, location_name: 'Pont des Arts' } }));
    p2 = assertOk(await uploadPhoto(a.url, { token: alice.token, photo: 'grayscale.jpg' }));
    pb = assertOk(await uploadPhoto(a.url, { token: bob.token, photo: 'tiny-1x1.jpg', fields: { caption: 'bob here' } }));
    assertOk(await api(a.url, 'POST', `/v1/media/${p1.id}/comments`, { token: alice.token, form: { text: 'my own note #goldenhour' } }));
    assertOk(await api(a.url, 'POST', `/v1/media/${p1.id}/comments`, { token: bob.token, form: { text: 'lovely' } }));
    assertOk(await api(a.url, 'POST', `/v1/media/${p1.id}/likes`, { token: bob.token }));
    assertOk(await api(a.url, 'POST', `/v1/media/${pb.id}/likes`, { token: alice.token }));
    assertOk(await api(a.url, 'POST', `/v1/media/${pb.id}/comments`, { token: alice.token, form: { text: 'hi bob' } }));
    assertOk(await api(a.url, 'POST', `/v1/users/${bob.user.id}/relationship`, { token: alice.token, form: { action: 'follow' } }));
    assertOk(await api(a.url, 'POST', `/v1/users/${alice.user.id}/relationship`, { token: carol.token, form: { action: 'follow' } }));
    p1 = assertOk(await api(a.url, 'GET', `/v1/media/${p1.id}`, { token: alice.token }));
    archive = path.join(dir, 'alice.zip');
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('GET /v1/users/self/export answers the account\'s whole archive as a zip, and leaves no file on the server', async () => {
    const res = await download(a.url, alice.token, archive);
    assert.equal(res.status, 200, res.bytes.toString().slice(0, 300));
    assert.equal(res.headers.get('content-type'), 'application/zip');
    assert.match(res.headers.get('content-disposition'), new RegExp(`^attachment; filename="picogram-${alice.user.username}-\\d{8}\\.zip"$`));
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.ok(res.headers.get('x-request-id'));
    const z = readArchive(archive);
    assert.equal(z.manifest.format, 'picogram-export');
    assert.equal(z.manifest.version, 1);
    assert.deepEqual(z.manifest.user, { id: alice.user.id, username: alice.user.username });
    assert.deepEqual(z.manifest.counts, {
      media: 2, comments_received: 2, likes_received: 1, comments: 2, likes: 1, follows: 1, followers: 1, photos_missing: 0,
    });
    assert.equal(z.profile.username, alice.user.username);
    assert.equal(z.profile.full_name, 'Alice Export');
    assert.equal(z.profile.email, 'alice@example.com');
    assert.equal(z.profile.bio, 'I move my photos');
    assert.equal(z.profile.website, 'https://alice.example');
    assert.equal(z.profile.is_private, false);

    // the photos, oldest first, with what was said and done to them
    assert.deepEqual(z.media.map((m) => m.id), [bare(p1.id), bare(p2.id)]);
    const [m1, m2] = z.media;
    assert.equal(m1.caption, 'Sunset over the #harbour with @nobody');
    assert.equal(m1.created_time, p1.created_time);
    assert.deepEqual(m1.tags.sort(), ['goldenhour', 'harbour']);
    assert.equal(m1.location.name, 'Pont des Arts');
    assert.ok(Math.abs(m1.location.latitude - 48.8566) < 1e-6 && Math.abs(m1.location.longitude - 2.3522) < 1e-6);
    assert.deepEqual(m1.comments.map((c) => [c.text, c.from.username]),
      [['my own note #goldenhour', alice.user.username], ['lovely', bob.user.username]]);
    assert.deepEqual(m1.likes.map((l) => l.user.username), [bob.user.username]);
    assert.equal(m2.caption, null);
    assert.equal(m2.location, null);
    assert.deepEqual(m2.comments, []);
    // what it did to others' photos, and whom it follows and is followed by
    assert.deepEqual(z.comments.map((c) => c.text).sort(), ['hi bob', 'my own note #goldenhour']);
    const onBob = z.comments.find((c) => c.text === 'hi bob');
    assert.equal(onBob.media_id, bare(pb.id));
    assert.equal(onBob.media_owner.username, bob.user.username);
    assert.deepEqual(z.likes.map((l) => [l.media_id, l.media_owner.username]), [[bare(pb.id), bob.user.username]]);
    assert.deepEqual(z.follows, [{ id: bob.user.id, username: bob.user.username }]);
    assert.deepEqual(z.followers, [{ id: carol.user.id, username: carol.user.username }]);

    // each photo at full size, the very bytes served, stored uncompressed
    for (const [m, api1] of [[m1, p1], [m2, null]]) {
      const ph = z.photos[m.photo];
      assert.ok(ph, `${m.photo} is in the archive`);
      assert.equal(ph.format, 'JPEG');
      assert.equal(ph.stored, true);
      assert.deepEqual([ph.w, ph.h], [m.width, m.height]);
      if (api1) {
        const hi = api1.images.high_resolution;
        assert.deepEqual([ph.w, ph.h], [hi.width, hi.height]);
        const served = Buffer.from(await (await fetch(hi.url)).arrayBuffer());
        assert.equal(served.length, ph.size);
      }
    }
    assert.deepEqual(await readdir(path.join(a.dataDir, 'exports')), [], 'the archive is gone from the server once sent');
    // no token, no archive; HEAD would make a whole archive to say its size: 405, and the connection stays in step
    assertV1Error(await api(a.url, 'GET', '/v1/users/self/export'), 400, 'OAuthParameterException');
    const head = await fetch(`${a.url}/v1/users/self/export`, { method: 'HEAD', headers: { authorization: `Bearer ${alice.token}` } });
    assert.equal(head.status, 405);
    assert.equal((await api(a.url, 'GET', '/v1/users/self', { token: alice.token })).status, 200);
  });

  it('picogram admin export writes the same archive; it never overwrites a file, and names a missing user', async () => {
    const out = path.join(dir, 'by-admin.zip');
    const r = await runAdmin(a.dataDir, ['export', alice.user.username, '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /exported .* 2 photo\(s\)/);
    const z = readArchive(out);
    assert.deepEqual(z.media.map((m) => m.id), [bare(p1.id), bare(p2.id)]);
    assert.equal(Object.keys(z.photos).length, 2);
    const again = await runAdmin(a.dataDir, ['export', alice.user.username, '--out', out]);
    assert.equal(again.code, 2, JSON.stringify(again));
    assert.match(again.err, /exists/);
    assert.equal((await runAdmin(a.dataDir, ['export', uniqueName('nobody'), '--out', path.join(dir, 'x.zip')])).code, 3);
    assert.equal((await runAdmin(a.dataDir, ['export', alice.user.username])).code, 2, 'no --out');
  });

  it('picogram admin import makes the account again on another server, photos, places, tags and times included', async () => {
    const r = await runAdmin(b.dataDir, ['import', archive], `${PASSWORD}\n`, { timeout: 60_000 });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /imported .* 2 photo\(s\), 1 of its comment\(s\)/);
    const li = await login(b.url, alice.user.username, PASSWORD);
    assert.equal(li.status, 200, show(li));
    const token = li.body.access_token;
    const me = assertOk(await api(b.url, 'GET', '/v1/users/self', { token }));
    assert.equal(me.full_name, 'Alice Export');
    assert.equal(me.bio, 'I move my photos');
    assert.equal(me.website, 'https://alice.example');
    assert.equal(me.counts.media, 2);
    assert.equal(me.counts.follows, 0, 'follows are other people: not made');
    const recent = assertOk(await api(b.url, 'GET', '/v1/users/self/media/recent', { token }));
    assert.equal(recent.length, 2);
    const [n2, n1] = recent; // newest first: the order of the original
    assert.equal(n1.caption.text, p1.caption.text);
    assert.equal(n1.created_time, p1.created_time);
    assert.deepEqual([...n1.tags].sort(), ['goldenhour', 'harbour']);
    assert.equal(n1.location.name, 'Pont des Arts');
    assert.ok(Math.abs(n1.location.latitude - 48.8566) < 1e-6);
    assert.equal(n1.likes.count, 0, 'likes by others are not made');
    assert.deepEqual(n1.comments.data.map((c) => [c.text, c.from.username]), [['my own note #goldenhour', alice.user.username]]);
    assert.equal(n2.caption, null);
    for (const [n, o] of [[n1, p1]]) {
      const hi = n.images.high_resolution;
      assert.deepEqual([hi.width, hi.height], [o.images.high_resolution.width, o.images.high_resolution.height]);
      const res = await fetch(hi.url);
      assert.equal(res.status, 200);
      assert.equal(Buffer.from(await res.arrayBuffer()).subarray(0, 2).toString('hex'), 'ffd8');
    }
    // the tag and place indexes know it (their far side is written after the commit)
    const tagged = await poll(async () => {
      const t = assertOk(await api(b.url, 'GET', '/v1/tags/harbour/media/recent', { token }));
      return t.length === 1 && t[0].id === n1.id;
    });
    assert.ok(tagged.ok, 'the tag page shows the imported photo');
    const near = await poll(async () => {
      const g = assertOk(await api(b.url, 'GET', '/v1/media/search', { token, query: { lat: 48.8566, lng: 2.3522, distance: 100 } }));
      return g.some((m) => m.id === n1.id);
    });
    assert.ok(near.ok, 'a search near the place finds the imported photo');

    // the name is taken now: 4, and nothing more is made
    const again = await runAdmin(b.dataDir, ['import', archive], `${PASSWORD}\n`);
    assert.equal(again.code, 4, JSON.stringify(again));
    assert.match(again.err, /taken.*--as/);
  });

  it('an archive that is not one, or does not pass, makes nothing (exit 5)', async () => {
    const name = uniqueName('bad');
    const cases = [
      ['not a zip', async (f) => writeFile(f, 'just text')],
      ['another format', async (f) => rewriteArchive(archive, f, { 'manifest.json': '{"format":"other","version":1}' })],
      ['a newer version', async (f) => rewriteArchive(archive, f, { 'manifest.json': '{"format":"picogram-export","version":99}' })],
      ['no media list', async (f) => rewriteArchive(archive, f, { 'media.json': null })],
      ['a damaged media list', async (f) => rewriteArchive(archive, f, { 'media.json': '[{"id":"1",' })],
      ['a photo path out of the archive', async (f) => {
        const z = readArchive(archive);
        z.media[1].photo = '../../etc/passwd';
        await rewriteArchive(archive, f, { 'media.json': JSON.stringify(z.media) });
      }],
      ['a caption too long', async (f) => {
        const z = readArchive(archive);
        z.media[1].caption = 'x'.repeat(2201);
        await rewriteArchive(archive, f, { 'media.json': JSON.stringify(z.media) });
      }],
      ['a place off the globe', async (f) => {
        const z = readArchive(archive);
        z.media[0].location.latitude = 91;
        await rewriteArchive(archive, f, { 'media.json': JSON.stringify(z.media) });
      }],
    ];
    for (const [what, make] of cases) {
      const f = path.join(dir, `bad-${cases.findIndex((c) => c[0] === what)}.zip`);
      await make(f);
      const r = await runAdmin(b.dataDir, ['import', f, '--as', name], `${PASSWORD}\n`);
      assert.equal(r.code, 5, `${what}: ${JSON.stringify(r)}`);
      assert.match(r.err, /nothing was made/, what);
    }
    assert.equal((await login(b.url, name, PASSWORD)).status, 400, 'no account was made');
    await signup(b.url, name); // and the name is free
    assert.equal((await runAdmin(b.dataDir, ['import', archive, '--as', 'not a name'], `${PASSWORD}\n`)).code, 2);
    assert.equal((await runAdmin(b.dataDir, ['import', path.join(dir, 'absent.zip')], `${PASSWORD}\n`)).code, 2);
    assert.equal((await runAdmin(b.dataDir, ['import', archive, '--as', uniqueName('pw')], 'short\n')).code, 2);
  });

  it('an import that stops part way leaves the account suspended; delete-user and a second import recover', async () => {
    const name = uniqueName('half');
    // the second photo (no caption) cannot be written: the first is in by then
    if (topology === 'pg') {
      sqlExec(b.dataDir, "CREATE FUNCTION no_bare() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'forced by a test'; END $$ LANGUAGE plpgsql");
      sqlExec(b.dataDir, 'CREATE TRIGGER no_bare BEFORE INSERT ON media FOR EACH ROW WHEN (NEW.caption IS NULL) EXECUTE FUNCTION no_bare()');
    } else {
      sqlExec(b.dataDir, "CREATE TRIGGER no_bare BEFORE INSERT ON media WHEN NEW.caption IS NULL BEGIN SELECT RAISE(ABORT, 'forced by a test'); END");
    }
    const files0 = (await mediaFiles(b.dataDir)).length;
    let r;
    try {
      r = await runAdmin(b.dataDir, ['import', archive, '--as', name], `${PASSWORD}\n`);
    } finally {
      sqlExec(b.dataDir, 'DROP TRIGGER no_bare' + (topology === 'pg' ? ' ON media' : ''));
    }
    assert.equal(r.code, 1, JSON.stringify(r));
    const id = /\(id (\d+)\) stays suspended/.exec(r.err)?.[1];
    assert.ok(id, r.err);
    const li = await login(b.url, name, PASSWORD);
    assert.equal(li.status, 403, show(li)); // suspended: hidden, no log-in
    assert.equal((await mediaFiles(b.dataDir)).length, files0 + 4, 'the first photo\'s four renditions');

    const del = await runAdmin(b.dataDir, ['delete-user', id, '--yes']);
    assert.equal(del.code, 0, del.err);
    assert.equal((await mediaFiles(b.dataDir)).length, files0, 'its files went with it');
    const ok = await runAdmin(b.dataDir, ['import', archive, '--as', name], `${PASSWORD}\n`);
    assert.equal(ok.code, 0, ok.err);
    const li2 = await login(b.url, name, PASSWORD);
    assert.equal(li2.status, 200, show(li2));
    assert.equal(assertOk(await api(b.url, 'GET', '/v1/users/self', { token: li2.body.access_token })).counts.media, 2);
  });

  it('a photo file missing from the store is named in the manifest, and left out on import', async () => {
    const dave = await signup(a.url, uniqueName('dave'));
    const kept = assertOk(await uploadPhoto(a.url, { token: dave.token, photo: 'landscape.jpg', fields: { caption: 'kept' } }));
    const lost = assertOk(await uploadPhoto(a.url, { token: dave.token, photo: 'grayscale.jpg', fields: { caption: 'lost' } }));
    const file = (await mediaFiles(a.dataDir)).find((f) => f.includes(`${bare(lost.id)}_`) && f.endsWith('_h.jpg'));
    assert.ok(file, 'the lost photo\'s file');
    await unlink(path.join(a.dataDir, 'photos', 'media', file));
    const f = path.join(dir, 'dave.zip');
    const res = await download(a.url, dave.token, f);
    assert.equal(res.status, 200);
    const z = readArchive(f);
    assert.equal(z.manifest.counts.photos_missing, 1);
    assert.deepEqual(z.manifest.photos_missing, [bare(lost.id)]);
    assert.equal(z.photos[`photos/${bare(lost.id)}.jpg`].size, 0);
    assert.ok(z.photos[`photos/${bare(kept.id)}.jpg`].size > 0);
    const r = await runAdmin(b.dataDir, ['import', f], `${PASSWORD}\n`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /missing or damaged: left out/);
    const li = await login(b.url, dave.user.username, PASSWORD);
    const mine = assertOk(await api(b.url, 'GET', '/v1/users/self/media/recent', { token: li.body.access_token }));
    assert.deepEqual(mine.map((m) => m.caption.text), ['kept']);
  });

  it('an archive left by an export that died is removed at the next start; a young one of a live maker is not', async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'picogram-exports-'));
    const srv = launchOn(d);
    try {
      await srv.url;
      await srv.stopCleanly();
      const ex = path.join(d, 'exports');
      await mkdir(ex, { recursive: true });
      // its maker gone: the lock nobody holds, with the half-made archive
      await writeFile(path.join(ex, 'export-1-deadbeef.lock'), '');
      await writeFile(path.join(ex, 'export-1-deadbeef.zip.aBc123'), 'half an archive');
      // no lock, and old: a finished archive a crash kept from being sent
      await writeFile(path.join(ex, 'export-2-0000cafe.zip'), 'never sent');
      await utimes(path.join(ex, 'export-2-0000cafe.zip'), new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
      // no lock and young: maybe another server's, about to be sent
      await writeFile(path.join(ex, 'export-3-0000beef.zip'), 'about to be sent');
      const again = launchOn(d);
      try {
        await again.url;
        assert.deepEqual(await readdir(ex), ['export-3-0000beef.zip']);
      } finally {
        await again.stopCleanly();
      }
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });

  it('an import killed at any moment leaves no account, a hidden one that delete-user removes, or the whole one; and no file without a row once swept', async (t) => {
    const eve = await signup(a.url, uniqueName('eve'));
    for (let i = 0; i < 24; i++) {
      assertOk(await uploadPhoto(a.url, { token: eve.token, photo: i % 2 ? 'tiny-1x1.jpg' : 'grayscale.jpg', fields: { caption: `eve ${i} #kill` } }));
    }
    const f = path.join(dir, 'eve.zip');
    assert.equal((await runAdmin(a.dataDir, ['export', eve.user.username, '--out', f])).code, 0);
    for (const delay of [150, 450, 900]) {
      let name = uniqueName('killed');
      const p = spawn(serverBinary(), ['admin', 'import', f, '--as', name, '--data', b.dataDir, ...topologyArgs(b.dataDir)],
        { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (c) => { err += c; });
      p.stdin.end(`${PASSWORD}\n`);
      const closed = new Promise((r) => p.on('close', (code, signal) => r({ code, signal })));
      await new Promise((r) => setTimeout(r, delay));
      p.kill('SIGKILL');
      const end = await closed;
      const li = await login(b.url, name, PASSWORD);
      if (end.code === 0 || li.status === 200) { // it finished first
        assert.equal(li.status, 200, show(li));
        const me = assertOk(await api(b.url, 'GET', '/v1/users/self', { token: li.body.access_token }));
        assert.equal(me.counts.media, 24, `killed after ${delay} ms, it had finished: ${err}`);
        t.diagnostic(`killed after ${delay} ms: it had finished`);
        continue;
      }
      t.diagnostic(`killed after ${delay} ms: ${li.status === 403 ? 'the account made, hidden' : 'no account yet'}`);
      if (li.status === 403) { // made, and hidden: delete-user takes it away, files and all
        const del = await runAdmin(b.dataDir, ['delete-user', name, '--yes']);
        assert.equal(del.code, 0, del.err);
      } else {
        assert.equal(li.status, 400, `killed before the account was made: ${show(li)}`);
      }
      let again = await runAdmin(b.dataDir, ['import', f, '--as', name], `${PASSWORD}\n`, { timeout: 60_000 });
      if (again.code !== 0 && li.status === 400 && topology !== 'embedded' && /is taken here; nothing was made/.test(again.err)) {
        // killed between the name's claim (on the name's database) and the
        // user's rows (on the user's): a claim of no user, which holds the
        // name for a minute as a sign-up's does (README, "A sign-up is one
        // transaction ..."); no account was made, and the archive imports
        // under another name
        t.diagnostic(`killed after ${delay} ms: the name claimed, no account`);
        name = uniqueName('killed');
        again = await runAdmin(b.dataDir, ['import', f, '--as', name], `${PASSWORD}\n`, { timeout: 60_000 });
      }
      assert.equal(again.code, 0, again.err);
      const li2 = await login(b.url, name, PASSWORD);
      assert.equal(li2.status, 200, show(li2));
      assert.equal(assertOk(await api(b.url, 'GET', '/v1/users/self', { token: li2.body.access_token })).counts.media, 24);
    }
    // a kill between a photo's files and its row leaves files no row names: the sweep takes them
    const sw = await runPicogram(['sweep', '--older-than', '0', '--data', b.dataDir, ...topologyArgs(b.dataDir)]);
    assert.equal(sw.code, 0, sw.err);
    if (topology !== 'pg') { // (the check reads SQLite files)
      const d = photoDisagreement(b.dataDir, await mediaFiles(b.dataDir));
      assert.deepEqual(d.rowsWithoutFiles, []);
      assert.deepEqual(d.filesWithoutRows, []);
    }
  });
});
