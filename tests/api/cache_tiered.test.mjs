// Two servers on the same databases, two memcached and a Redis: each server
// keeps a local tier of the object cache in front of memcached
// (`near_cache = on`, the default with both). What a write through one
// server changes is read through the other on the very next request, while
// the other serves its reads from its own memory (its near hits grow). With
// Redis dead, reads go to memcached alone and stay right; once Redis is
// back, nothing a server copied before or during the outage is read stale.
//
// Each server reaches Redis through a proxy that holds its bytes DELAY_MS:
// A's on their way to Redis, B's on their way back. So A's invalidations
// reach Redis late, and reach B later still: a write that answered before
// publishing them (no flush), or a read on B that did not wait for them
// (no barrier), would be read stale every time, not once in a while.
import { test } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, uploadPhoto, external, show, startMemcached, startRedis } from './lib.mjs';
import { poll } from './feed_util.mjs';

const DELAY_MS = 50;

/** A TCP proxy on loopback to port that holds each chunk, in order, `up` ms on its way there and `down` ms on its way back. */
function delayProxy(port, { up = 0, down = 0 }) {
  const socks = new Set();
  const server = net.createServer((c) => {
    const u = net.connect(port, '127.0.0.1');
    for (const [from, to, ms] of [[c, u, up], [u, c, down]]) {
      socks.add(from);
      from.on('data', (d) => setTimeout(() => { if (!to.destroyed) to.write(d); }, ms));
      from.on('close', () => setTimeout(() => to.destroy(), ms));
      from.on('error', () => {});
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `redis://127.0.0.1:${server.address().port}`,
    close: () => { for (const s of socks) s.destroy(); server.close(); },
  })));
}

test('a local tier in front of memcached: read-your-writes across servers, hits served locally, Redis loss costs speed only',
  { skip: external, timeout: 120_000 }, async (t) => {
    const mcs = [await startMemcached(), await startMemcached()];
    const redis = await startRedis();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-tier-'));
    const proxies = [await delayProxy(redis.port, { up: DELAY_MS }), await delayProxy(redis.port, { down: DELAY_MS })];
    const flags = (i) => ['--cache', `memcached://${mcs[0].addr},${mcs[1].addr}`, '--redis', proxies[i].url];
    const servers = [];
    try {
      servers.push(launchOn(dataDir, flags(0)));
      const a = await servers[0].url;
      servers.push(launchOn(dataDir, flags(1)));
      const b = await servers[1].url;
      const health = async (u) => (await api(u, 'GET', '/healthz')).body.data;
      for (const u of [a, b]) {
        const live = await poll(async () => (await health(u)).cache_bus === 'live', { timeout: 5000, interval: 50 });
        assert.ok(live.ok, `the bus is live on ${u}`);
        assert.equal((await health(u)).cache, 'tiered');
      }

      const owner = await signup(a, uniqueName('tiown'));
      const viewer = await signup(b, uniqueName('tivis'));
      const up = await uploadPhoto(a, { token: owner.token, photo: 'tiny-1x1.jpg', fields: { caption: 'first words' } });
      assert.equal(up.status, 200, show(up));
      const media = up.body.data;
      const onB = (p) => api(b, 'GET', p, { token: viewer.token });
      const ownerOnB = async () => (await onB(`/v1/media/${media.id}`)).body?.data?.user?.full_name;

      // B serves the photo and its owner from its own memory...
      await onB(`/v1/media/${media.id}`);
      const before = (await health(b)).cache_near_hits;
      for (let i = 0; i < 5; i++) assert.equal((await onB(`/v1/media/${media.id}`)).status, 200);
      const after = (await health(b)).cache_near_hits;
      assert.ok(after - before >= 5, `B's reads hit its local tier: ${before} -> ${after}`);

      // ...and still reads every write made through A on the very next
      // request, though A's invalidations reach B 2 * DELAY_MS late
      for (let i = 0; i < 30; i++) {
        assert.equal((await onB(`/v1/media/${media.id}`)).status, 200); // B holds a copy
        const w = await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { full_name: `name ${i}` } });
        assert.equal(w.status, 200, show(w));
        assert.equal(await ownerOnB(), `name ${i}`, `write ${i} through A is read through B at once`);
      }
      const e = await api(a, 'POST', `/v1/media/${media.id}`, { token: owner.token, form: { caption: 'second words' } });
      assert.equal(e.status, 200, show(e));
      assert.equal((await onB(`/v1/media/${media.id}`)).body.data.caption?.text, 'second words', 'a caption edit');
      assert.equal((await api(a, 'POST', `/v1/media/${media.id}/likes`, { token: owner.token })).status, 200);
      assert.equal((await onB(`/v1/media/${media.id}`)).body.data.likes.count, 1, 'a like');
      assert.equal((await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'true' } })).status, 200);
      const refused = await onB(`/v1/media/${media.id}`);
      assert.equal(refused.status, 400, `a private owner's photo is refused on B at once: ${show(refused)}`);
      assert.equal((await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'false' } })).status, 200);
      assert.equal(await ownerOnB(), 'name 29');

      // Redis dies: B cannot prove its copies current, so it reads memcached
      // alone; writes through A are still read at once, and nothing hangs
      await redis.kill();
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const w = await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { full_name: `no redis ${i}` } });
        assert.equal(w.status, 200, show(w));
        assert.equal(await ownerOnB(), `no redis ${i}`, 'with Redis dead, B reads the truth');
        assert.ok(Date.now() - t0 < 2500, `a write and a read with Redis dead take ${Date.now() - t0} ms`);
      }
      const down = await poll(async () => (await health(b)).cache_bus === 'down', { timeout: 5000, interval: 100 });
      assert.ok(down.ok, 'B reports its bus down');
      // Redis comes back (empty): B drops what it copied, and copies again
      await redis.start();
      const relive = await poll(async () => (await health(b)).cache_bus === 'live', { timeout: 8000, interval: 100 });
      assert.ok(relive.ok, 'the bus is live again');
      assert.equal(await ownerOnB(), 'no redis 2');
      const w = await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { full_name: 'redis back' } });
      assert.equal(w.status, 200, show(w));
      assert.equal(await ownerOnB(), 'redis back', 'after the outage, writes are read at once again');
      const h0 = (await health(b)).cache_near_hits;
      const hit = await poll(async () => {
        await ownerOnB();
        return (await health(b)).cache_near_hits > h0;
      }, { timeout: 5000, interval: 100 });
      assert.ok(hit.ok, 'B serves from its local tier again');

      // a clean stop (under ASan: nothing leaked)
      for (const s of servers) s.proc.kill('SIGTERM');
      for (const [i, s] of servers.entries()) assert.deepEqual(await s.exited, { code: 0, signal: null }, `server ${i}: ${s.stderr()}`);
    } finally {
      for (const s of servers) s.proc.kill('SIGKILL');
      await Promise.all(servers.map((s) => s.exited));
      for (const m of mcs) await m.stop();
      for (const p of proxies) p.close();
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
