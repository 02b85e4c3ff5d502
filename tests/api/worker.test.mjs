// `picogram worker`: the background jobs in a process of their own. A
// server with --job-threads 0 runs none (a post reaches no follower's
// timeline), a worker on the same databases runs them (the post arrives,
// and the server's cached feed head hears of it over Redis at once), and a
// worker stops cleanly on SIGTERM. With metrics_listen, a worker serves
// its own GET /metrics: the jobs it ran, its databases and its process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { launchOn, launchWorker, api, signup, uniqueName, uploadPhoto, external, show, startRedis, freePort } from './lib.mjs';
import { poll, sleep } from './feed_util.mjs';

test('picogram worker runs the jobs a server with --job-threads 0 leaves', { skip: external, timeout: 90_000 }, async () => {
  const redis = await startRedis();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-worker-'));
  let server;
  let worker;
  try {
    server = launchOn(dataDir, ['--redis', redis.url, '--job-threads', '0']);
    const url = await server.url;
    const author = await signup(url, uniqueName('wkauth'));
    const fan = await signup(url, uniqueName('wkfan'));
    const f = await api(url, 'POST', `/v1/users/${author.user.id}/relationship`, { token: fan.token, form: { action: 'follow' } });
    assert.equal(f.status, 200, show(f));
    const feed = async () => {
      const r = await api(url, 'GET', '/v1/users/self/feed', { token: fan.token });
      assert.equal(r.status, 200, show(r));
      return r.body.data.map((m) => m.id);
    };
    assert.deepEqual(await feed(), []); // built now, and its head cached by the server
    const up = await uploadPhoto(url, { token: author.token, photo: 'tiny-1x1.jpg', fields: { caption: 'for the worker' } });
    assert.equal(up.status, 200, show(up));
    await sleep(1500);
    assert.deepEqual(await feed(), [], 'no job runs in a server with --job-threads 0');

    const metricsPort = await freePort();
    worker = launchWorker(dataDir, ['--redis', redis.url, '--metrics-listen', `127.0.0.1:${metricsPort}`]);
    // within 3 s: the server's cached head (5 s TTL) must hear of the change, not wait it out
    const arrived = await poll(async () => (await feed()).includes(up.body.data.id), { timeout: 3000, interval: 50 });
    assert.ok(arrived.ok, `the worker fans the post out, and the server hears of it: ${worker.stderr()}`);
    assert.match(worker.stderr(), /picogram worker: 1 job thread/);
    // its own /metrics (metrics_listen): the jobs it ran, no request series
    const ran = await poll(async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return /^picogram_job_runs_total\{kind="fanout",outcome="done"\} [1-9]/m.test(text) && text;
    }, { timeout: 3000, interval: 50 });
    assert.ok(ran.ok, 'the worker counts the fan-out it ran');
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(text, /^picogram_database_up\{database="0"\} 1$/m);
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.doesNotMatch(text, /picogram_http_requests_total/);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);

    worker.proc.kill('SIGTERM');
    const end = await worker.exited;
    assert.deepEqual(end, { code: 0, signal: null }, worker.stderr());
    assert.match(worker.stderr(), /stopped/);
    worker = null;

    // a worker refuses --job-threads 0, with a message
    const bad = launchWorker(dataDir, ['--job-threads', '0']);
    assert.equal((await bad.exited).code, 1);
    assert.match(bad.stderr(), /job_threads of 1 or more/);
  } finally {
    if (worker) {
      worker.proc.kill('SIGKILL');
      await worker.exited;
    }
    if (server) {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
