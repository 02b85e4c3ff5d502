// kill -9 while uploads are in flight, then restart on the same data
// directory: every acknowledged upload is whole (media and its four
// renditions), counts.media matches the list, every stored file belongs to
// a media row (the restart sweeps orphans) and no temporary file is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  launchOn, api, signup, uniqueName, external, benchPhoto, uploadPhoto, listFiles, mediaFiles, assertOk,
} from './lib.mjs';

const RENDITIONS = ['thumbnail', 'low_resolution', 'standard_resolution', 'high_resolution'];


/** The same URL path on the server at base (photo URLs are built from --public-url). */
const at = (base, u) => {
  const p = new URL(u);
  return base + p.pathname + p.search;
};

/** A media object with its link and photo URLs reduced to their paths. */
const withoutOrigins = (m) => ({
  ...m,
  link: new URL(m.link).pathname,
  images: Object.fromEntries(Object.entries(m.images).map(([k, v]) => [k, { ...v, url: new URL(v.url).pathname }])),
});

/** The path under photos/media/ a rendition URL names (…/media/<rest>). */
const storeKey = (u) => {
  const p = decodeURIComponent(new URL(u).pathname);
  const i = p.indexOf('/media/');
  assert.ok(i >= 0, `rendition URL ${u} is under /media/`);
  return p.slice(i + '/media/'.length);
};

test('acknowledged uploads survive kill -9; no orphans or temporary files after the restart',
  { skip: external, timeout: 60_000 }, async (t) => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-mkill-'));
    try {
      const first = launchOn(dataDir, ['--max-concurrent-uploads', '64']);
      const url = await first.url;
      const { token, user } = await signup(url, uniqueName('mkill'));
      const bench = Array.from({ length: 20 }, (_, i) => benchPhoto(i));
      const acked = new Map(); // id -> media
      let answered = 0;
      const attempts = bench.map(async (photo, i) => {
        try {
          const r = await uploadPhoto(url, { token, photo, fields: { caption: `in flight #k${i}` } });
          answered++;
          if (r.status === 200) acked.set(r.body.data.id, r.body.data);
        } catch { /* the connection died with the server */ }
      });
      // Let a few (about 70 ms of work each, 2 workers) finish, then kill.
      const deadline = Date.now() + 15_000;
      while (acked.size < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      first.proc.kill('SIGKILL');
      await first.exited;
      await Promise.all(attempts);
      assert.ok(acked.size >= 4, `some uploads were acknowledged before the kill (${acked.size})`);
      assert.ok(answered < bench.length, `the kill landed while uploads were in flight (${answered} answered)`);

      // what the kill left (for the record: orphans and temporary files are
      // what the restart has to clean up)
      const left = await mediaFiles(dataDir);
      const leftTmp = (await listFiles(dataDir)).filter((f) => path.basename(f).includes('.tmp.'));
      t.diagnostic(`killed with ${acked.size} of ${bench.length} uploads acknowledged; ${left.length} files under ` +
        `photos/media (${4 * acked.size} acknowledged), ${leftTmp.length} temporary`);

      // Plant one more orphan and one more temporary file, like those a kill
      // leaves, so that the sweep is checked even when this kill left none.
      const [someId, someMedia] = [...acked][0];
      const realKey = storeKey(someMedia.images.thumbnail.url);
      // Media ids are Instagram-style (ms | 13-bit shard | 10-bit sequence) and
      // the store leaves alone files that do not fit its layout: the orphan's
      // id is the same photo's one second earlier, on the same shard.
      const fakeId = String(BigInt(someId.split('_')[0]) - (1000n << 23n));
      const plantedOrphan = path.join(path.dirname(realKey), path.basename(realKey).replace(/^\d+/, fakeId));
      const plantedTmp = `${realKey}.tmp.0badf00d`;
      assert.notEqual(plantedOrphan, realKey);
      const store = path.join(dataDir, 'photos', 'media');
      await copyFile(path.join(store, realKey), path.join(store, plantedOrphan));
      await copyFile(path.join(store, realKey), path.join(store, plantedTmp));

      const second = launchOn(dataDir, ['--max-concurrent-uploads', '64']);
      const url2 = await second.url;
      try {
        // every acknowledged upload is whole
        for (const [id, m] of acked) {
          const g = assertOk(await api(url2, 'GET', `/v1/media/${id}`, { token }));
          // (the restarted server listens on another port: compare URLs by path)
          assert.deepEqual(withoutOrigins(g), withoutOrigins(m), `media ${id} reads back as acknowledged`);
        }
        // the list, counts.media, and every listed media's four files
        const listed = [];
        let next = `${url2}/v1/users/self/media/recent?count=100`;
        while (next) {
          const r = await api(at(url2, next), 'GET', '', { token });
          listed.push(...assertOk(r));
          next = r.body.pagination?.next_url;
        }
        const ids = listed.map((m) => m.id);
        assert.equal(new Set(ids).size, ids.length, 'no media listed twice');
        for (const id of acked.keys()) assert.ok(ids.includes(id), `acknowledged ${id} is listed`);
        const me = assertOk(await api(url2, 'GET', '/v1/users/self', { token }));
        assert.equal(me.id, user.id);
        assert.equal(me.counts.media, listed.length, 'counts.media equals the number of media listed');

        const expected = new Set();
        for (const m of listed) {
          for (const k of RENDITIONS) {
            const res = await fetch(at(url2, m.images[k].url));
            const bytes = Buffer.from(await res.arrayBuffer());
            assert.equal(res.status, 200, `${m.id} ${k}`);
            assert.equal(res.headers.get('content-type'), 'image/jpeg');
            assert.equal(Number(res.headers.get('content-length')), bytes.length);
            assert.ok(bytes.length > 100 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes.at(-2) === 0xff && bytes.at(-1) === 0xd9,
              `${m.id} ${k} is a whole JPEG`);
            expected.add(storeKey(m.images[k].url));
          }
        }
        // every stored file belongs to a listed media (orphans swept), and the
        // other way round
        const files = await mediaFiles(dataDir);
        const orphans = files.filter((f) => !expected.has(f));
        assert.ok(!files.includes(plantedOrphan), `the planted orphan ${plantedOrphan} was swept`);
        assert.ok(!files.includes(plantedTmp), `the planted temporary file ${plantedTmp} was swept`);
        assert.deepEqual(orphans, [], 'files under photos/media that belong to no media');
        assert.deepEqual([...expected].filter((f) => !files.includes(f)), [], 'renditions missing on disk');
        // no temporary files anywhere in the data directory
        const tmp = (await listFiles(dataDir)).filter((f) => path.basename(f).includes('.tmp.'));
        assert.deepEqual(tmp, [], 'temporary files left behind');

        // and the restarted server takes uploads again
        const again = await uploadPhoto(url2, { token, photo: bench[0] });
        assertOk(again);
        const me2 = assertOk(await api(url2, 'GET', '/v1/users/self', { token }));
        assert.equal(me2.counts.media, listed.length + 1);
      } finally {
        await second.stopCleanly();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
