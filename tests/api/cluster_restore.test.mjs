// The cluster's restore drill (Cluster III): scripts/cluster.sh backup
// takes base backups of both PostgreSQL servers under a write load, then
// `picogram backup` makes and archives a restore point on each and copies
// the photos; scripts/cluster.sh restore rebuilds a new cluster from them.
// Restored to the backup's point: every write acknowledged before the point
// is there, nothing made after the backup is, and photos and rows agree (no
// row without its four files, no file without its row), though photos were
// deleted while the backup ran. Restored again to a time after the backup
// (point-in-time recovery from the WAL archive): the writes before that
// time are there, those after it are not.
//
// Runs on the 'pg' topology only: it starts clusters of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import {
  launchOn, api, signup, uniqueName, show, external, topology, repoRoot, uploadPhoto, mediaFiles, serverBinary, ownCluster,
  psqlOn as pg, shardOf as shard,
} from './lib.mjs';

const half = (id) => (shard(id) < 4096 ? 0 : 1);
// shards 0-2047 are moved to the second server before the backup: a restore must follow the moved map
const MOVED = 2047;
const server = (id) => (shard(id) <= MOVED ? 1 : half(id));

/** Every photo row of a cluster (both servers) against the files of its photo store. */
async function agreement(dir) {
  const rows = new Set();
  for (let i = 0; i < 2; i++) {
    for (const line of pg(dir, i, 'SELECT id, file_key FROM media').split('\n').filter(Boolean)) {
      const [id, key] = line.split('|').map(BigInt);
      rows.add(`${(id >> 10n) & 8191n}/${id}_${BigInt.asUintN(64, key).toString(16).padStart(16, '0')}`);
    }
  }
  const have = new Map();
  for (const f of await mediaFiles(path.join(dir, 'data'))) {
    const m = /^(\d+)\/(\d+_[0-9a-f]{16})_[tlsh]\.jpg$/.exec(f);
    assert.ok(m, `an unexpected file ${f}`);
    have.set(`${m[1]}/${m[2]}`, (have.get(`${m[1]}/${m[2]}`) || 0) + 1);
  }
  return { rows: rows.size, rowsWithoutFiles: [...rows].filter((r) => have.get(r) !== 4),
    filesWithoutRows: [...have.keys()].filter((k) => !rows.has(k)) };
}

