// GET /readyz: 200 when every backend the server needs answers (each
// database, the photo store, Redis), else a 503 that names the ones down;
// and on SIGTERM with drain_seconds, 503 at once while everything else is
// still served, then the port closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { startServer, api, signup, uniqueName, external, topology, startRedis, show } from './lib.mjs';
import { poll } from './feed_util.mjs';

const readyz = (url) => api(url, 'GET', '/readyz');
const databases = topology === 'pg' || topology === 'sqlite2' ? 2 : 1;

test('ready: every database and the photo store answer; a missing photo store is named in a 503', { skip: external }, async () => {
  const srv = await startServer();
  try {
    const ok = await readyz(srv.url);
    assert.equal(ok.status, 200, show(ok));
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal(ok.body.data.status, 'ready');
    const names = Object.keys(ok.body.data.backends);
    for (let i = 0; i < databases; i++) assert.equal(ok.body.data.backends[`database_${i}`], 'ok', names.join(' '));
    assert.equal(names.filter((n) => n.startsWith('database_')).length, databases);
    assert.equal(ok.body.data.backends.photo_store, 'ok');

    // the photo store's directory gone: not ready, and said why
    const photos = path.join(srv.dataDir, 'photos');
    await rename(photos, `${photos}.away`);
    try {
      const down = await readyz(srv.url);
      assert.equal(down.status, 503, show(down));
      assert.equal(down.body.meta.code, 503);
      assert.match(down.body.meta.error_message, /^not ready: photo_store \(cannot write in .*photos/);
      assert.equal(down.body.data.status, 'unready');
      assert.match(down.body.data.backends.photo_store, /^down: /);
      assert.equal(down.body.data.backends.database_0, 'ok');
      // the API itself still answers what needs no photo store
      const u = await signup(srv.url, uniqueName('ready'));
      assert.equal((await api(srv.url, 'GET', '/v1/users/self', { token: u.token })).status, 200);
    } finally {
      await rename(`${photos}.away`, photos);
    }
    assert.equal((await readyz(srv.url)).status, 200);
  } finally {
    await srv.stop();
  }
});

test('ready: Redis killed is a 503 naming it, fast; back, ready again', { skip: external, timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const srv = await startServer(['--redis', redis.url]);
  try {
    const ok = await readyz(srv.url);
    assert.equal(ok.status, 200, show(ok));
    assert.equal(ok.body.data.backends.redis, 'ok');
    await redis.kill();
    const t0 = Date.now();
    const down = await readyz(srv.url);
    assert.ok(Date.now() - t0 < 3000, `a dead Redis answered in ${Date.now() - t0} ms`);
    assert.equal(down.status, 503, show(down));
    assert.match(down.body.meta.error_message, /not ready: .*redis \(/);
    assert.match(down.body.data.backends.redis, /^down: /);
    assert.equal(down.body.data.backends.photo_store, 'ok');
    await redis.start();
    const back = await poll(async () => (await readyz(srv.url)).status === 200, { timeout: 10_000, interval: 200 });
    assert.ok(back.ok, 'ready again once Redis is back');
  } finally {
    await srv.stop();
    await redis.stop();
  }
});

test('drain: on SIGTERM /readyz is 503 at once, the API still answers, then the port closes', { skip: external, timeout: 30_000 }, async () => {
  const srv = await startServer(['--drain-seconds', '3']);
  try {
    const u = await signup(srv.url, uniqueName('drain'));
    assert.equal((await readyz(srv.url)).status, 200);
    const self = () => fetch(`${srv.url}/v1/users/self`, { headers: { authorization: `Bearer ${u.token}` } });
    assert.equal((await self()).headers.get('connection'), 'keep-alive');
    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    const draining = await poll(async () => (await readyz(srv.url)).status === 503, { timeout: 2000, interval: 20 });
    assert.ok(draining.ok, 'readyz turns 503 on SIGTERM');
    const r = await readyz(srv.url);
    assert.equal(r.body.data.status, 'draining');
    assert.equal(r.body.meta.error_type, 'ServiceUnavailable');
    // everything else is served as ever while it drains, reads and writes,
    // each connection closed after its answer
    const during = await self();
    assert.equal(during.status, 200);
    assert.equal(during.headers.get('connection'), 'close');
    const edit = await api(srv.url, 'POST', '/v1/users/self', { token: u.token, form: { bio: 'drained' } });
    assert.equal(edit.status, 200, show(edit));
    assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
    assert.ok(Date.now() - t0 < 2500, 'all of that within the drain');
    const gone = await poll(() => srv.exited(), { timeout: 10_000, interval: 20 }); // no second signal
    assert.ok(gone.ok, 'it stops after the drain');
    assert.equal(gone.value.code, 0);
    const took = Date.now() - t0;
    assert.ok(took >= 2900 && took < 10_000, `stopped ${took} ms after SIGTERM (drain 3 s)`);
    assert.match(srv.stderr(), /draining for 3 s/);
  } finally {
    await srv.stop();
  }
});

test('drain: a second signal stops at once', { skip: external, timeout: 30_000 }, async () => {
  const srv = await startServer(['--drain-seconds', '60']);
  try {
    srv.proc.kill('SIGTERM');
    const draining = await poll(async () => (await readyz(srv.url)).status === 503, { timeout: 2000, interval: 20 });
    assert.ok(draining.ok);
    const t0 = Date.now();
    srv.proc.kill('SIGTERM');
    const gone = await poll(() => srv.exited(), { timeout: 10_000, interval: 20 });
    assert.ok(gone.ok && gone.value.code === 0, JSON.stringify(gone.value));
    assert.ok(Date.now() - t0 < 5000, `stopped ${Date.now() - t0} ms after the second signal`);
  } finally {
    await srv.stop();
  }
});
