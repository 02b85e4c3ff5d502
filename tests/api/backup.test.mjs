// Backup and restore of the embedded topology (picogram backup, picogram
// restore): the restore drill. A backup taken while photos are posted,
// liked, commented on and deleted is restored into a fresh directory, a
// server is started on it, and every write acknowledged before the backup
// began is there (and every deletion acknowledged before it is not); in
// the restored directory every photo row has all its files and every file
// a row. On PostgreSQL, picogram backup makes the backup point (a restore
// point on every server, archived) and copies the photos; the databases'
// base backups and WAL are PostgreSQL's own (cluster_restore.test.mjs
// restores a whole cluster from them).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startServer, api, signup, uniqueName, uploadPhoto, assertOk, external, topologyArgs, topology,
  launchOn, listFiles, runPicogram, photoDisagreement,
} from './lib.mjs';

/** Runs picogram with args: {code, out, err}. */
const run = (args) => runPicogram(args, '', { timeout: 60_000 });

describe('backup and restore', { skip: external && 'needs the server\'s data directory' }, () => {
  let srv;
  let dir;
  before(async () => {
    srv = await startServer(['--access-log', 'off']);
    dir = await mkdtemp(path.join(tmpdir(), 'picogram-backup-'));
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('on PostgreSQL: a restore point archived on every server and the photos; the SQLite restore refuses it',
    { skip: topology !== 'pg' && 'a PostgreSQL topology\'s test' }, async () => {
      const u = await signup(srv.url, uniqueName('pgb'));
      assertOk(await uploadPhoto(srv.url, { token: u.token, photo: 'tiny-1x1.jpg' }));
      const out = path.join(dir, 'pg');
      const r = await run(['backup', '--out', out, '--data', srv.dataDir, ...topologyArgs(srv.dataDir)]);
      assert.equal(r.code, 0, JSON.stringify(r));
      assert.match(r.out, /restore point picogram-\d{8}T\d{6}Z-\d+ made and archived on 2 PostgreSQL server/);
      const m = JSON.parse(await readFile(path.join(out, 'backup.json'), 'utf8'));
      assert.equal(m.kind, 'postgres');
      assert.equal(m.servers.length, 2);
      for (const s of m.servers) assert.match(s.wal, /^[0-9A-F]{24}$/);
      assert.ok(m.media >= 1 && m.files === m.media * 4, JSON.stringify(m));
      const files = await listFiles(path.join(out, 'photos', 'media'));
      assert.equal(files.length, m.files, 'every photo file copied, and nothing else');
      const again = await run(['restore', out, '--data', path.join(dir, 'pg-into-sqlite')]);
      assert.equal(again.code, 2, JSON.stringify(again));
      assert.match(again.err, /backup of a cluster/);
      const bad = await run(['restore', out, '--data', path.join(dir, 'x'), '--database', `sqlite:${path.join(dir, 'x.db')}`]);
      assert.equal(bad.code, 2, JSON.stringify(bad));
      const sq = await run(['restore', out, '--database', `sqlite:${path.join(dir, 'x.db')}`]);
      assert.equal(sq.code, 2, JSON.stringify(sq));
      assert.match(sq.err, /must be the restored PostgreSQL servers/);
    });

  it('the restore drill: a backup under writes, restored and served, has every write acknowledged before it, and rows and files agree',
    { skip: topology === 'pg' && 'PostgreSQL\'s backups are pg_basebackup\'s and WAL archiving\'s (not built here)' }, async (t) => {
      const alice = await signup(srv.url, uniqueName('bk'));
      const bob = await signup(srv.url, uniqueName('bk'));
      const acked = []; // {kind, media, at}
      let stop = false;
      let n = 0;
      const load = (async () => {
        const mine = [];
        while (!stop && n < 400) {
          n++;
          const up = await uploadPhoto(srv.url, { token: alice.token, photo: 'tiny-1x1.jpg', fields: { caption: `drill ${n} #drill` } });
          assert.equal(up.status, 200, up.text);
          acked.push({ kind: 'photo', media: up.body.data.id, at: Date.now() });
          mine.push(up.body.data.id);
          assertOk(await api(srv.url, 'POST', `/v1/media/${up.body.data.id}/likes`, { token: bob.token }));
          acked.push({ kind: 'like', media: up.body.data.id, at: Date.now() });
          assertOk(await api(srv.url, 'POST', `/v1/media/${up.body.data.id}/comments`, { token: bob.token, form: { text: `seen ${n}` } }));
          acked.push({ kind: 'comment', media: up.body.data.id, text: `seen ${n}`, at: Date.now() });
          if (n % 4 === 0) { // and deletes: a photo of two rounds ago
            const gone = mine.splice(mine.length - 3, 1)[0];
            assertOk(await api(srv.url, 'DELETE', `/v1/media/${gone}`, { token: alice.token }));
            acked.push({ kind: 'delete', media: gone, at: Date.now() });
          }
        }
      })();
      while (n < 12) await new Promise((r) => setTimeout(r, 20));
      const out = path.join(dir, 'drill');
      const began = Date.now();
      const b = await run(['backup', '--out', out, '--data', srv.dataDir, ...topologyArgs(srv.dataDir)]);
      const ended = Date.now();
      const more = n;
      while (n < more + 8) await new Promise((r) => setTimeout(r, 20));
      stop = true;
      await load;
      assert.equal(b.code, 0, JSON.stringify(b));
      assert.match(b.out, /^backed up \d+ database\(s\)/);
      t.diagnostic(b.out.trim());
      const manifest = JSON.parse(await readFile(path.join(out, 'backup.json'), 'utf8'));
      assert.equal(manifest.format, 'picogram-backup');
      assert.ok(acked.some((w) => w.at > ended), 'writes went on after the backup');

      const target = path.join(dir, 'restored');
      const r = await run(['restore', out, '--data', target]);
      assert.equal(r.code, 0, JSON.stringify(r));
      assert.match(r.out, /every one with its files/);
      const d = photoDisagreement(target, await listFiles(path.join(target, 'photos', 'media')));
      assert.deepEqual(d.rowsWithoutFiles, []);
      assert.deepEqual(d.filesWithoutRows, []);
      assert.equal(d.rows, manifest.media);

      const served = launchOn(target);
      try {
        const url = await served.url;
        const before = acked.filter((w) => w.at < began);
        const deleted = new Set(before.filter((w) => w.kind === 'delete').map((w) => w.media));
        // a photo deleted while the backup ran may be in it or not (left out if its files went first)
        const racing = new Set(acked.filter((w) => w.kind === 'delete' && w.at >= began).map((w) => w.media));
        assert.ok(before.filter((w) => w.kind === 'photo').length >= 10);
        for (const w of before) {
          const m = await api(url, 'GET', `/v1/media/${w.media}`, { token: alice.token }); // the same tokens work
          if (deleted.has(w.media)) {
            assert.equal(m.status, 404, `${w.media} was deleted before the backup`);
            continue;
          }
          if (racing.has(w.media)) continue;
          assert.equal(m.status, 200, `${w.kind} of ${w.media}, acknowledged before the backup`);
          const media = m.body.data;
          if (w.kind === 'like') assert.ok(media.likes.data.some((u) => u.id === bob.user.id), `the like of ${w.media}`);
          if (w.kind === 'comment') assert.ok(media.comments.data.some((c) => c.text === w.text), `the comment on ${w.media}`);
          if (w.kind === 'photo') {
            const f = await fetch(media.images.standard_resolution.url);
            assert.equal(f.status, 200, `the photo file of ${w.media}`);
          }
        }
      } finally {
        await served.stopCleanly();
      }
    });

  it('a backup never overwrites, a restore never goes into a directory in use, and an unfinished backup is refused', async () => {
    if (topology === 'pg') return;
    const out = path.join(dir, 'once');
    assert.equal((await run(['backup', '--out', out, '--data', srv.dataDir, ...topologyArgs(srv.dataDir)])).code, 0);
    const again = await run(['backup', '--out', out, '--data', srv.dataDir, ...topologyArgs(srv.dataDir)]);
    assert.equal(again.code, 2, JSON.stringify(again));
    assert.match(again.err, /new directory/);
    assert.equal((await run(['backup', '--data', srv.dataDir])).code, 2, 'no --out');
    const used = path.join(dir, 'used');
    await mkdir(used);
    await writeFile(path.join(used, 'something'), 'x');
    const r = await run(['restore', out, '--data', used]);
    assert.equal(r.code, 2, JSON.stringify(r));
    assert.match(r.err, /not empty/);
    // a backup killed part way has no backup.json: it is not one
    const half = path.join(dir, 'half');
    await mkdir(half);
    await writeFile(path.join(half, 'picogram.db'), 'x');
    const h = await run(['restore', half, '--data', path.join(dir, 'from-half')]);
    assert.equal(h.code, 2, JSON.stringify(h));
    assert.match(h.err, /not a finished picogram backup/);
    assert.equal((await run(['restore', out])).code, 2, 'no --data');
  });
});