test('cluster restore drill: a backup under writes, restored to its point and to a later time',
  { skip: external || topology !== 'pg' ? 'needs the pg topology' : false, timeout: 300_000 }, async (t) => {
    // three clusters under one directory: the live one, and two restored from its backup
    const own = await ownCluster('picogram-drill-');
    const base = own.dir;
    execFileSync('chmod', ['0755', base]); // the servers' user (nobody, under root) reaches its parts
    const { cluster } = own;
    const clusterAsync = (...args) => promisify(execFile)(path.join(repoRoot, 'scripts', 'cluster.sh'), args, { env: own.env });
    const [dir, dest, new1, new2] = ['live', 'backup', 'restored', 'pitr'].map((d) => path.join(base, d));
    const servers = [];
    const serve = async (d) => {
      const s = launchOn(path.join(d, 'data'), ['--config', path.join(d, 'picogram.conf')]);
      servers.push(s);
      return s.url;
    };
    const t0 = Date.now();
    const step = (what) => t.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    try {
      cluster('up', dir);
      const url = await serve(dir);
      step('up');
      const users = [];
      // users on both servers (after the move), and some in the moved shards
      for (let i = 0; i < 300 && (users.filter((u) => server(u.user.id) === 0).length < 2
        || users.filter((u) => server(u.user.id) === 1).length < 2 || !users.some((u) => shard(u.user.id) <= MOVED)); i++) {
        users.push(await signup(url, uniqueName('dr')));
      }
      const photos = [];
      for (const [i, u] of users.entries()) {
        for (let k = 0; k < 2; k++) {
          const r = await uploadPhoto(url, { token: u.token, photo: 'tiny-1x1.jpg', fields: { caption: `p${i}.${k}` } });
          assert.equal(r.status, 200, show(r));
          photos.push({ id: r.body.data.id, owner: u, bytes: null });
        }
      }
      // a write load while the backup runs: comments, with the time each was acknowledged;
      // and a photo deleted now and then
      const acked = []; let stop = false; const deleted = [];
      const load = (async () => {
        for (let n = 0; !stop && n < 2000; n++) {
          const u = users[n % users.length]; const p = photos[n % photos.length];
          if (deleted.includes(p.id)) continue;
          const text = `load ${n} ${uniqueName('c')}`;
          const r = await api(url, 'POST', `/v1/media/${p.id}/comments`, { token: u.token, form: { text } });
          if (r.status === 200) acked.push({ text, media: p.id, at: Date.now() });
          if (n % 25 === 24 && deleted.length < 3) {
            const victim = photos.find((x, j) => j % 2 === 1 && !deleted.includes(x.id)); // each owner keeps one
            const d = await api(url, 'DELETE', `/v1/media/${victim.id}`, { token: victim.owner.token });
            assert.equal(d.status, 200, show(d));
            deleted.push(victim.id);
          }
        }
      })();
      step('photos posted');
      const target = /4096-8191=(postgres:\/\/[^;\s]+)/.exec(readFileSync(path.join(dir, 'picogram.conf'), 'utf8'))[1];
      execFileSync(serverBinary(), ['shards', 'move', `0-${MOVED}`, '--to', target, '--drop-source', '--config',
        path.join(dir, 'picogram.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
      await new Promise((r) => setTimeout(r, 1200)); // the server follows the map within a second
      step('shards 0-2047 moved');
      await new Promise((r) => setTimeout(r, 300));
      const b = await clusterAsync('backup', dir, dest);
      await new Promise((r) => setTimeout(r, 200));
      stop = true;
      await load;
      const manifest = JSON.parse(await readFile(path.join(dest, 'picogram', 'backup.json'), 'utf8'));
      const pointMs = manifest.point_us / 1000;
      // (a comment on a photo deleted during the drill went with its photo: the deletion is a write
      // acknowledged too, and a photo deleted after the point but before its files were copied is
      // restored as deleted)
      const before = acked.filter((c) => c.at < pointMs && !deleted.includes(c.media));
      t.diagnostic(`${acked.length} comments acknowledged during the drill, ${before.length} before the point; `
        + `${deleted.length} photos deleted; ${b.stderr.trim().split('\n').pop()}`);
      assert.ok(before.length > 0, 'writes acknowledged before the point');

      // after the backup: batch A, a moment T, batch B (on both servers)
      const mark = async (tag) => {
        const out = [];
        for (const u of users) {
          const text = `${tag} ${uniqueName('m')}`;
          const p = photos.find((x) => x.owner === u && !deleted.includes(x.id));
          const r = await api(url, 'POST', `/v1/media/${p.id}/comments`, { token: u.token, form: { text } });
          assert.equal(r.status, 200, show(r));
          out.push({ text, media: p.id });
        }
        return out;
      };
      const batchA = await mark('after-a');
      await new Promise((r) => setTimeout(r, 1100));
      const T = new Date().toISOString().replace('T', ' ').replace('Z', '+00');
      await new Promise((r) => setTimeout(r, 1100));
      const batchB = await mark('after-b');
      cluster('archive-wal', dir);
      step('backed up, then A and B written');

      const commentsOf = (d, i, media) => new Set(pg(d, i, `SELECT text FROM comments WHERE media_id = ${BigInt(media.split('_')[0])}`)
        .split('\n').filter(Boolean));
      const present = (d, list) => list.filter((c) => commentsOf(d, server(c.media), c.media).has(c.text));

      // 1. to the backup's restore point
      const r1 = cluster('restore', dest, new1);
      assert.match(r1, /http:\/\/127\.0\.0\.1:\d+/);
      step('restored to the point');
      t.diagnostic(readFileSync(path.join(new1, 'log', 'restore.log'), 'utf8').trim());
      assert.deepEqual(before.filter((c) => !present(new1, [c]).length), [], 'every write acknowledged before the point is there');
      assert.deepEqual(present(new1, batchA.concat(batchB)), [], 'nothing written after the backup is there');
      const agree1 = await agreement(new1);
      assert.deepEqual(agree1.rowsWithoutFiles, [], 'no photo row without its four files');
      assert.deepEqual(agree1.filesWithoutRows, [], 'no file without its row');
      assert.ok(agree1.rows >= photos.length - deleted.length, `${agree1.rows} photos`);
      // the restored cluster serves: a log-in, a photo with its bytes, a new write
      const url1 = await serve(new1);
      const u0 = users[0].user.username;
      const li = await api(url1, 'POST', '/oauth/access_token', { form: { grant_type: 'password', username: u0, password: 'password123' } });
      assert.equal(li.status, 200, show(li));
      const m0 = await api(url1, 'GET', `/v1/media/${photos[0].id}`, { token: li.body.access_token });
      assert.equal(m0.status, 200, show(m0));
      const img = await fetch(m0.body.data.images.standard_resolution.url.replace(/^https?:\/\/[^/]+/, url1));
      assert.equal(img.status, 200, 'the photo file is served');
      const orig = await fetch(new URL(new URL(m0.body.data.images.standard_resolution.url).pathname, url));
      assert.deepEqual(Buffer.from(await img.arrayBuffer()), Buffer.from(await orig.arrayBuffer()), 'the same bytes');
      const c1 = await api(url1, 'POST', `/v1/media/${photos[0].id}/comments`, { token: li.body.access_token, form: { text: 'restored' } });
      assert.equal(c1.status, 200, show(c1));
      // a user of the moved shards is served by the restored cluster (its map names the new servers)
      const movedUser = users.find((u) => shard(u.user.id) <= MOVED);
      const mu = await api(url1, 'GET', '/v1/users/self', { token: movedUser.token });
      assert.equal(mu.status, 200, `a user of the moved shards: ${show(mu)}`);
      // the old tokens and sessions still work: the server secret came back too
      const self = await api(url1, 'GET', '/v1/users/self', { token: users[1].token });
      assert.equal(self.status, 200, show(self));

      // 2. to the time T, from the WAL archive
      cluster('restore', dest, new2, T);
      step('restored to T');
      assert.deepEqual(batchA.filter((c) => !present(new2, [c]).length), [], 'the writes before T are there');
      assert.deepEqual(present(new2, batchB), [], 'the writes after T are not');
      const agree2 = await agreement(new2);
      assert.deepEqual(agree2.rowsWithoutFiles, [], 'no photo row without its files (PITR)');
      assert.deepEqual(agree2.filesWithoutRows, [], 'no file without its row (PITR)');
    } finally {
      await own.stop(servers, [dir, new1, new2]);
    }
  });
