// The S3 photo store (`photo_store = s3:http://HOST:PORT/BUCKET`), on every
// topology's databases, against a real S3-protocol server (s3rver) of its own:
// - an upload puts every rendition into the bucket (immutable, JPEG) before
//   its row commits; a delete takes them out;
// - with the store down, an upload answers 503 at once and leaves nothing:
//   no row, no object; with it back, uploads work again;
// - `picogram sweep` takes out an object no photo uses only when it is
//   older than --older-than (a young one may be an upload in flight), and
//   never touches a photo's own objects, across listing pages;
// - every request picogram sends is signed right (AWS Signature V4, checked
//   by a proxy in front of s3rver, which does not check signatures), and a
//   server with the wrong secret is refused: its uploads answer 503;
// - the account's archive (GET /v1/users/self/export) reads its photos back
//   from the bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  launchOn, api, signup, uniqueName, uploadPhoto, external, show, startS3, startSigV4Proxy, serverBinary, topologyArgs,
} from './lib.mjs';
import { poll, mapLimit } from './feed_util.mjs';

const run = promisify(execFile);
const keyOf = (imageUrl) => new URL(imageUrl).pathname.slice(1); // "media/<shard>/<id>_<file key>_<size>.jpg"

test('photos in S3: all-or-nothing uploads, deletes, a store outage answers 503, and picogram sweep spares the young',
  { skip: external, timeout: 120_000 }, async () => {
    const s3 = await startS3();
    const proxy = await startSigV4Proxy(s3.url, 'S3RVER', 'S3RVER');
    const flags = ['--photo-store', `s3:${proxy.url}/picogram`, '--s3-access-key', 'S3RVER', '--s3-secret-key', 'S3RVER'];
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-s3srv-'));
    let server;
    let wrong;
    try {
      server = launchOn(dataDir, flags);
      const url = await server.url;
      const owner = await signup(url, uniqueName('s3own'));
      const up = await uploadPhoto(url, { token: owner.token, photo: 'tiny-1x1.jpg', fields: { caption: 'in the bucket' } });
      assert.equal(up.status, 200, show(up));
      const media = up.body.data;
      const keys = Object.values(media.images).map((i) => keyOf(i.url));
      assert.equal(new Set(keys).size, 4, `four renditions: ${keys}`);
      const stored = await s3.objects();
      for (const k of keys) {
        assert.ok(stored.includes(k), `${k} is in the bucket: ${stored}`);
        const r = await s3.get(k);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-type'), 'image/jpeg');
        assert.match(r.headers.get('cache-control'), /immutable/);
        const bytes = Buffer.from(await r.arrayBuffer());
        assert.equal(bytes.readUInt16BE(0), 0xffd8, 'a JPEG');
      }
      // those, and no other object of this photo
      const ofMedia = stored.filter((k) => k.includes(`/${media.id.split('_')[0]}_`));
      assert.deepEqual(ofMedia.sort(), [...new Set(keys)].sort());

      // the account's archive reads its photo back out of the bucket (a signed GET)
      const ex = await fetch(`${url}/v1/users/self/export`, { headers: { authorization: `Bearer ${owner.token}` } });
      assert.equal(ex.status, 200);
      const zipFile = path.join(dataDir, 'owner.zip');
      await writeFile(zipFile, Buffer.from(await ex.arrayBuffer()));
      const inZip = execFileSync('/usr/bin/python3', ['-c',
        'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))',
        zipFile, `photos/${media.id.split('_')[0]}.jpg`]);
      const high = Buffer.from(await (await s3.get(keyOf(media.images.high_resolution.url))).arrayBuffer());
      assert.ok(inZip.equals(high), 'the archive holds the full-size photo as stored');

      const ready = await api(url, 'GET', '/readyz');
      assert.equal(ready.status, 200, show(ready));
      assert.equal(ready.body.data.backends.photo_store, 'ok');

      // the store down: 503 at once, and nothing kept
      await s3.kill();
      const unready = await api(url, 'GET', '/readyz');
      assert.equal(unready.status, 503, show(unready));
      assert.equal(unready.body.meta.error_type, 'ServiceUnavailable');
      assert.match(unready.body.meta.error_message, /not ready: photo_store \(bucket picogram (did not answer|answered HEAD with 5\d\d)\)/);
      const started = Date.now();
      const down = await uploadPhoto(url, { token: owner.token, photo: 'tiny-1x1.jpg' });
      assert.equal(down.status, 503, show(down));
      assert.equal(down.body.meta.error_type, 'ServiceUnavailable');
      assert.ok(Date.now() - started < 5000, `answered in ${Date.now() - started} ms`);
      const self = await api(url, 'GET', '/v1/users/self', { token: owner.token });
      assert.equal(self.body.data.counts.media, 1, 'no row for the failed upload');
      await s3.start();
      assert.equal((await api(url, 'GET', '/readyz')).status, 200, 'ready again with the store back');
      assert.deepEqual((await s3.objects()).sort(), stored.sort(), 'no object of the failed upload');
      const again = await uploadPhoto(url, { token: owner.token, photo: 'tiny-1x1.jpg', fields: { caption: 'back' } });
      assert.equal(again.status, 200, show(again));
      const againKeys = Object.values(again.body.data.images).map((i) => keyOf(i.url));

      // an object no photo uses (an upload whose row never committed): a media key of the same shard
      const [, shard, name] = keys[0].match(/^media\/(\d+)\/(.*)$/);
      // (a later millisecond: an ID's low 23 bits are its shard and sequence)
      const orphanId = BigInt(name.split('_')[0]) + (1n << 23n);
      const orphan = `media/${shard}/${orphanId}_0123456789abcdef_h.jpg`;
      assert.equal((await s3.put(orphan, Buffer.from('never committed'))).status, 200);
      const sweep = (older) => run(serverBinary(), ['sweep', '--older-than', String(older), '--data', dataDir,
        ...topologyArgs(dataDir), ...flags, '--log-level', 'warn'])
        .catch((e) => { throw new Error(`${e.message}\nrefused by the signature check: ${proxy.bad.join('\n')}`); });
      let out = await sweep(3600);
      assert.match(out.stdout, /swept 0 object/);
      assert.ok((await s3.objects()).includes(orphan), 'a young orphan is spared');
      out = await sweep(0);
      assert.match(out.stdout, /swept 1 object/, out.stdout + out.stderr);
      const left = await s3.objects();
      assert.ok(!left.includes(orphan), 'the orphan is gone');
      for (const k of [...keys, ...againKeys]) assert.ok(left.includes(k), `${k} is kept`);

      // a bucket longer than a listing page (1,000 keys): the sweep pages
      // through it (each page's continuation token signed like the rest)
      const many = Array.from({ length: 1100 }, (_, i) => `media/${shard}/${orphanId + (BigInt(i + 1) << 23n)}_0123456789abcdef_t.jpg`);
      await mapLimit(many, 16, async (k) => assert.equal((await s3.put(k, Buffer.from('x'))).status, 200));
      out = await sweep(0);
      assert.match(out.stdout, /swept 1100 object/, out.stdout + out.stderr);
      const after = await s3.objects();
      assert.equal(after.filter((k) => many.includes(k)).length, 0, 'every page was swept');
      for (const k of [...keys, ...againKeys]) assert.ok(after.includes(k), `${k} is kept`);

      // a delete takes the photo's objects out
      const del = await api(url, 'DELETE', `/v1/media/${media.id}`, { token: owner.token });
      assert.equal(del.status, 200, show(del));
      const gone = await poll(async () => {
        const now = await s3.objects();
        return keys.every((k) => !now.includes(k)) && againKeys.every((k) => now.includes(k));
      }, { timeout: 10_000 });
      assert.ok(gone.ok, 'the deleted photo\'s objects leave the bucket; the other photo\'s stay');

      // every request so far (puts, deletes, listings) was signed right
      assert.deepEqual(proxy.bad, []);
      assert.ok(proxy.checked >= 15, `${proxy.checked} signed requests checked`);
      // a server with the wrong secret is refused, and says so with a 503
      wrong = launchOn(dataDir, [...flags.slice(0, -1), 'not-the-secret']);
      const wrongUrl = await wrong.url;
      const refused = await uploadPhoto(wrongUrl, { token: owner.token, photo: 'tiny-1x1.jpg' });
      assert.equal(refused.status, 503, show(refused));
      assert.ok(proxy.bad.length > 0 && proxy.bad.every((b) => b.startsWith('signature ')), proxy.bad.join('\n'));
    } finally {
      for (const s of [server, wrong]) {
        if (!s) continue;
        s.proc.kill('SIGTERM');
        await s.exited;
      }
      await proxy.close();
      await s3.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
