// Two servers on the same databases sharing one object cache, two real
// memcached instances (`cache = memcached://...`): what a write through one
// server changes (a name, a like, a comment, a caption, going private) is
// read right through the other on the very next request, with no wait (the
// bus only promises "soon"). The entries are spread over
// both instances, under versioned keys, each with a TTL. An instance that
// dies costs reads a trip to the database, never a wrong answer or a hang;
// an invalidation a hung instance could not take is retried until it does.
import { test } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, uploadPhoto, external, show, startMemcached, memcachedCommand } from './lib.mjs';
import { poll } from './feed_util.mjs';

test('a shared memcached cache: writes through one server are read through the other at once; faults cost speed, not truth',
  { skip: external, timeout: 120_000 }, async (t) => {
    const mcs = [await startMemcached(), await startMemcached()];
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-mc-'));
    // memcached alone: no local tier, even where the topology sets a Redis
    const flags = ['--cache', `memcached://${mcs[0].addr},${mcs[1].addr}`, '--near-cache', 'off'];
    const servers = [];
    try {
      servers.push(launchOn(dataDir, flags));
      const a = await servers[0].url;
      servers.push(launchOn(dataDir, flags));
      const b = await servers[1].url;
      const hz = await api(b, 'GET', '/healthz');
      assert.equal(hz.body.data.cache, 'shared', show(hz));
      assert.equal(hz.body.data.cache_bus, 'off', 'a shared cache needs no bus');

      const owner = await signup(a, uniqueName('mcown'));
      const viewer = await signup(b, uniqueName('mcvis'));
      const up = await uploadPhoto(a, { token: owner.token, photo: 'tiny-1x1.jpg', fields: { caption: 'first words' } });
      assert.equal(up.status, 200, show(up));
      const media = up.body.data;
      const onB = (p) => api(b, 'GET', p, { token: viewer.token });
      const nameOnB = async () => (await onB(`/v1/users/${owner.user.id}`)).body?.data?.full_name;
      // the photo embeds its owner's short JSON: the owner's user entry (kind 1, no short TTL)
      const ownerOnB = async () => (await onB(`/v1/media/${media.id}`)).body?.data?.user?.full_name;

      // read-your-writes across servers, every time, no polling
      for (let i = 0; i < 15; i++) {
        assert.equal((await onB(`/v1/users/${owner.user.id}`)).status, 200); // B has it cached
        assert.equal((await onB(`/v1/media/${media.id}`)).status, 200);
        const w = await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { full_name: `name ${i}` } });
        assert.equal(w.status, 200, show(w));
        assert.equal(await nameOnB(), `name ${i}`, `write ${i} through A is read through B at once`);
        assert.equal((await onB(`/v1/media/${media.id}`)).body.data.user.full_name, `name ${i}`);
      }
      assert.equal((await api(a, 'POST', `/v1/media/${media.id}/likes`, { token: owner.token })).status, 200);
      assert.equal((await onB(`/v1/media/${media.id}`)).body.data.likes.count, 1, 'a like through A counts on B at once');
      const c = await api(a, 'POST', `/v1/media/${media.id}/comments`, { token: owner.token, form: { text: 'a new comment' } });
      assert.equal(c.status, 200, show(c));
      assert.equal((await onB(`/v1/media/${media.id}`)).body.data.comments.count, 1, 'a comment through A counts on B at once');
      const e = await api(a, 'POST', `/v1/media/${media.id}`, { token: owner.token, form: { caption: 'second words' } });
      assert.equal(e.status, 200, show(e));
      assert.equal((await onB(`/v1/media/${media.id}`)).body.data.caption?.text, 'second words',
        'a caption edited through A reads new on B at once');
      assert.equal((await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'true' } })).status, 200);
      const refused = await onB(`/v1/media/${media.id}`);
      assert.equal(refused.status, 400, `a private owner's photo is refused on B at once: ${show(refused)}`);
      assert.equal((await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'false' } })).status, 200);

      // the entries: in both instances, versioned keys, every one with a TTL
      for (let i = 0; i < 24; i++) {
        const u = await signup(i % 2 ? a : b, uniqueName('mcfill'));
        assert.equal((await onB(`/v1/users/${u.user.id}`)).status, 200); // a profile entry each
      }
      const held = await Promise.all(mcs.map((m) => m.keys()));
      for (const [i, keys] of held.entries()) {
        const ours = keys.filter((k) => k.key.startsWith('pg:'));
        assert.ok(ours.length > 0, `instance ${i} holds a share of the keys`);
        for (const k of ours) {
          assert.match(k.key, /^pg:v\d+:[0-9a-f]{16}:\d+:-?\d+(:r)?$/, 'keys carry the layout and the cluster');
          assert.ok(k.exp > 0, `every entry has a TTL: ${k.key} exp=${k.exp}`);
        }
      }
      t.diagnostic(`keys: ${held.map((k) => k.length).join(' + ')}`);

      // which instance holds the owner's user entry: under this build's
      // layout, the highest there (a delete also leaves a tombstone under
      // the layout before, for a rolling deploy, which no fill ever replaces)
      const layout = Math.max(...held.flat().map((k) => Number(/^pg:v(\d+):/.exec(k.key)?.[1] ?? 0)));
      const userKey = new RegExp(`^pg:v${layout}:[0-9a-f]{16}:1:${owner.user.id}$`);
      await ownerOnB();
      const whereKey = async () => {
        for (const [i, m] of mcs.entries()) {
          const k = (await m.keys()).find((e) => userKey.test(e.key));
          if (k) return { i, key: k.key };
        }
        return null;
      };
      const found = await poll(whereKey, { timeout: 3000, interval: 50 });
      assert.ok(found.ok, 'the owner is cached');
      const { i: xi, key } = found.value;
      const x = mcs[xi];

      // the instance dies: answers stay right, and fast
      await x.kill();
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const w = await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { full_name: `dead ${i}` } });
        assert.equal(w.status, 200, show(w));
        assert.equal(await nameOnB(), `dead ${i}`, 'with an instance dead, B reads the truth');
        assert.equal(await ownerOnB(), `dead ${i}`);
        assert.ok(Date.now() - t0 < 1500, `a write and a read with an instance dead take ${Date.now() - t0} ms`);
      }
      await x.start();
      const back = await poll(async () => (await ownerOnB()) === 'dead 2' && (await whereKey())?.i === xi,
        { timeout: 5000, interval: 100 });
      assert.ok(back.ok, 'a restarted instance is used again');

      // the instance hangs: a write's invalidation it cannot take is
      // queued, and lands once it answers again
      // (the last write's tombstone goes first: reads fill once it is gone)
      const cached = await poll(async () => (await ownerOnB()) === 'dead 2' &&
        (await memcachedCommand(x.port, `get ${key}`)).includes('dead 2'), { timeout: 8000, interval: 100 });
      assert.ok(cached.ok, 'the instance holds the entry');
      x.pause();
      const t0 = Date.now();
      const w = await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { full_name: 'after the hang' } });
      assert.equal(w.status, 200, show(w));
      assert.equal(await nameOnB(), 'after the hang', 'with an instance hung, B reads the truth');
      assert.equal(await ownerOnB(), 'after the hang');
      assert.ok(Date.now() - t0 < 1500, `a write and a read with an instance hung take ${Date.now() - t0} ms`);
      t.diagnostic(`a write and two reads with an instance hung: ${Date.now() - t0} ms`);
      // then the hung instance is skipped: reads of its keys no longer wait
      // out its 200 ms timeout each (its process still takes connections)
      const t1 = Date.now();
      for (let i = 0; i < 3; i++) assert.equal(await ownerOnB(), 'after the hang');
      assert.ok(Date.now() - t1 < 450, `three reads of a hung instance's key take ${Date.now() - t1} ms`);
      x.resume();
      const healed = await poll(async () => !(await memcachedCommand(x.port, `get ${key}`)).includes('dead 2'),
        { timeout: 3000, interval: 50 });
      assert.ok(healed.ok, 'the invalidation the hung instance missed is done once it answers');
      t.diagnostic(`missed invalidation done ${healed.ms} ms after the instance came back`);
      assert.equal(await ownerOnB(), 'after the hang');
      assert.match(servers[0].stderr(), /memcached: an invalidation could not be done/);
      const done = await poll(() => /memcached: the invalidations that failed are done/.test(servers[0].stderr()),
        { timeout: 3000, interval: 50 });
      assert.ok(done.ok, servers[0].stderr());

      // a clean stop (under ASan: nothing leaked)
      for (const s of servers) s.proc.kill('SIGTERM');
      for (const [i, s] of servers.entries()) assert.deepEqual(await s.exited, { code: 0, signal: null }, `server ${i}: ${s.stderr()}`);
    } finally {
      for (const s of servers) s.proc.kill('SIGKILL');
      await Promise.all(servers.map((s) => s.exited));
      for (const m of mcs) await m.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

/** A TCP proxy on loopback to port, whose link can be cut: while cut, what
 * the client sends is dropped (lost on the way, as on a broken network: the
 * instance never sees it, unlike one stopped with SIGSTOP, which reads what
 * was sent once it runs again). */
function cutProxy(port) {
  const socks = new Set();
  let cut = false;
  const server = net.createServer((c) => {
    const u = net.connect(port, '127.0.0.1');
    for (const [from, to, up] of [[c, u, true], [u, c, false]]) {
      socks.add(from);
      from.on('data', (d) => { if (!(up && cut) && !to.destroyed) to.write(d); });
      from.on('close', () => to.destroy());
      from.on('error', () => {});
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    addr: `127.0.0.1:${server.address().port}`,
    cut() { cut = true; },
    heal() { cut = false; },
    close: () => { for (const x of socks) x.destroy(); server.close(); },
  })));
}

