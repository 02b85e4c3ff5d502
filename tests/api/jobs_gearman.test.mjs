// Jobs through a real gearmand (`job_server = gearman://...`): a server with
// --job-threads 0 relays each committed job to gearmand, and a
// `picogram worker` runs what gearmand hands it; with no worker, the jobs
// wait in gearmand's queue. The outbox stays the
// truth, so nothing is lost when gearmand is killed with jobs queued
// (its queue persists) or is down when a job is made (the worker's sweep
// runs it), and a write never waits on a dead gearmand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  launchOn, launchWorker, api, signup, uniqueName, uploadPhoto, external, show, startGearmand, gearmandAdmin,
} from './lib.mjs';
import { poll } from './feed_util.mjs';

const FN = 'picogram_jobs_v1_';

test('gearmand carries the jobs from a server to a worker; killed or down, it loses none',
  { skip: external, timeout: 120_000 }, async (t) => {
    const gm = await startGearmand();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-gearman-'));
    const flags = ['--job-server', gm.url];
    let server;
    let worker;
    try {
      server = launchOn(dataDir, [...flags, '--job-threads', '0']);
      const url = await server.url;
      worker = launchWorker(dataDir, [...flags, '--job-threads', '2']);
      const registered = await poll(async () => /picogram_jobs_v1_[0-9a-f]{16}\t\d+\t\d+\t2\n/.test(await gearmandAdmin(gm.port, 'status')),
        { timeout: 5000, interval: 50 });
      assert.ok(registered.ok, `the worker's two runners wait on gearmand: ${await gearmandAdmin(gm.port, 'status')}`);

      const author = await signup(url, uniqueName('gmauth'));
      const fan = await signup(url, uniqueName('gmfan'));
      const f = await api(url, 'POST', `/v1/users/${author.user.id}/relationship`, { token: fan.token, form: { action: 'follow' } });
      assert.equal(f.status, 200, show(f));
      const feed = async () => (await api(url, 'GET', '/v1/users/self/feed', { token: fan.token })).body.data.map((m) => m.id);
      const post = async (caption) => {
        const up = await uploadPhoto(url, { token: author.token, photo: 'tiny-1x1.jpg', fields: { caption } });
        assert.equal(up.status, 200, show(up));
        return up.body.data.id;
      };
      const arrives = async (id, timeout = 5000) => (await poll(async () => (await feed()).includes(id), { timeout, interval: 25 }));

      // the post's fan-out goes through gearmand
      let m = await post('one');
      let seen = await arrives(m);
      assert.ok(seen.ok, `the worker fans the post out: ${worker.stderr()}`);
      t.diagnostic(`fan-out through gearmand seen after ${seen.ms} ms`);

      // with the worker gone, the job waits in gearmand's queue (the worker
      // exits rather than being stopped: a process stopped inside a SQLite
      // transaction would hold the server's writes)
      const stopWorker = async () => {
        worker.proc.kill('SIGTERM');
        assert.deepEqual(await worker.exited, { code: 0, signal: null }, worker.stderr());
      };
      await stopWorker();
      m = await post('two');
      const queued = await poll(async () => (await gm.queued(FN)) >= 1, { timeout: 3000, interval: 25 });
      assert.ok(queued.ok, 'the committed job is relayed to gearmand');
      // gearmand is killed with the job queued, and comes back on its queue
      await gm.kill();
      await gm.start();
      const kept = await poll(async () => (await gm.queued(FN)) >= 1, { timeout: 3000, interval: 50 });
      assert.ok(kept.ok, "gearmand's queue persists across a kill -9");
      worker = launchWorker(dataDir, [...flags, '--job-threads', '2']);
      seen = await arrives(m, 10_000);
      assert.ok(seen.ok, `the job queued before gearmand's kill runs after it: ${worker.stderr()}`);

      // gearmand down: writes do not wait on it, and the worker's sweep runs their jobs
      await gm.kill();
      const t0 = Date.now();
      m = await post('three');
      assert.ok(Date.now() - t0 < 2000, `a post with gearmand down takes ${Date.now() - t0} ms`);
      seen = await arrives(m, 10_000);
      assert.ok(seen.ok, `with gearmand down, the sweep runs the job: ${worker.stderr()}`);
      assert.match(server.stderr(), /gearmand .* cannot take jobs/);

      // back: the worker registers again, and relays resume
      await gm.start();
      const again = await poll(async () => /picogram_jobs_v1_[0-9a-f]{16}\t\d+\t\d+\t2\n/.test(await gearmandAdmin(gm.port, 'status')),
        { timeout: 10_000, interval: 100 });
      assert.ok(again.ok, `the runners wait on gearmand again: ${worker.stderr()}`);
      await stopWorker();
      const relayed = await poll(async () => {
        const id = await post('four');
        return (await poll(async () => (await gm.queued(FN)) >= 1, { timeout: 1500, interval: 25 })).ok && id;
      }, { timeout: 8000, interval: 200 });
      assert.ok(relayed.ok, `relays resume once gearmand is back: ${server.stderr()}`);
      worker = launchWorker(dataDir, [...flags, '--job-threads', '2']);
      assert.ok((await arrives(relayed.value)).ok, `and the worker runs what they carry: ${worker.stderr()}`);

      for (const p of [worker, server]) p.proc.kill('SIGTERM');
      assert.deepEqual(await worker.exited, { code: 0, signal: null }, worker.stderr());
      assert.deepEqual((await server.exited).code, 0, server.stderr());
      worker = server = null;
    } finally {
      for (const p of [worker, server]) {
        if (p && p.proc.exitCode === null && p.proc.signalCode === null) { p.proc.kill('SIGKILL'); await p.exited; }
      }
      await gm.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

test('a bad job_server URL is refused at start, with the reason', { skip: external, timeout: 20_000 }, async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-gmbad-'));
  try {
    for (const u of ['gearman://', 'gearman://h', 'gearman://h:0', 'gearman://h:70000', 'gearmand://h:1', 'gearman://h:1,']) {
      const s = launchOn(dataDir, ['--job-server', u]);
      const { code } = await s.exited;
      assert.notEqual(code, 0, u);
      assert.match(s.stderr(), /bad job_server URL/, `${u}: ${s.stderr()}`);
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
