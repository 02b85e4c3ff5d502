// Two servers on the same databases, each with its own object cache, hear
// each other's invalidations over a real Redis (the `redis` setting): a like,
// a comment or a profile turned private through one server shows on
// the other at once, although the other had the old object cached. With
// Redis killed, each server turns its cache off (reads go to the database,
// still right), and on again when Redis is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, uploadPhoto, external, show, startRedis } from './lib.mjs';
import { poll } from './feed_util.mjs';

const count = (s, re) => (s.match(re) || []).length;
const SUBSCRIBED = /cache bus: subscribed/g;
const LOST = /cache bus: .* cannot be reached/g;

test('cache invalidations reach every server through Redis, and a Redis outage turns caching off, not wrong',
  { skip: external, timeout: 90_000 }, async (t) => {
    const redis = await startRedis();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-bus-'));
    const servers = [];
    try {
      servers.push(launchOn(dataDir, ['--redis', redis.url, '--cache', 'local']));
      const a = await servers[0].url;
      servers.push(launchOn(dataDir, ['--redis', redis.url, '--cache', 'local']));
      const b = await servers[1].url;
      const heard = (re, n) => poll(() => servers.every((s) => count(s.stderr(), re) >= n), { timeout: 10_000 });
      assert.ok((await heard(SUBSCRIBED, 1)).ok, 'both servers subscribe');

      const owner = await signup(a, uniqueName('busown'));
      const stranger = await signup(b, uniqueName('busvis'));
      const up = await uploadPhoto(a, { token: owner.token, photo: 'tiny-1x1.jpg', fields: { caption: 'first words' } });
      assert.equal(up.status, 200, show(up));
      const media = up.body.data;
      const onB = (p) => api(b, 'GET', p, { token: stranger.token });
      // B caches the photo and the owner: read them until they are hits
      for (let i = 0; i < 3; i++) {
        assert.equal((await onB(`/v1/media/${media.id}`)).status, 200);
        assert.equal((await onB(`/v1/users/${owner.user.id}`)).status, 200);
      }

      // a like through A: B's cached photo shows it
      assert.equal((await api(a, 'POST', `/v1/media/${media.id}/likes`, { token: owner.token })).status, 200);
      let seen = await poll(async () => (await onB(`/v1/media/${media.id}`)).body?.data?.likes?.count === 1,
        { timeout: 1000, interval: 20 });
      assert.ok(seen.ok, 'the like shows on B within a second');
      t.diagnostic(`like seen on B after ${seen.ms} ms`);

      // a comment through A: B's cached photo counts it
      assert.equal((await api(a, 'POST', `/v1/media/${media.id}/comments`, { token: owner.token, form: { text: 'hello' } })).status, 200);
      seen = await poll(async () => (await onB(`/v1/media/${media.id}`)).body?.data?.comments?.count === 1,
        { timeout: 1000, interval: 20 });
      assert.ok(seen.ok, 'the comment count shows on B within a second');

      // the owner turns private through A: the stranger on B loses the photo at once
      const priv = await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'true' } });
      assert.equal(priv.status, 200, show(priv));
      seen = await poll(async () => (await onB(`/v1/media/${media.id}`)).status === 400, { timeout: 1000, interval: 20 });
      assert.ok(seen.ok, 'a private owner\'s photo is refused on B within a second');
      t.diagnostic(`privacy seen on B after ${seen.ms} ms`);

      // Redis dies: both servers notice and stop caching; what A changes
      // then shows on B on the next read
      await redis.kill();
      assert.ok((await heard(LOST, 1)).ok, 'both servers notice Redis is gone');
      const pub = await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'false' } });
      assert.equal(pub.status, 200, show(pub));
      const r = await onB(`/v1/media/${media.id}`);
      assert.equal(r.status, 200, `with Redis down, B reads the truth: ${show(r)}`);
      assert.equal((await onB(`/v1/users/${owner.user.id}`)).status, 200, 'and the API keeps answering');

      // Redis comes back: both subscribe again, and invalidations flow again
      await redis.start();
      assert.ok((await heard(SUBSCRIBED, 2)).ok, 'both servers subscribe again');
      for (let i = 0; i < 3; i++) assert.equal((await onB(`/v1/media/${media.id}`)).status, 200);
      assert.equal((await api(a, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'true' } })).status, 200);
      seen = await poll(async () => (await onB(`/v1/media/${media.id}`)).status === 400, { timeout: 1000, interval: 20 });
      assert.ok(seen.ok, 'after the outage, invalidations reach B again');
    } finally {
      for (const s of servers) s.proc.kill('SIGKILL');
      await Promise.all(servers.map((s) => s.exited));
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