test('two instances cut off at once: the one reached again gets the invalidations it missed, while the other is still cut off',
  { skip: external, timeout: 90_000 }, async (t) => {
    const mcs = [await startMemcached(), await startMemcached()];
    const links = [await cutProxy(mcs[0].port), await cutProxy(mcs[1].port)];
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-mc2-'));
    const flags = ['--cache', `memcached://${links[0].addr},${links[1].addr}`, '--near-cache', 'off'];
    const servers = [];
    try {
      servers.push(launchOn(dataDir, flags));
      const a = await servers[0].url;
      servers.push(launchOn(dataDir, flags));
      const b = await servers[1].url;
      const viewer = await signup(b, uniqueName('mc2vis'));
      // a user's short JSON (kind 1, no short TTL), as a photo of theirs
      // embeds it, read through B
      const onB = async (u) => (await api(b, 'GET', `/v1/media/${u.media}`, { token: viewer.token })).body?.data?.user?.full_name;
      // a user whose entry lives on each instance (under this build's
      // layout): sixteen sign-ups with a photo each, read through B once
      // any tombstone a sign-up left (3 s) is gone, so that the reads fill
      // the cache
      const made = [];
      for (let i = 0; i < 16; i++) {
        const name = `first name ${i} here`;
        const u = await signup(a, uniqueName('mc2u'), 'password123', { full_name: name });
        const up = await uploadPhoto(a, { token: u.token, photo: 'tiny-1x1.jpg' });
        assert.equal(up.status, 200, show(up));
        made.push({ ...u, name, media: up.body.data.id });
      }
      await new Promise((r) => setTimeout(r, 3200));
      for (const u of made) assert.equal(await onB(u), u.name);
      const held = await Promise.all(mcs.map((m) => m.keys()));
      const layout = Math.max(...held.flat().map((k) => Number(/^pg:v(\d+):/.exec(k.key)?.[1] ?? 0)));
      const users = [null, null];
      for (const u of made) {
        const re = new RegExp(`^pg:v${layout}:[0-9a-f]{16}:1:${u.user.id}$`);
        const at = held.findIndex((keys) => keys.some((k) => re.test(k.key)));
        if (at >= 0 && !users[at]) users[at] = { ...u, key: held[at].find((k) => re.test(k.key)).key };
      }
      assert.ok(users[0] && users[1], `a user cached on each instance: ${JSON.stringify(held.map((k) => k.map((e) => e.key)))}`);
      const holds = async (i, text) => (await memcachedCommand(mcs[i].port, `get ${users[i].key}`)).includes(text);
      for (const i of [0, 1]) assert.ok(await holds(i, users[i].name), `instance ${i} holds its user`);

      // both cut off. The second user is renamed, then the first, five
      // times over half a second: a retry pass takes the queue whole and
      // puts what failed back behind what came meanwhile, so the first
      // user's deletes (their instance cut off) end up queued ahead of the
      // second user's
      for (const l of links) l.cut();
      const rename = async (i, name) => {
        const w = await api(a, 'POST', '/v1/users/self', { token: users[i].token, form: { full_name: name } });
        assert.equal(w.status, 200, show(w));
        assert.equal(await onB(users[i]), name, 'with both instances cut off, B reads the truth');
      };
      await rename(1, 'renamed 1');
      for (let k = 0; k < 5; k++) {
        await rename(0, 'renamed 0');
        await new Promise((r) => setTimeout(r, 100));
      }
      // the second is reached again, the first still cut off: the second's
      // missed invalidation lands (it does not wait behind the first's)
      links[1].heal();
      const healed = await poll(async () => !(await holds(1, users[1].name)), { timeout: 4000, interval: 50 });
      assert.ok(healed.ok, 'the instance reached again gets its invalidation while the other is still cut off');
      t.diagnostic(`done ${healed.ms} ms after the link came back, the other still cut`);
      assert.equal(await onB(users[1]), 'renamed 1');
      assert.ok(await holds(0, users[0].name), 'the instance cut off still holds the stale entry');
      links[0].heal();
      const both = await poll(async () => !(await holds(0, users[0].name)), { timeout: 4000, interval: 50 });
      assert.ok(both.ok, 'and the other, once reached');
      assert.equal(await onB(users[0]), 'renamed 0');
      const done = await poll(() => /memcached: the invalidations that failed are done/.test(servers[0].stderr()),
        { timeout: 3000, interval: 50 });
      assert.ok(done.ok, servers[0].stderr());
    } finally {
      for (const s of servers) s.proc.kill('SIGKILL');
      await Promise.all(servers.map((s) => s.exited));
      for (const l of links) l.close();
      for (const m of mcs) await m.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

test('a bad cache URL is refused at start, with the reason', { skip: external, timeout: 20_000 }, async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-mcbad-'));
  try {
    for (const url of ['memcached://', 'memcached://host', 'memcached://h:0', 'memcached://h:99999', 'memcache://h:1',
      'memcached://h:1,', 'redis://h:1']) {
      const s = launchOn(dataDir, ['--cache', url]);
      const { code } = await s.exited;
      assert.notEqual(code, 0, url);
      assert.match(s.stderr(), /bad cache URL/, `${url}: ${s.stderr()}`);
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
