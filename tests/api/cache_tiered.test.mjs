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
import { launchOn, api, signup, uniqueName, uploadPhoto, external, show, startMemcached, startRedis, memcachedCommand } from './lib.mjs';
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

/** A TCP proxy on loopback to a memcached on port that, while `refusing`,
 * answers every `set` (a delete's tombstone: fills are `add`s) with a
 * SERVER_ERROR of its own instead of passing it on, as an instance out of
 * memory does: the delete fails at once (no timeout, so the instance is
 * not skipped) while reads go on reaching the instance. */
function refusingProxy(port) {
  const socks = new Set();
  let refusing = false;
  const server = net.createServer((c) => {
    const u = net.connect(port, '127.0.0.1');
    let swallow = false; // the data line of a refused set, if it came apart
    socks.add(c);
    socks.add(u);
    c.on('data', (d) => {
      const text = d.toString('latin1');
      if (swallow && text === '\r\n') { swallow = false; return; }
      if (refusing && text.startsWith('flush_all')) {
        c.write('SERVER_ERROR refused by the test\r\n');
        return;
      }
      if (refusing && text.startsWith('set ')) {
        swallow = text.indexOf('\r\n') === text.length - 2; // the line alone: its (empty) data follows
        c.write('SERVER_ERROR refused by the test\r\n');
        return;
      }
      if (!u.destroyed) u.write(d);
    });
    u.on('data', (d) => { if (!c.destroyed) c.write(d); });
    for (const s of [c, u]) {
      s.on('close', () => { c.destroy(); u.destroy(); });
      s.on('error', () => {});
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    addr: `127.0.0.1:${server.address().port}`,
    refuse() { refusing = true; },
    heal() { refusing = false; },
    close: () => { for (const x of socks) x.destroy(); server.close(); },
  })));
}

// Two servers on one memcached instance and one Redis: A reaches the
// instance through refusingProxy (with envA), B directly. Both read the
// owner's photo once (the owner named 'old name'), so memcached and both
// local tiers hold the owner. body(ctx) runs the test; everything stops after.
async function acrossRefusingLink(prefix, envA, body) {
  const mc = await startMemcached();
  const redis = await startRedis();
  const link = await refusingProxy(mc.port);
  const dataDir = await mkdtemp(path.join(tmpdir(), `picogram-${prefix}-`));
  const servers = [launchOn(dataDir, ['--cache', `memcached://${link.addr}`, '--redis', redis.url], envA)];
  try {
    const a = await servers[0].url;
    servers.push(launchOn(dataDir, ['--cache', `memcached://${mc.addr}`, '--redis', redis.url]));
    const b = await servers[1].url;
    for (const u of [a, b]) {
      const live = await poll(async () => (await api(u, 'GET', '/healthz')).body.data.cache_bus === 'live',
        { timeout: 5000, interval: 50 });
      assert.ok(live.ok, `the bus is live on ${u}`);
    }
    const owner = await signup(a, uniqueName(`${prefix}own`), 'password123', { full_name: 'old name' });
    const viewer = await signup(b, uniqueName(`${prefix}vis`));
    const up = await uploadPhoto(a, { token: owner.token, photo: 'tiny-1x1.jpg' });
    assert.equal(up.status, 200, show(up));
    const name = async (u) => (await api(u, 'GET', `/v1/media/${up.body.data.id}`, { token: viewer.token })).body?.data?.user?.full_name;
    // the sign-up's tombstones gone (3 s), the reads fill memcached and
    // both local tiers
    await new Promise((r) => setTimeout(r, 3200));
    for (const u of [a, b]) assert.equal(await name(u), 'old name');
    const rename = async (n) => {
      const w = await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { full_name: n } });
      assert.equal(w.status, 200, show(w));
    };
    // once A's failed deletes are done, B reads the new name, and goes on
    const settles = async (why) => {
      const done = await poll(() => /memcached: the invalidations that failed are done/.test(servers[0].stderr()),
        { timeout: 5000, interval: 50 });
      assert.ok(done.ok, servers[0].stderr());
      const fresh = await poll(async () => (await name(b)) === 'new name', { timeout: 3000, interval: 50 });
      assert.ok(fresh.ok, why);
      for (let i = 0; i < 5; i++) assert.equal(await name(b), 'new name', `and goes on reading it (${i})`);
      assert.equal(await name(a), 'new name');
    };
    await body({ mc, link, servers, a, b, owner, name, rename, settles });
  } finally {
    for (const s of servers) s.proc.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    link.close();
    await mc.stop();
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

// A delete that memcached refuses is queued and retried (memcached.c). The
// process that made it must not read the old entry meanwhile (its own
// write would read stale), nor fill the key; another process may read the
// old entry meanwhile, but once the delete lands it is published again,
// and the copy that process took goes.
test('a delete memcached refused: not read stale by its writer meanwhile, and published again once done',
  { skip: external, timeout: 60_000 }, (t) => acrossRefusingLink('tl', undefined, async ({ mc, link, a, b, owner, name, rename, settles }) => {
    const ownerKey = async () => (await mc.keys()).find((k) => k.key.endsWith(`:1:${owner.user.id}`));
    assert.ok(await ownerKey(), 'memcached holds the owner');
    link.refuse();
    await rename('new name');
    const held = await memcachedCommand(mc.port, `get ${(await ownerKey()).key}`);
    assert.ok(held.includes('old name'), 'the delete was refused: memcached still holds the old entry');
    // A never reads what its delete is owed on, though the instance answers
    for (let i = 0; i < 3; i++) assert.equal(await name(a), 'new name', `A reads its own write (${i})`);
    // B may read the old entry now (it cannot know), and copy it
    const meanwhile = await name(b);
    t.diagnostic(`B meanwhile: ${meanwhile}`);
    link.heal();
    // B's copy, if it took one, goes with the delete published again
    await settles(`B reads the new name once the delete is done (it read ${meanwhile} meanwhile)`);
  }));

// Past its queue's bound, the failed deletes give way to one flush of every
// instance (memcached.c). Another process may read the old entries meanwhile
// and copy them into its local tier; once the flush is done, a clear of every
// local tier is published, and those copies go too.
test('a flush owed for failed deletes: once done, every local tier is cleared',
  { skip: external, timeout: 60_000 }, () => acrossRefusingLink('tf', { PICOGRAM_MC_QUEUE_MAX: '2' }, async ({ link, servers, a, b, name, rename, settles }) => {
    link.refuse(); // tombstones and flushes
    for (const n of ['name 1', 'name 2', 'new name']) await rename(n);
    const owed = await poll(() => /a flush of every instance is owed/.test(servers[0].stderr()), { timeout: 3000, interval: 50 });
    assert.ok(owed.ok, servers[0].stderr());
    // A reads nothing from memcached while the flush is owed
    for (let i = 0; i < 3; i++) assert.equal(await name(a), 'new name', `A reads its own write (${i})`);
    // B reads memcached's old entry (the bus dropped its copy, and the
    // delete did not reach memcached) and copies it into its local tier
    assert.equal(await name(b), 'old name', 'B reads the old entry meanwhile');
    link.heal();
    await settles('B reads the new name once the flush is done: its local tier was cleared');
  }));
